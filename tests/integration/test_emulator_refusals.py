"""Refusal modes: how the emulator's MCP servers refuse a tool of a connection that is not ACTIVE.

For every mode, over real loopback HTTP: the wire shape is exactly the documented one, the tool
did not run (the user's store is unchanged, the request was counted), and once the user is
authorized the very same call runs exactly once.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from scalekit_langchain._mcp_stack import MCP_MAJOR

if MCP_MAJOR >= 2:  # pragma: no cover - the mcp 1.x CI run covers this file
    pytest.skip(
        "drives the emulator with the mcp 1.x client API directly; on mcp 2 the emulator is "
        "exercised through the toolkit tests",
        allow_module_level=True,
    )

from mcp.shared.exceptions import McpError

from scalekit_langchain.testing import REFUSAL_MODES, ScalekitEmulator
from tests.integration._emulator_support import Rest, body_message, mcp_session, raw_init, rpc

USER = "alice@example.com"
SEND = {"to": "bob@example.com", "subject": "Lunch", "body": "Noon?"}
NOT_CONNECTED = "MY_GMAIL is not connected for this user"
AUTH_ERROR = {"code": -32001, "message": f"Authorization required: {NOT_CONNECTED}"}
SDK_MODES = ("is_error_text", "marker", "jsonrpc_error", "connect_prompt", "hidden")
HTTP_MODES = ("http_401", "http_403")


@pytest.fixture(autouse=True)
def _default_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests pin the default mode, whatever SCALEKIT_EMULATOR_REFUSAL_MODE says."""
    monkeypatch.delenv("SCALEKIT_EMULATOR_REFUSAL_MODE", raising=False)


@pytest.fixture
def emu() -> Iterator[ScalekitEmulator]:
    with ScalekitEmulator() as e:
        yield e


@pytest.fixture
def rest(emu: ScalekitEmulator) -> Iterator[Rest]:
    r = Rest(emu)
    yield r
    r.http.close()


def snapshot(emu: ScalekitEmulator) -> dict[str, Any]:
    data = emu.user_data(USER)
    with data.lock:
        return copy.deepcopy({"inbox": data.inbox, "sent": data.sent, "drafts": data.drafts,
                              "events": data.events, "slack": data.slack_messages})


def instance_url(rest: Rest) -> str:
    rest.config("assistant")
    return str(rest.instance("assistant", USER)["url"])


def expected_result(mode: str, link: str = "") -> dict[str, Any] | None:
    """The exact ``tools/call`` result of a refused gmail_send_message; None for error modes."""
    def text(value: str, is_error: bool = True) -> dict[str, Any]:
        return {"content": [{"type": "text", "text": value}], "isError": is_error}

    if mode == "is_error_text":
        return text(f"{NOT_CONNECTED}; ask them to authorize it, then try again.")
    if mode == "marker":
        return {**text("The connection MY_GMAIL (gmail) is not authorized for this user (status"
                       " PENDING_AUTH). Ask the user to authorize MY_GMAIL and try again."),
                "_meta": {"scalekit/authorization_required": {
                    "connection_name": "MY_GMAIL", "provider": "GMAIL",
                    "status": "PENDING_AUTH"}}}
    if mode == "connect_prompt":
        return text(f"Connect your Gmail account to continue: {link}", is_error=False)
    if mode == "hidden":
        return text("Unknown tool: 'gmail_send_message' is not available on this MCP server.")
    return None


def test_modes_constant_default_and_validation() -> None:
    assert REFUSAL_MODES == ("is_error_text", "marker", "jsonrpc_error", "http_401", "http_403",
                             "connect_prompt", "hidden", "url_elicitation")
    emu = ScalekitEmulator()
    assert emu.refusal_mode == "is_error_text"
    emu.set_refusal_mode("hidden")
    assert emu.refusal_mode == "hidden"
    with pytest.raises(ValueError, match="refusal mode"):
        emu.set_refusal_mode("teapot")
    with pytest.raises(ValueError, match="refusal mode"):
        ScalekitEmulator(refusal_mode="teapot")  # type: ignore[arg-type]
    assert emu.refusal_mode == "hidden"


def test_mode_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCALEKIT_EMULATOR_REFUSAL_MODE", "jsonrpc_error")
    assert ScalekitEmulator().refusal_mode == "jsonrpc_error"
    assert ScalekitEmulator(refusal_mode="marker").refusal_mode == "marker"


