"""The pieces of the doctor's report and of emulator profiles: classification of refusal shapes,
status case, redaction, profile loading and what a profile changes in the emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from scalekit_langchain import AsyncScalekitClient
from scalekit_langchain.doctor._classify import (
    describe_refusal,
    refusal_mode,
    status_case,
    toolkit_handles,
)
from scalekit_langchain.doctor._raw_jsonrpc import parse_body
from scalekit_langchain.doctor._redaction import MASK, Redactor, hash_user, mask_url
from scalekit_langchain.testing import REFUSAL_MODES, ScalekitEmulator
from scalekit_langchain.testing._profile import (
    PROFILE_KEYS,
    default_profile_path,
    load_profile,
)
from tests.integration._emulator_support import ACCEPT, INIT, Rest, mcp_session


def call(status: int = 200, **message: Any) -> dict[str, Any]:
    return {"http_status": status, "framing": "json", "message": {"jsonrpc": "2.0", "id": 1,
                                                                  **message}}


def result(text: str, *, is_error: bool, **extra: Any) -> dict[str, Any]:
    return call(result={"content": [{"type": "text", "text": text}], "isError": is_error,
                        **extra})


SHAPES: list[tuple[bool | None, dict[str, Any] | None, str | None, bool | None]] = [
    (False, None, "hidden", True),
    (True, call(401, error={"code": -32001, "message": "no"}), "http_401", True),
    (True, call(403, error={"code": -32001, "message": "no"}), "http_403", True),
    (True, call(error={"code": -32001, "message": "Authorization required"}), "jsonrpc_error",
     True),
    (True, call(error={"code": -32042, "message": "Authorize first", "data": {"elicitations": []}}),
     "url_elicitation", True),
    (True, result("MY_GMAIL is not connected", is_error=True), "is_error_text", True),
    (True, result("x", is_error=True, _meta={"a/auth": {}}), "marker", True),
    (True, result("Connect your Gmail account: https://a.example/c/1", is_error=False),
     "connect_prompt", True),
    # Shapes the emulator cannot play, and one the toolkit would not notice.
    (True, call(500, error={"code": -32603, "message": "boom"}), None, False),
    (True, result("3 new emails", is_error=False), None, False),
    (True, {"http_status": 200, "framing": "sse", "message": None}, None, False),
    (None, None, None, None),
]


@pytest.mark.parametrize(("listed", "exchange", "mode", "handled"), SHAPES)
def test_refusal_shapes(
    listed: bool | None, exchange: dict[str, Any] | None, mode: str | None, handled: bool | None
) -> None:
    assert refusal_mode(listed, exchange) == mode
    assert toolkit_handles(listed, exchange) is handled
    assert describe_refusal(listed, exchange).startswith("tool ")


def test_every_emulator_mode_has_a_shape() -> None:
    assert {m for _, _, m, _ in SHAPES if m} == set(REFUSAL_MODES)


@pytest.mark.parametrize(
    ("statuses", "case"),
    [
        (["ACTIVE", "PENDING_AUTH"], "upper"),
        (["active", "pending_auth"], "lower"),
        (["ACTIVE", "expired"], "mixed"),
        (["Active"], "mixed"),
        ([], None),
        ([""], None),
    ],
)
def test_status_case(statuses: list[str], case: str | None) -> None:
    assert status_case(statuses) == case


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("https://env.scalekit.dev/mcp/v2/servers/9f8e7d", "https://env.scalekit.dev/mcp/v2/servers/***"),
        ("https://env.scalekit.com/mcp/v3/servers/550e8400-e29b-41d4-a716-446655440000",
         "https://env.scalekit.com/mcp/v3/servers/***"),
        ("https://acme.scalekit.dev/mcp/v3/connections/gmail_work",
         "https://acme.scalekit.dev/mcp/v3/connections/gmail_work"),
        ("https://auth.scalekit.dev/connect/abcDEF", "https://auth.scalekit.dev/connect/***"),
        ("https://env.scalekit.dev/magicLink/x1y2?state=z", "https://env.scalekit.dev/magicLink/***?***"),
        ("https://notion.com/oauth/authorize?client_id=1", "https://notion.com/oauth/***?***"),
        ("http://127.0.0.1:8080/a1b2c3/connect", "http://127.0.0.1:8080/***/***"),
        ("https://user:pw@host.example/x", "https://host.example/x"),
        ("https://env.scalekit.dev/connect/tok).", "https://env.scalekit.dev/connect/***)."),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_redactor_walks_keys_and_values() -> None:
    redactor = Redactor()
    redactor.secret("s3cr3t-value")
    redactor.user("alice@example.com")
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
    value = {
        "alice@example.com": ["token s3cr3t-value", {"t": f"Bearer {jwt}"}],
        "n": 3, "ok": True, "none": None,
        "url": "see https://env.scalekit.dev/mcp/v2/servers/s3cr3t-value now",
    }
    cleaned = redactor.clean(value)
    assert cleaned == {
        hash_user("alice@example.com"): [f"token {MASK}", {"t": f"Bearer {MASK}"}],
        "n": 3, "ok": True, "none": None,
        "url": "see https://env.scalekit.dev/mcp/v2/servers/*** now",
    }
    assert value["n"] == 3 and "alice@example.com" in value  # the input is not changed
    assert hash_user("alice@example.com") == hash_user("alice@example.com") != hash_user("bob")
    assert redactor.clean(cleaned) == cleaned


def test_parse_body_reads_sse_and_json() -> None:
    assert parse_body("text/event-stream", 'event: message\ndata: {"id": 1}\n\n') == (
        "sse", {"id": 1},
    )
    assert parse_body("text/event-stream", "data: {\ndata: }\n\n") == ("sse", {})
    assert parse_body("application/json; charset=utf-8", '{"a": 1}') == ("json", {"a": 1})
    assert parse_body("application/json", "") == ("empty", None)
    assert parse_body("text/html", "<html>") == ("other", None)


# ------------------------------------------------------------------ profiles


def test_default_profile_is_the_emulators_default() -> None:
    data = json.loads(default_profile_path().read_text())
    assert set(PROFILE_KEYS) <= set(data)
    assert data["recorded_from"] is None  # nothing recorded from a live environment yet
    assert set(data["provenance"]) == set(PROFILE_KEYS)
    plain, profiled = ScalekitEmulator(), ScalekitEmulator(profile=default_profile_path())
    for emu in (plain, profiled):
        assert (emu.refusal_mode, emu.answer_mode, emu.status_case, emu.protocol_version) == (
            data["refusal_mode"], data["answer_mode"], data["status_case"],
            data["protocol_version"],
        )


def test_explicit_arguments_win_over_the_profile() -> None:
    profile = {"refusal_mode": "marker", "answer_mode": "json", "status_case": "lower"}
    emu = ScalekitEmulator(profile=profile, refusal_mode="http_403", answer_mode="sse")
    assert (emu.refusal_mode, emu.answer_mode, emu.status_case) == ("http_403", "sse", "lower")


def test_unknown_keys_and_nulls_are_ignored() -> None:
    profile = load_profile({"refusal_mode": None, "observations": {"x": 1}, "summary": []})
    assert profile == load_profile({})


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ({"status_case": "mixed"}, "cannot be played"),
        ({"status_case": "Title"}, "unknown status_case"),
        ({"refusal_mode": "shrug"}, "unknown refusal mode"),
        ({"answer_mode": "xml"}, "unknown answer mode"),
        ({"refusal_mode": 3}, "must be a string"),
        ({"protocol_version": "2099-01-01"}, "cannot serve MCP protocol version"),
        ({"refusal_mode": "hidden", "lists_unauthorized_tools": True}, "disagree"),
        ({"refusal_mode": "marker", "lists_unauthorized_tools": False}, "disagree"),
        ({"lists_unauthorized_tools": False}, "needs refusal_mode 'hidden'"),
        ({"lists_unauthorized_tools": "no"}, "must be a boolean"),
    ],
)
def test_bad_profiles_are_refused(profile: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ScalekitEmulator(profile=profile)


def test_profile_files_must_be_json_objects(tmp_path: Path) -> None:
    (tmp_path / "list.json").write_text("[]")
    (tmp_path / "junk.json").write_text("{nope")
    with pytest.raises(ValueError, match="not a JSON object"):
        load_profile(tmp_path / "list.json")
    with pytest.raises(ValueError, match="is not JSON"):
        load_profile(str(tmp_path / "junk.json"))


async def test_lower_status_case_reaches_every_status_on_the_wire() -> None:
    async with ScalekitEmulator(status_case="lower") as emu:
        rest = Rest(emu)
        config = rest.config("lower-case")
        inst = rest.instance("lower-case", "dee")
        emu.authorize("dee", "MY_GMAIL")
        state = rest.http.post(f"/api/v1/mcp/instances/{inst['id']}:get_auth_state").json()
        accounts = rest.http.post(
            f"/api/v1/mcp/configs/{config['id']}/connected_accounts", json={"identifier": "dee"}
        ).json()
        fetched = rest.http.get(f"/api/v1/mcp/instances/{inst['id']}").json()
        rest.http.close()
        async with AsyncScalekitClient(emu.env_url, emu.client_id, emu.client_secret) as client:
            states = await client.mcp.get_instance_auth_state(inst["id"])
        assert emu.connection_status("dee", "MY_GMAIL") == "ACTIVE"  # state keeps upper case
    assert [c["connected_account_status"] for c in state["connections"]] == [
        "active", "pending_auth",
    ]
    assert [c["connected_account_status"] for c in accounts["connected_accounts"]] == [
        "active", "pending_auth",
    ]
    mappings = fetched["instance"]["config"]["connection_tool_mappings"]
    assert [m["connected_account_status"] for m in mappings] == ["active", "pending_auth"]
    assert [s.is_active for s in states] == [True, False]  # the client compares any case


async def test_profile_protocol_version_caps_negotiation() -> None:
    async with ScalekitEmulator(profile={"protocol_version": "2025-03-26"}) as emu:
        assert emu.protocol_version == "2025-03-26"
        rest = Rest(emu)
        rest.config("capped")
        url = rest.instance("capped", "dee")["url"]
        rest.http.close()
        async with mcp_session(url) as session:  # the SDK asks for its newest revision
            assert [t.name for t in (await session.list_tools()).tools][:1] == [
                "gmail_fetch_mails"
            ]
        async with httpx.AsyncClient(timeout=10) as http:
            answers = []
            for asked in ("2024-11-05", "2025-06-18", "1999-01-01"):
                body = {**INIT, "params": {**INIT["params"], "protocolVersion": asked}}
                r = await http.post(url, json=body, headers=ACCEPT)
                data = next(
                    json.loads(line[5:]) for line in r.text.splitlines()
                    if line.startswith("data:")
                )
                answers.append(data["result"]["protocolVersion"])
    assert answers == ["2024-11-05", "2025-03-26", "2025-03-26"]
