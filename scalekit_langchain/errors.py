"""Errors raised by scalekit-langchain.

Every error this package raises on purpose derives from :class:`ScalekitError`::

    ScalekitError
    ├── ScalekitConfigurationError (also ValueError)  missing or malformed credentials / env URL
    │   └── ConfigDriftError                         an MCP config's mappings differ from the code's
    ├── ScalekitConnectionError                      transport failure: refused, reset, DNS, TLS
    │   └── ScalekitTimeoutError                     the request or the MCP call timed out
    ├── ScalekitProtocolError                        the server answered something we cannot read
    ├── ScalekitAPIError                             Scalekit answered with an error status
    │   ├── BadRequestError            400
    │   ├── AuthenticationError        401
    │   ├── PermissionDeniedError      403
    │   ├── NotFoundError              404
    │   ├── ConflictError              409
    │   ├── RateLimitError             429 (``retry_after``)
    │   └── ServerError                5xx
    ├── AuthorizationRequired                        a user still has to authorize connections
    ├── ElicitationRequired                          the server needs the user at a URL first
    ├── ToolCallRejected                             the MCP server refused a call; it did not run
    ├── ToolCallOutcomeUnknown (also RuntimeError)   the connection broke while a call was in flight
    └── WebhookVerificationError (also ValueError)   a webhook delivery is forged, stale or garbled

``ToolCallOutcomeUnknown`` is a ``RuntimeError`` so that LangGraph's default ``RetryPolicy``
(which never retries ``RuntimeError``) does not send a call again whose outcome is unknown.

Input we can check before sending (names, ids, page sizes, token lifetimes) raises a plain
:class:`ValueError` naming the field, and nothing is sent.

Messages never contain the client secret, access or session tokens, or the secret part of an
instance URL.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scalekit_langchain.models import ConnectionAuthState

__all__ = [
    "AUTH_LINK_LIFETIME",
    "AuthenticationError",
    "AuthorizationRequired",
    "BadRequestError",
    "ConfigDriftError",
    "ConflictError",
    "ElicitationRequired",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ScalekitAPIError",
    "ScalekitConfigurationError",
    "ScalekitConnectionError",
    "ScalekitError",
    "ScalekitProtocolError",
    "ScalekitTimeoutError",
    "ServerError",
    "ToolCallOutcomeUnknown",
    "ToolCallRejected",
    "WebhookVerificationError",
]


#: Seconds an authentication link lives: "generated auth links are valid for 1 minute only"
#: (Scalekit's Python SDK). Mint links when the person clicks, never only when a run pauses.
AUTH_LINK_LIFETIME = 60.0


def _rfc3339_utc(epoch: float) -> str:
    """UNIX seconds as an RFC 3339 UTC timestamp with a ``Z`` suffix (second precision)."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ScalekitError(Exception):
    """Root of every error raised by scalekit-langchain."""


class ScalekitConfigurationError(ScalekitError, ValueError):
    """Credentials or the environment URL are missing or malformed."""


class ConfigDriftError(ScalekitConfigurationError):
    """An existing MCP config's ``connection_tool_mappings`` differ from the ones the code
    declares; it was not used (nor changed).

    Attributes:
        config_name: The config.
        differences: One line per connection that differs.
    """

    def __init__(self, config_name: str, differences: Sequence[str]) -> None:
        self.config_name = config_name
        self.differences = list(differences)
        super().__init__(
            f"MCP config {config_name!r} exists with other connection_tool_mappings than the "
            f"code declares: {'; '.join(self.differences)}. Either pass sync_config=True to "
            "update the config to the declared mappings, or use the config as it is: declare "
            "its mappings (or none) here, or pick another config_name."
        )


class ScalekitConnectionError(ScalekitError):
    """The request could not be completed at the transport level (refused, reset, DNS...)."""


class ScalekitTimeoutError(ScalekitConnectionError, TimeoutError):
    """A request to Scalekit or an MCP call did not complete within its timeout."""


class ScalekitProtocolError(ScalekitError):
    """The server answered, but not in a form we can read (not JSON, wrong shape...)."""


