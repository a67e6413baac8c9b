"""The emulator's outgoing webhooks: a signed ``connected_account.status_updated`` delivery to
a configured URL whenever an account's status changes (authorized, expired, disconnected).

Signing is the contract's (§13, Standard Webhooks, through
:func:`scalekit_langchain.webhooks.sign_webhook`). The payload's field names are not published;
the emulator's reading, which clients must not depend on beyond ``data.status`` and
``data.old_status`` (documented by Scalekit)::

    {"id": "evt_…", "type": "connected_account.status_updated", "occurred_at": "<RFC 3339>",
     "data": {"id": "ca_…", "identifier": "<user>", "connection_name": "MY_GMAIL",
              "provider": "gmail", "status": "EXPIRED", "old_status": "ACTIVE"}}

Deliveries leave from a worker thread, one at a time, in order, never from the server's event
loop; each is attempted once (a test reads :attr:`WebhookSender.deliveries`).
"""

from __future__ import annotations

import base64
import json
import queue
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from scalekit_langchain.testing._accounts import random_digits, rfc3339
from scalekit_langchain.webhooks import STATUS_UPDATED, sign_webhook

__all__ = ["Delivery", "WebhookSender", "new_webhook_secret"]


def new_webhook_secret() -> str:
    """A random signing secret in Scalekit's form, ``whsec_<base64 of 24 bytes>``."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@dataclass(frozen=True)
class Delivery:
    """One delivery attempt: the event and the receiver's HTTP status (``None``: not reached)."""

    event_id: str
    user_identifier: str
    connection_name: str
    status: str
    http_status: int | None


class WebhookSender:
    """Sends signed status-change webhooks to :attr:`url` (none while it is ``None``).

    Args:
        url: Where to POST deliveries; ``None`` sends nothing.
        secret: The signing secret (``whsec_…``); random when omitted.
        clock: UNIX seconds now (the emulator's clock).
        wire_status: How a status is spelled on the wire (the emulator's ``status_case``).
    """

    def __init__(
        self,
        url: str | None,
        secret: str | None,
        *,
        clock: Callable[[], float],
        wire_status: Callable[[str], str],
    ) -> None:
        self.url = url
        self.secret = secret or new_webhook_secret()
        sign_webhook(self.secret, "check", 0, b"")  # a malformed secret fails at construction
        self._clock = clock
        self._wire_status = wire_status
        self._queue: queue.Queue[tuple[dict[str, Any], Delivery]] = queue.Queue()
        self._lock = threading.Condition()
        self._worker: threading.Thread | None = None
        self._unsent = 0
        #: Every delivery attempted so far, in order.
        self.deliveries: list[Delivery] = []

    def status_changed(
        self,
        user: str,
        connection_name: str,
        provider: str,
        account_id: str,
        old: str | None,
        new: str,
    ) -> None:
        """Queue a delivery for a status change (nothing when no URL is set); never blocks."""
        if not self.url or old == new:
            return
        event_id = "evt_" + random_digits(18)
        payload = {
            "id": event_id,
            "type": STATUS_UPDATED,
            "occurred_at": rfc3339(self._clock()),
            "data": {
                "id": account_id,
                "identifier": user,
                "connection_name": connection_name,
                "provider": provider,
                "status": self._wire_status(new),
                "old_status": self._wire_status(old) if old else "",
            },
        }
        record = Delivery(event_id, user, connection_name, new, None)
        with self._lock:
            self._unsent += 1
            self._queue.put((payload, record))
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._drain, name="scalekit-emulator-webhooks", daemon=True
                )
                self._worker.start()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued delivery was attempted; whether they all were in time."""
        with self._lock:
            return self._lock.wait_for(lambda: self._unsent == 0, timeout)

    def _drain(self) -> None:
        with httpx.Client(timeout=5.0) as http:
            while True:
                with self._lock:
                    try:
                        payload, record = self._queue.get_nowait()
                    except queue.Empty:
                        self._worker = None
                        return
                    url = self.url
                status = self._send(http, url, payload) if url else None
                with self._lock:
                    self.deliveries.append(
                        Delivery(
                            record.event_id,
                            record.user_identifier,
                            record.connection_name,
                            record.status,
                            status,
                        )
                    )
                    self._unsent -= 1
                    self._lock.notify_all()

    def _send(self, http: httpx.Client, url: str, payload: dict[str, Any]) -> int | None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = sign_webhook(self.secret, str(payload["id"]), int(self._clock()), body)
        try:
            response = http.post(
                url, content=body, headers={**headers, "content-type": "application/json"}
            )
        except httpx.HTTPError:
            return None
        return response.status_code