@pytest.mark.parametrize("answer_mode", ["sse", "json"])
@pytest.mark.parametrize("mode", REFUSAL_MODES)
async def test_wire_shape(mode: str, answer_mode: str) -> None:
    with ScalekitEmulator(refusal_mode=mode, answer_mode=answer_mode) as emu:  # type: ignore[arg-type]
        rest = Rest(emu)
        try:
            url = instance_url(rest)
            before = snapshot(emu)
            async with httpx.AsyncClient(timeout=10) as http:
                sid = await raw_init(http, url)
                emu.reset_counts()
                r = await rpc(http, url, sid, "tools/call",
                              {"name": "gmail_send_message", "arguments": SEND}, request_id=41)
                assert snapshot(emu) == before
                assert emu.counts() == {"mcp.tools/call": 1}
                if mode in HTTP_MODES:
                    status, reason = (401, "invalid_token") if mode == "http_401" else (
                        403, "insufficient_scope")
                    assert r.status_code == status
                    assert r.headers["www-authenticate"] == (
                        f'Bearer error="{reason}", error_description="{NOT_CONNECTED}"')
                    assert r.headers["content-type"] == "application/json"
                    assert r.json() == {"jsonrpc": "2.0", "id": 41, "error": AUTH_ERROR}
                    # The session survives the refusal.
                    assert (await rpc(http, url, sid, "ping")).status_code == 200
                else:
                    assert r.status_code == 200
                    wanted = "text/event-stream" if answer_mode == "sse" else "application/json"
                    assert r.headers["content-type"] == wanted
                    message = body_message(r)
                    if mode == "jsonrpc_error":
                        assert message == {"jsonrpc": "2.0", "id": 41, "error": AUTH_ERROR}
                    elif mode == "url_elicitation":
                        error = message["error"]
                        assert (error["code"], error["message"]) == (
                            -32042, f"Authorization required: {NOT_CONNECTED}")
                        (elicitation,) = error["data"]["elicitations"]
                        assert elicitation["mode"] == "url" and elicitation["elicitationId"]
                        assert elicitation["message"] == "Authorize MY_GMAIL to continue"
                        link = elicitation["url"]
                        assert re.fullmatch(rf"{emu.env_url}/connect/[\w-]+", link), link
                    else:
                        link = ""
                        if mode == "connect_prompt":
                            text = message["result"]["content"][0]["text"]
                            link = text.rsplit(" ", 1)[-1]
                            assert re.fullmatch(rf"{emu.env_url}/connect/[\w-]+", link), link
                        assert message == {"jsonrpc": "2.0", "id": 41,
                                           "result": expected_result(mode, link)}
                emu.authorize(USER, "MY_GMAIL")
                r = await rpc(http, url, sid, "tools/call",
                              {"name": "gmail_send_message", "arguments": SEND}, request_id=42)
                assert r.status_code == 200
                result = body_message(r)["result"]
                assert result["isError"] is False and result["structuredContent"]["id"]
            assert [m["subject"] for m in emu.user_data(USER).sent] == ["Lunch"]
            assert emu.count("mcp.tools/call") == 2
        finally:
            rest.http.close()


@pytest.mark.parametrize("mode", SDK_MODES)
async def test_sdk_client_sees_refusal_then_runs_once(
    emu: ScalekitEmulator, rest: Rest, mode: str
) -> None:
    emu.set_refusal_mode(mode)
    url = instance_url(rest)
    emu.authorize(USER, "MY_CALENDAR")
    before = snapshot(emu)
    async with mcp_session(url) as session:
        listed = [t.name for t in (await session.list_tools()).tools]
        assert ("gmail_send_message" in listed) == (mode != "hidden")
        assert "googlecalendar_create_event" in listed
        emu.reset_counts()
        if mode == "jsonrpc_error":
            with pytest.raises(McpError) as info:
                await session.call_tool("gmail_send_message", SEND)
            assert (info.value.error.code, info.value.error.message) == (
                AUTH_ERROR["code"], AUTH_ERROR["message"])
        else:
            result = await session.call_tool("gmail_send_message", SEND)
            dumped = result.model_dump(mode="json", by_alias=True, exclude_none=True)
            link = ""
            if mode == "connect_prompt":
                link = dumped["content"][0]["text"].rsplit(" ", 1)[-1]
                assert link.startswith(f"{emu.env_url}/connect/")
            assert dumped == expected_result(mode, link)
        assert snapshot(emu) == before
        assert emu.counts() == {"mcp.tools/call": 1}

        emu.authorize(USER, "MY_GMAIL")
        if mode == "hidden":
            listed = [t.name for t in (await session.list_tools()).tools]
            assert "gmail_send_message" in listed
        result = await session.call_tool("gmail_send_message", SEND)
        assert not result.isError, result.content
    assert [m["subject"] for m in emu.user_data(USER).sent] == ["Lunch"]
    assert emu.count("mcp.tools/call") == 2


@pytest.mark.parametrize("mode", HTTP_MODES)
async def test_sdk_client_gets_http_status(emu: ScalekitEmulator, rest: Rest, mode: str) -> None:
    emu.set_refusal_mode(mode)
    url = instance_url(rest)
    before = snapshot(emu)
    emu.reset_counts()
    # mcp 1.x raises the status from its transport task, which ends the client session.
    with pytest.raises(Exception) as info:
        async with mcp_session(url) as session:
            await session.call_tool("gmail_send_message", SEND)
    leaves = getattr(info.value, "exceptions", [info.value])
    statuses = [e.response.status_code for e in leaves if isinstance(e, httpx.HTTPStatusError)]
    assert statuses == [401 if mode == "http_401" else 403]
    assert snapshot(emu) == before
    assert emu.count("mcp.tools/call") == 1
    emu.authorize(USER, "MY_GMAIL")
    async with mcp_session(url) as session:
        result = await session.call_tool("gmail_send_message", SEND)
    assert not result.isError
    assert [m["subject"] for m in emu.user_data(USER).sent] == ["Lunch"]
    assert emu.count("mcp.tools/call") == 2