class ScalekitAPIError(ScalekitError):
    """Scalekit answered a REST call with an error status.

    Attributes:
        status_code: The HTTP status.
        grpc_code: The gRPC status number from the error body, when present.
        message: The server's message.
        error_code: ``ErrorInfo.error_code`` from the body's details (``"RATE_LIMITED"``...).
        request_id: The server's request id, from the body or the ``x-request-id`` header.
        method: The HTTP method of the failed request.
        path: The request path (no query string, never a secret).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        grpc_code: int | None = None,
        error_code: str | None = None,
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.grpc_code = grpc_code
        self.message = message
        self.error_code = error_code
        self.request_id = request_id
        self.method = method
        self.path = path
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f" ({self.method} {self.path})" if self.method and self.path else ""
        parts = [f"HTTP {self.status_code}{where}: {self.message}"]
        if self.error_code:
            parts.append(f"error_code={self.error_code}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return "; ".join(parts)


class BadRequestError(ScalekitAPIError):
    """400: the request was invalid (validation error, unknown connection...)."""


class AuthenticationError(ScalekitAPIError):
    """401: the client credentials or the access token were refused."""


class PermissionDeniedError(ScalekitAPIError):
    """403: the credentials are valid but lack the permission."""


class NotFoundError(ScalekitAPIError):
    """404: the config, instance or connection does not exist."""


class ConflictError(ScalekitAPIError):
    """409: the resource already exists (for example a config with the same name)."""


class RateLimitError(ScalekitAPIError):
    """429: Scalekit rate-limited the request.

    Attributes:
        retry_after: Seconds the server asked us to wait, when it said.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class ServerError(ScalekitAPIError):
    """5xx: Scalekit failed (after the retries that were safe to make)."""


