"""Scalekit's signed webhooks: forget stale auth state the moment an account changes.

Scalekit signs its webhooks the Standard Webhooks way (contract §13): three headers,
``webhook-id``, ``webhook-timestamp`` (UNIX seconds) and ``webhook-signature`` (space-separated
``v1,<base64>`` entries); the secret reads ``whsec_<base64 key>``; a signature is
``base64(HMAC-SHA256(key, f"{id}.{timestamp}.{raw body}"))``; a timestamp more than five
minutes away from now is refused. :func:`verify_webhook` checks exactly that and raises
:class:`~scalekit_langchain.errors.WebhookVerificationError` for a forged, stale or malformed
delivery.

The event that matters here is ``connected_account.status_updated`` (an account left or reached
ACTIVE: revoked, refresh token dead, re-authorized). Its payload's field names are not
published, so they are read tolerantly (the user's identifier, the connection and the status,
under ``data`` or at the top). When the user is named, what is cached for that user is
forgotten; when the payload is unclear, everything is (a stale ACTIVE is worse than one more
auth-state request). Other event types change nothing.

:class:`WebhookReceiver` does both steps for toolkits or clients (forgetting in a client
forgets for every toolkit built on it), and :meth:`WebhookReceiver.route` is a Starlette route
for a Starlette or FastAPI app (Starlette is imported only there)::

    receiver = WebhookReceiver(os.environ["SCALEKIT_WEBHOOK_SECRET"], client)
    app = Starlette(routes=[receiver.route("/webhooks/scalekit")])
    # FastAPI: app.router.routes.append(receiver.route("/webhooks/scalekit"))

A delivery retried by Scalekit (same ``webhook-id``) forgets again, which is harmless.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import SecretStr

from scalekit_langchain.errors import ScalekitConfigurationError, WebhookVerificationError

if TYPE_CHECKING:
    from starlette.routing import Route

__all__ = [
    "SIGNATURE_TOLERANCE",
    "STATUS_UPDATED",
    "ForgetsAuthState",
    "WebhookEvent",
    "WebhookReceiver",
    "sign_webhook",
    "verify_webhook",
]

logger = logging.getLogger("scalekit_langchain")

#: Seconds a delivery's timestamp may be away from now (either way), as Scalekit's SDKs allow.
SIGNATURE_TOLERANCE = 300.0
#: The event type that says a connected account's status changed.
STATUS_UPDATED = "connected_account.status_updated"
_SECRET_PREFIX = "whsec_"

_IDENTIFIER_KEYS = ("identifier", "user_identifier", "connected_account_identifier")
_CONNECTION_KEYS = ("connection_name", "connection", "connector")
_STATUS_KEYS = ("status", "connected_account_status")
_OLD_STATUS_KEYS = ("old_status", "previous_status")


def _key(secret: str | SecretStr) -> bytes:
    raw = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    encoded = raw[len(_SECRET_PREFIX) :] if raw.startswith(_SECRET_PREFIX) else raw
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not key:
        raise ScalekitConfigurationError(
            "The webhook secret must read 'whsec_<base64 key>' (as Scalekit's dashboard shows it)"
        )
    return key


def _signature(key: bytes, msg_id: str, timestamp: str, body: bytes) -> str:
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def sign_webhook(
    secret: str | SecretStr, msg_id: str, timestamp: int, body: bytes | str
) -> dict[str, str]:
    """The three ``webhook-*`` headers of a delivery of ``body``, signed with ``secret``
    (what Scalekit sends; the emulator uses this, and so can your tests).

    Raises:
        ScalekitConfigurationError: ``secret`` is not ``whsec_<base64 key>``.
    """
    data = body.encode() if isinstance(body, str) else body
    stamp = str(int(timestamp))
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + _signature(_key(secret), msg_id, stamp, data),
    }


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return str(value).strip()
    raise WebhookVerificationError(f"the {name} header is missing")


def _first(containers: list[Mapping[str, Any]], keys: tuple[str, ...]) -> str | None:
    for container in containers:
        for key in keys:
            value = container.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


@dataclass(frozen=True)
class WebhookEvent:
    """A verified delivery, read tolerantly.

    Attributes:
        id: The delivery's ``webhook-id``.
        type: The event type (``connected_account.status_updated``...), ``None`` if unreadable.
        user_identifier: The user the event is about, when the payload names one.
        connection_name: The connection, when named.
        status: The new status, when named.
        old_status: The previous status, when named.
        payload: The parsed JSON body (``None`` if it was not JSON).
    """

    id: str
    type: str | None
    user_identifier: str | None = None
    connection_name: str | None = None
    status: str | None = None
    old_status: str | None = None
    payload: Any = field(default=None, repr=False)

    @property
    def forgets(self) -> Literal["user", "everyone", "nothing"]:
        """What a receiver forgets for it: the named user's state for a status update,
        everyone's when the event is about accounts (or unreadable) but names nobody, and
        nothing for other events."""
        if self.type is not None and not self.type.startswith("connected_account."):
            return "nothing"
        if self.type == STATUS_UPDATED and self.user_identifier:
            return "user"
        return "everyone"


def _event(msg_id: str, body: bytes) -> WebhookEvent:
    try:
        payload = json.loads(body)
    except ValueError:
        return WebhookEvent(msg_id, None)
    if not isinstance(payload, dict):
        return WebhookEvent(msg_id, None, payload=payload)
    kind = payload.get("type") or payload.get("event_type")
    containers = [
        c
        for c in (payload.get("data"), payload.get("object"), payload)
        if isinstance(c, Mapping)
    ]
    nested = [c.get("connected_account") for c in containers]
    containers += [c for c in nested if isinstance(c, Mapping)]
    return WebhookEvent(
        id=msg_id,
        type=kind if isinstance(kind, str) and kind else None,
        user_identifier=_first(containers, _IDENTIFIER_KEYS),
        connection_name=_first(containers, _CONNECTION_KEYS),
        status=_first(containers, _STATUS_KEYS),
        old_status=_first(containers, _OLD_STATUS_KEYS),
        payload=payload,
    )


def verify_webhook(
    secret: str | SecretStr,
    headers: Mapping[str, str],
    body: bytes | str,
    *,
    tolerance: float = SIGNATURE_TOLERANCE,
    now: float | None = None,
) -> WebhookEvent:
    """Check a delivery's Standard Webhooks signature and timestamp; read its event.

    Args:
        secret: The endpoint's signing secret, ``whsec_<base64 key>``.
        headers: The request's headers (any case).
        body: The raw request body, exactly as received (not re-serialized JSON).
        tolerance: Seconds the timestamp may be away from ``now``, either way.
        now: UNIX seconds (default: the wall clock).

    Returns:
        The event.

    Raises:
        WebhookVerificationError: A header is missing or malformed, the timestamp is too old
            or too new, or no ``v1`` signature matches.
        ScalekitConfigurationError: ``secret`` is not ``whsec_<base64 key>``.
    """
    key = _key(secret)
    data = body.encode() if isinstance(body, str) else bytes(body)
    msg_id = _header(headers, "webhook-id")
    stamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    try:
        sent_at = int(stamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not UNIX seconds") from None
    current = time.time() if now is None else now
    if current - sent_at > tolerance:
        raise WebhookVerificationError(f"the timestamp is more than {tolerance:g}s old")
    if sent_at - current > tolerance:
        raise WebhookVerificationError(f"the timestamp is more than {tolerance:g}s ahead")
    expected = _signature(key, msg_id, stamp, data).encode()
    for entry in signatures.split():
        version, _, value = entry.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected):
            return _event(msg_id, data)
    raise WebhookVerificationError("no valid signature")


class ForgetsAuthState(Protocol):
    """Anything that can forget last-seen connection states: a
    :class:`~scalekit_langchain.toolkit.ScalekitMCPToolkit` or a Scalekit client (for every
    toolkit built on it)."""

    def forget_auth_state(self, user_identifier: str | None = None) -> None:
        """Forget ``user_identifier``'s states (everyone's when ``None``)."""


class WebhookReceiver:
    """Verifies Scalekit's webhook deliveries and forgets the auth state they make stale.

    Args:
        secret: The endpoint's signing secret, ``whsec_<base64 key>`` (kept as a ``SecretStr``).
        *targets: Toolkits or clients whose cached states to forget.
        tolerance: Seconds a delivery's timestamp may be away from now.
        clock: UNIX seconds now (default ``time.time``; tests pass their own).

    Raises:
        ScalekitConfigurationError: ``secret`` is not ``whsec_<base64 key>``.
    """

    def __init__(
        self,
        secret: str | SecretStr,
        *targets: ForgetsAuthState,
        tolerance: float = SIGNATURE_TOLERANCE,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._secret = secret if isinstance(secret, SecretStr) else SecretStr(secret)
        del secret
        _key(self._secret)  # a malformed secret fails now, not at the first delivery
        self.targets = list(targets)
        self.tolerance = tolerance
        self._clock = clock or time.time
        #: Deliveries accepted and refused so far (for tests and diagnostics).
        self.accepted = 0
        self.refused = 0

    def __repr__(self) -> str:
        return f"WebhookReceiver(targets={len(self.targets)}, accepted={self.accepted})"

    def receive(self, headers: Mapping[str, str], body: bytes | str) -> WebhookEvent:
        """Verify a delivery and forget what it makes stale (see :attr:`WebhookEvent.forgets`).

        Raises:
            WebhookVerificationError: Forged, stale or malformed; nothing was forgotten.
        """
        try:
            event = verify_webhook(
                self._secret, headers, body, tolerance=self.tolerance, now=self._clock()
            )
        except WebhookVerificationError as exc:
            self.refused += 1
            logger.warning("Refused a Scalekit webhook delivery: %s", exc.reason)
            raise
        self.accepted += 1
        forgets = event.forgets
        if forgets != "nothing":
            user = event.user_identifier if forgets == "user" else None
            for target in self.targets:
                target.forget_auth_state(user)
        logger.info(
            "Scalekit webhook %s (%s): forgot the auth state of %s",
            event.id,
            event.type or "unreadable",
            {"user": repr(event.user_identifier), "everyone": "everyone"}.get(forgets, "nobody"),
        )
        return event

    def route(self, path: str = "/webhooks/scalekit") -> Route:
        """A Starlette ``Route`` (``POST path``) for a Starlette or FastAPI app.

        It answers 204 to a verified delivery and 400 with ``{"error": reason}`` to a refused
        one (Scalekit then retries; a forged delivery stays refused).

        Raises:
            ImportError: Starlette is not installed (``pip install starlette``).
        """
        from starlette.requests import Request
        from starlette.responses import JSONResponse, Response
        from starlette.routing import Route

        async def endpoint(request: Request) -> Response:
            body = await request.body()
            try:
                self.receive(request.headers, body)
            except WebhookVerificationError as exc:
                return JSONResponse({"error": exc.reason}, status_code=400)
            return Response(status_code=204)

        return Route(path, endpoint, methods=["POST"])