async def test_connect_prompt_link_authorizes(emu: ScalekitEmulator, rest: Rest) -> None:
    emu.set_refusal_mode("connect_prompt")
    url = instance_url(rest)
    async with mcp_session(url) as session:
        refused = await session.call_tool("gmail_fetch_mails", {"max_results": 1})
        assert not refused.isError and refused.structuredContent is None
        link = refused.content[0].text.rsplit(" ", 1)[-1]  # type: ignore[union-attr]
        assert emu.connection_status(USER, "MY_GMAIL") == "PENDING_AUTH"
        page = rest.http.post(link, headers={"origin": emu.env_url})
        assert page.status_code == 200, page.text
        assert emu.connection_status(USER, "MY_GMAIL") == "ACTIVE"
        fetched = await session.call_tool("gmail_fetch_mails", {"max_results": 1})
    assert not fetched.isError and fetched.structuredContent is not None


async def test_runtime_switch_keeps_the_session(emu: ScalekitEmulator, rest: Rest) -> None:
    url = instance_url(rest)
    async with mcp_session(url) as session:
        plain = await session.call_tool("gmail_fetch_mails", {})
        emu.set_refusal_mode("marker")
        marked = await session.call_tool("gmail_fetch_mails", {})
        emu.set_refusal_mode("hidden")
        names = [t.name for t in (await session.list_tools()).tools]
    assert plain.isError and plain.meta is None
    assert marked.isError and marked.meta is not None
    assert "gmail_fetch_mails" not in names and "googlecalendar_list_events" not in names
    r = rest.http.post("/_emulator/refusal_mode", json={"mode": "jsonrpc_error"},
                       headers=emu.control_headers)
    assert r.json() == {"mode": "jsonrpc_error"} and emu.refusal_mode == "jsonrpc_error"
    r = rest.http.post("/_emulator/refusal_mode", json={"mode": "nope"},
                       headers=emu.control_headers)
    assert r.status_code == 400 and emu.refusal_mode == "jsonrpc_error"


async def test_refusal_after_token_mint_on_virtual_server(emu: ScalekitEmulator, rest: Rest) -> None:
    cfg = rest.config("assistant")
    emu.authorize(USER, "MY_GMAIL")
    emu.authorize(USER, "MY_CALENDAR")
    headers = {"Authorization": f"Bearer {rest.token(cfg['id'], USER)}"}
    async with mcp_session(cfg["mcp_server_url"], headers) as session:
        emu.expire_connection(USER, "MY_GMAIL")
        refused = await session.call_tool("gmail_send_message", SEND)
        assert refused.isError
        assert refused.content[0].text.startswith(NOT_CONNECTED)  # type: ignore[union-attr]
        assert emu.user_data(USER).sent == []
        emu.authorize(USER, "MY_GMAIL")
        assert not (await session.call_tool("gmail_send_message", SEND)).isError
    assert len(emu.user_data(USER).sent) == 1


async def test_per_connection_server(emu: ScalekitEmulator, rest: Rest) -> None:
    token = rest.connection_token("my_gmail", USER)  # name matched case-insensitively at mint
    assert emu.connection_status(USER, "MY_GMAIL") == "PENDING_AUTH"
    url = f"{emu.env_url}/mcp/v3/connections/MY_GMAIL"
    headers = {"Authorization": f"Bearer {token}"}
    async with mcp_session(url, headers) as session:
        names = [t.name for t in (await session.list_tools()).tools]
        assert "gmail_send_message" in names and all(n.startswith("gmail_") for n in names)
        refused = await session.call_tool("gmail_send_message", SEND)
        assert refused.isError and emu.user_data(USER).sent == []
        emu.authorize(USER, "MY_GMAIL")
        assert not (await session.call_tool("gmail_send_message", SEND)).isError
    assert len(emu.user_data(USER).sent) == 1
    async with httpx.AsyncClient(timeout=10) as http:
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2025-06-18"}}
        accept = {"accept": "application/json, text/event-stream"}
        calendar = f"{emu.env_url}/mcp/v3/connections/MY_CALENDAR"
        wrong_server = await http.post(calendar, json=init, headers={**accept, **headers})
        assert wrong_server.status_code == 401
        assert (await http.post(url.lower(), json=init, headers={**accept, **headers})
                ).status_code == 404
    missing = rest.http.post("/api/v1/mcp/connections/NOPE/tokens", json={"identifier": USER})
    assert missing.status_code == 404