_STATUS_TO_ERROR: dict[int, type[ScalekitAPIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
}


def error_class_for_status(status_code: int) -> type[ScalekitAPIError]:
    """Return the :class:`ScalekitAPIError` subclass for an HTTP status."""
    if status_code in _STATUS_TO_ERROR:
        return _STATUS_TO_ERROR[status_code]
    if status_code >= 500:
        return ServerError
    return ScalekitAPIError


class AuthorizationRequired(ScalekitError):
    """A user has connections that are not authorized yet.

    The links are meant for the user (show them in your UI); never hand them to the model.

    Attributes:
        user_identifier: The user the connections belong to.
        connections: The auth state of every connection that is not ``ACTIVE``.
        links_minted_at: When the links were read (UNIX seconds); they live about
            :data:`AUTH_LINK_LIFETIME` seconds.
    """

    def __init__(
        self,
        connections: Sequence[ConnectionAuthState],
        *,
        user_identifier: str | None = None,
        message: str | None = None,
    ) -> None:
        self.connections = list(connections)
        self.user_identifier = user_identifier
        #: When the links were (about) minted: UNIX seconds.
        self.links_minted_at = time.time()
        names = ", ".join(
            f"{c.connection_name} ({c.provider or 'unknown provider'}: {c.status or 'NO_ACCOUNT'})"
            for c in self.connections
        )
        who = f" for user {user_identifier!r}" if user_identifier else ""
        super().__init__(
            message
            or f"Authorization required{who}: {names or 'unknown connection'}. "
            "Send the user the authentication links in `.connections`."
        )

    @property
    def links(self) -> dict[str, str]:
        """Connection name → authentication link, for connections that have one."""
        return {
            c.connection_name: c.authentication_link
            for c in self.connections
            if c.authentication_link
        }

    def to_payload(self) -> dict[str, Any]:
        """A JSON-serializable description, as used in LangGraph interrupts.

        Each connection carries what an app needs to ask for a fresh link when the person
        clicks (``connection_name``, ``user_identifier``: see
        :meth:`~scalekit_langchain.toolkit.ScalekitMCPToolkit.aauthorization_link`), and the
        link minted when the error was made with ``link_expires_at`` (RFC 3339, UTC): an
        estimate, since Scalekit sends no expiry and documents links as valid for one minute.
        """
        expires = _rfc3339_utc(self.links_minted_at + AUTH_LINK_LIFETIME)
        return {
            "type": "scalekit_authorization",
            "user_identifier": self.user_identifier,
            "connections": [
                {
                    **c.to_payload(),
                    "user_identifier": self.user_identifier,
                    "link_expires_at": expires if c.authentication_link else None,
                }
                for c in self.connections
            ],
        }


class ElicitationRequired(ScalekitError):
    """An MCP server needs the user to act at a URL before it runs a tool (MCP's URL-mode
    elicitation, JSON-RPC error -32042), and the tool's connections are ACTIVE.

    Inside a LangGraph run this becomes an interrupt with :meth:`to_payload` (the shape
    ``langchain.mcp`` uses), resumed with ``{"responses": {key: {"action": "accept"}}}``; the
    URLs go to the user, never to the model.

    In the 2026-07-28 era the server asks with an ``input_required`` result instead (SEP-2322);
    the same pause follows, and the resumed call carries the user's answers and the server's
    opaque ``request_state``.

    Attributes:
        tool_name: The MCP tool that was called (it did not run).
        requests: ``[{"key", "message", "mode": "url", "url"}]`` (or ``"mode": "form"`` with
            ``requestedSchema``).
        request_state: The server's opaque state to send back with the answers (2026-07-28),
            else ``None``.
    """

    def __init__(
        self,
        tool_name: str,
        requests: Sequence[dict[str, Any]],
        *,
        request_state: str | None = None,
    ) -> None:
        self.tool_name = tool_name
        self.requests = [dict(r) for r in requests]
        self.request_state = request_state
        super().__init__(
            f"The MCP server needs the user to act before {tool_name!r} can run: "
            + "; ".join(str(r.get("message") or "open the link") for r in self.requests)
        )

    def to_payload(self) -> dict[str, Any]:
        """A JSON-serializable description, as used in LangGraph interrupts."""
        return {"type": "mcp_elicitation", "tool_name": self.tool_name, "requests": self.requests}


class ToolCallRejected(ScalekitError):
    """The MCP server refused a tool call before running it.

    Raised for an HTTP 401 or 403 answer to ``tools/call`` (after one reconnect with fresh
    credentials) and for a JSON-RPC error answer. The tool did not run. The toolkit turns it into
    :class:`AuthorizationRequired` when the tool's connection is not ACTIVE, into a
    model-fixable error for JSON-RPC errors, and into :class:`AuthenticationError` /
    :class:`PermissionDeniedError` otherwise.

    Attributes:
        tool_name: The MCP tool that was called.
        status_code: The HTTP status (401/403), or ``None`` for a JSON-RPC error.
        code: The JSON-RPC error code, or ``None`` for an HTTP refusal.
        detail: The server's message (never holds a credential).
        data: The JSON-RPC error's ``data``, when it had one (not part of the message).
    """

    def __init__(
        self,
        tool_name: str,
        *,
        status_code: int | None = None,
        code: int | None = None,
        detail: str | None = None,
        data: Any = None,
    ) -> None:
        self.tool_name = tool_name
        self.status_code = status_code
        self.code = code
        self.detail = detail
        self.data = data
        how = f"HTTP {status_code}" if status_code is not None else f"JSON-RPC error {code}"
        extra = f": {detail}" if detail else ""
        super().__init__(f"The MCP server refused {tool_name!r} ({how}){extra}; it did not run.")


class ToolCallOutcomeUnknown(ScalekitError, RuntimeError):
    """The MCP connection broke after a tool call was sent and before its result arrived.

    The tool may or may not have run on the server. It is deliberately *not* re-sent (a tool may
    send an email); check the side effect before trying again.

    Attributes:
        tool_name: The MCP tool that was called.
    """

    def __init__(self, tool_name: str, detail: str | None = None) -> None:
        self.tool_name = tool_name
        extra = f" ({detail})" if detail else ""
        super().__init__(
            f"The connection to the MCP server broke while {tool_name!r} was running{extra}; "
            "it may or may not have completed and was not retried. Check before calling it again."
        )


class WebhookVerificationError(ScalekitError, ValueError):
    """A webhook delivery was refused: its signature does not match, its timestamp is too far
    from now, or a ``webhook-*`` header is missing or malformed (see
    :mod:`scalekit_langchain.webhooks`). Nothing was forgotten or changed.

    Attributes:
        reason: A short, secret-free description (``"no valid signature"``, ...).
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"Webhook delivery refused: {reason}")
