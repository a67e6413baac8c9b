"""Standard Webhooks verification (contract §13) and what a verified delivery forgets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest

from scalekit_langchain import ScalekitConfigurationError, WebhookVerificationError
from scalekit_langchain.webhooks import (
    STATUS_UPDATED,
    WebhookReceiver,
    sign_webhook,
    verify_webhook,
)

KEY = b"0123456789abcdef0123456789abcdef"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
NOW = 1_780_000_000
BODY = json.dumps(
    {"type": STATUS_UPDATED, "data": {"identifier": "ana", "connection_name": "MY_GMAIL",
                                      "status": "EXPIRED", "old_status": "ACTIVE"}}
).encode()


def _by_hand(msg_id: str, stamp: int, body: bytes) -> str:
    """The signature as §13 spells it, computed without the package."""
    signed = f"{msg_id}.{stamp}.".encode() + body
    return base64.b64encode(hmac.new(KEY, signed, hashlib.sha256).digest()).decode()


def _headers(body: bytes = BODY, *, stamp: int = NOW, msg_id: str = "msg_1") -> dict[str, str]:
    return sign_webhook(SECRET, msg_id, stamp, body)


class Forgetter:
    def __init__(self) -> None:
        self.calls: list[str | None] = []

    def forget_auth_state(self, user_identifier: str | None = None) -> None:
        self.calls.append(user_identifier)


def test_signature_is_the_contracts_hmac() -> None:
    headers = _headers()
    assert headers == {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(NOW),
        "webhook-signature": "v1," + _by_hand("msg_1", NOW, BODY),
    }
    event = verify_webhook(SECRET, headers, BODY, now=NOW)
    assert (event.id, event.type, event.user_identifier, event.connection_name) == (
        "msg_1", STATUS_UPDATED, "ana", "MY_GMAIL")
    assert (event.status, event.old_status, event.forgets) == ("EXPIRED", "ACTIVE", "user")


def test_any_matching_v1_entry_passes_and_headers_are_case_insensitive() -> None:
    good = _headers()["webhook-signature"]
    headers = {"Webhook-Id": "msg_1", "WEBHOOK-TIMESTAMP": str(NOW),
               "Webhook-Signature": f"v1,AAAA v1a,{good[3:]} {good}"}
    assert verify_webhook(SECRET, headers, BODY, now=NOW).id == "msg_1"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"webhook-signature": "v1," + _by_hand("msg_1", NOW, BODY + b" ")}, "no valid signature"),
        ({"webhook-signature": "v2," + _by_hand("msg_1", NOW, BODY)}, "no valid signature"),
        ({"webhook-id": "msg_2"}, "no valid signature"),
        ({"webhook-timestamp": str(NOW - 301)}, "more than 300s old"),
        ({"webhook-timestamp": str(NOW + 301)}, "more than 300s ahead"),
        ({"webhook-timestamp": "yesterday"}, "not UNIX seconds"),
        ({"webhook-signature": None}, "webhook-signature header is missing"),
        ({"webhook-id": None}, "webhook-id header is missing"),
    ],
)
def test_forged_stale_and_malformed_deliveries_are_refused(
    change: dict[str, Any], reason: str
) -> None:
    headers: dict[str, Any] = {**_headers(), **change}
    headers = {k: v for k, v in headers.items() if v is not None}
    forgetter = Forgetter()
    receiver = WebhookReceiver(SECRET, forgetter, clock=lambda: NOW)
    with pytest.raises(WebhookVerificationError) as caught:
        receiver.receive(headers, BODY)
    assert reason in caught.value.reason
    assert isinstance(caught.value, ValueError)
    assert SECRET not in str(caught.value) and base64.b64encode(KEY).decode() not in str(caught.value)
    assert forgetter.calls == []
    assert (receiver.accepted, receiver.refused) == (0, 1)


def test_a_timestamp_at_the_edge_of_the_tolerance_passes() -> None:
    for stamp in (NOW - 300, NOW + 300):
        assert verify_webhook(SECRET, _headers(stamp=stamp), BODY, now=NOW).type == STATUS_UPDATED


def test_a_malformed_secret_is_a_configuration_error_before_any_delivery() -> None:
    for bad in ("whsec_", "whsec_***not-base64***", ""):
        with pytest.raises(ScalekitConfigurationError, match="whsec_"):
            WebhookReceiver(bad)


@pytest.mark.parametrize(
    ("payload", "forgets"),
    [
        ({"type": STATUS_UPDATED, "data": {"identifier": "ana"}}, ["ana"]),
        ({"type": STATUS_UPDATED, "identifier": "ana"}, ["ana"]),
        ({"type": STATUS_UPDATED, "data": {"connected_account": {"identifier": "ana"}}}, ["ana"]),
        ({"type": STATUS_UPDATED, "data": {"user_identifier": "ana"}}, ["ana"]),
        ({"type": STATUS_UPDATED, "data": {"status": "EXPIRED"}}, [None]),  # who? everyone
        ({"type": "connected_account.deleted", "data": {"identifier": "ana"}}, [None]),
        ({"data": {"identifier": "ana"}}, [None]),  # no type: unclear
        (["not", "an", "object"], [None]),
        ({"type": "organization.created", "data": {"identifier": "ana"}}, []),
    ],
)
def test_what_a_verified_delivery_forgets(payload: Any, forgets: list[str | None]) -> None:
    body = json.dumps(payload).encode()
    first, second = Forgetter(), Forgetter()
    receiver = WebhookReceiver(SECRET, first, second, clock=lambda: NOW)
    receiver.receive(_headers(body), body)
    assert first.calls == forgets and second.calls == forgets
    assert (receiver.accepted, receiver.refused) == (1, 0)


def test_a_signed_body_that_is_not_json_forgets_everyone() -> None:
    forgetter = Forgetter()
    WebhookReceiver(SECRET, forgetter, clock=lambda: NOW).receive(_headers(b"\xff{"), b"\xff{")
    assert forgetter.calls == [None]


def test_the_receiver_never_shows_its_secret() -> None:
    receiver = WebhookReceiver(SECRET)
    assert SECRET not in repr(receiver) and SECRET not in str(vars(receiver))


def test_a_closed_toolkit_forgets_quietly() -> None:
    from scalekit_langchain import ScalekitMCPToolkit

    toolkit = ScalekitMCPToolkit(url="https://mcp.example.test/x", user_identifier="ana")
    toolkit.forget_auth_state("ana")  # nothing known yet: nothing to forget, no request
    toolkit.close()
    toolkit.forget_auth_state()  # closed: a webhook for it changes nothing and raises nothing
