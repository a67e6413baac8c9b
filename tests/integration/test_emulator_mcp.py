"""The emulator's MCP servers (instance URLs and virtual servers) over real loopback HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

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

from scalekit_langchain.testing import ScalekitEmulator
from tests.integration._emulator_support import (
    ACCEPT,
    INIT,
    Rest,
    body_message,
    mcp_session,
    ping,
    raw_init,
    rpc,
)


@pytest.fixture
def emu() -> Iterator[ScalekitEmulator]:
    with ScalekitEmulator() as e:
        yield e


@pytest.fixture
def rest(emu: ScalekitEmulator) -> Iterator[Rest]:
    r = Rest(emu)
    yield r
    r.http.close()


# --- instance URLs ----------------------------------------------------------------------------


async def test_instance_lists_tools_per_mapping(emu: ScalekitEmulator, rest: Rest) -> None:
    rest.config("assistant")
    url = rest.instance("assistant", "alice")["url"]
    async with mcp_session(url) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
    assert list(tools) == [
        "gmail_fetch_mails", "gmail_send_message", "googlecalendar_list_events",
        "googlecalendar_create_event", "googlecalendar_get_event_by_id",
        "googlecalendar_delete_event",
    ]
    fetch, send = tools["gmail_fetch_mails"], tools["gmail_send_message"]
    assert fetch.annotations is not None and fetch.annotations.readOnlyHint is True
    assert send.annotations is not None and send.annotations.readOnlyHint is False
    assert send.inputSchema["required"] == ["body", "subject", "to"]
    assert send.description


async def test_tool_call_mutates_user_data(emu: ScalekitEmulator, rest: Rest) -> None:
    rest.config("assistant")
    url = rest.instance("assistant", "alice@example.com")["url"]
    emu.authorize("alice@example.com", "MY_GMAIL")
    async with mcp_session(url) as session:
        fetched = await session.call_tool("gmail_fetch_mails", {"max_results": 2})
        assert not fetched.isError
        assert fetched.structuredContent is not None
        assert len(fetched.structuredContent["messages"]) == 2
        sent = await session.call_tool("gmail_send_message", {
            "to": "bob@example.com", "subject": "Hi", "body": "Hello Bob"})
    assert not sent.isError, sent.content
    assert sent.content[0].type == "text" and sent.content[0].text
    outbox = emu.user_data("alice@example.com").sent
    assert len(outbox) == 1 and outbox[0]["subject"] == "Hi"
    listing = rest.http.get("/api/v1/mcp/instances").json()["instances"][0]
    assert listing["last_used_at"] != "0001-01-01T00:00:00Z"


async def test_not_authorized_is_error_with_meta(emu: ScalekitEmulator, rest: Rest) -> None:
    emu.set_refusal_mode("marker")  # the refusal shape this test pins; the default has no _meta
    rest.config("assistant")
    url = rest.instance("assistant", "alice")["url"]
    emu.authorize("alice", "MY_GMAIL")
    emu.expire_connection("alice", "MY_CALENDAR")
    async with mcp_session(url) as session:
        result = await session.call_tool("googlecalendar_list_events", {})
    assert result.isError
    text = result.content[0].text  # type: ignore[union-attr]
    assert "MY_CALENDAR" in text and "googlecalendar" in text and "EXPIRED" in text
    assert "authorize" in text.lower() and "/connect/" not in text and "http" not in text
    assert result.meta == {"scalekit/authorization_required": {
        "connection_name": "MY_CALENDAR", "provider": "GOOGLECALENDAR", "status": "EXPIRED"}}


async def test_invalid_arguments_and_unknown_tool(emu: ScalekitEmulator, rest: Rest) -> None:
    rest.config("assistant")
    url = rest.instance("assistant", "alice")["url"]
    emu.authorize("alice", "MY_GMAIL")
    emu.authorize("alice", "MY_CALENDAR")
    async with mcp_session(url) as session:
        missing = await session.call_tool("gmail_send_message", {"to": "bob@example.com"})
        wrong_type = await session.call_tool("gmail_fetch_mails", {"max_results": "many"})
        bad_value = await session.call_tool("gmail_send_message", {
            "to": "not an address", "subject": "s", "body": "b"})
        no_event = await session.call_tool("googlecalendar_get_event_by_id",
                                           {"event_id": "evt_nope"})
        unknown = await session.call_tool("slack_send_message", {"channel": "#x", "text": "t"})
    for result in (missing, wrong_type, bad_value, no_event, unknown):
        assert result.isError
    assert "required" in missing.content[0].text  # type: ignore[union-attr]
    assert "to" in bad_value.content[0].text  # type: ignore[union-attr]
    assert "slack_send_message" in unknown.content[0].text  # type: ignore[union-attr]
    assert emu.user_data("alice").sent == []


async def test_unknown_and_deleted_instance_404(emu: ScalekitEmulator, rest: Rest) -> None:
    rest.config("assistant")
    inst = rest.instance("assistant", "alice")
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.post(f"{emu.env_url}/mcp/v2/servers/not-a-secret", json=INIT,
                            headers=ACCEPT)
        assert r.status_code == 404
        sid = await raw_init(http, inst["url"])
        assert rest.http.delete(f"/api/v1/mcp/instances/{inst['id']}").status_code == 200
        assert (await ping(http, inst["url"], sid)).status_code == 404
        r = await http.post(inst["url"], json=INIT, headers=ACCEPT)
        assert r.status_code == 404


async def test_session_id_is_bound_to_its_url(emu: ScalekitEmulator, rest: Rest) -> None:
    rest.config("assistant")
    alice = rest.instance("assistant", "alice")["url"]
    bob = rest.instance("assistant", "bob")["url"]
    async with httpx.AsyncClient(timeout=10) as http:
        sid = await raw_init(http, alice)
        assert (await ping(http, alice, sid)).status_code == 200
        assert (await ping(http, bob, sid)).status_code == 404
        assert (await ping(http, alice, sid)).status_code == 200


# --- virtual servers --------------------------------------------------------------------------


async def test_virtual_server_with_session_token(emu: ScalekitEmulator, rest: Rest) -> None:
    cfg = rest.config("assistant")
    emu.authorize("carol", "MY_GMAIL")
    emu.authorize("carol", "MY_CALENDAR")
    token = rest.token(cfg["id"], "carol")
    headers = {"Authorization": f"Bearer {token}"}
    async with mcp_session(cfg["mcp_server_url"], headers) as session:
        names = [t.name for t in (await session.list_tools()).tools]
        assert "gmail_send_message" in names
        result = await session.call_tool("googlecalendar_create_event", {
            "summary": "Budget review", "start_datetime": "2030-01-01T16:00:00Z"})
        assert not result.isError, result.content
    assert any(e["summary"] == "Budget review" for e in emu.user_data("carol").events)


async def test_virtual_server_rejects_bad_tokens(emu: ScalekitEmulator, rest: Rest) -> None:
    cfg = rest.config("assistant")
    other = rest.config("other", [{"connection_name": "MY_GMAIL"}])
    emu.authorize("carol", "MY_GMAIL")
    emu.authorize("carol", "MY_CALENDAR")
    wrong_aud = rest.token(other["id"], "carol")
    url = cfg["mcp_server_url"]
    async with httpx.AsyncClient(timeout=10) as http:
        for headers in ({}, {"Authorization": f"Bearer {wrong_aud}"},
                        {"Authorization": "Bearer not.a.jwt"}, {"Authorization": "Basic x"}):
            r = await http.post(url, json=INIT, headers={**ACCEPT, **headers})
            assert r.status_code == 401, headers
            assert r.headers["www-authenticate"].startswith("Bearer")
        r = await http.post(f"{emu.env_url}/mcp/v3/servers/00000000-0000-0000-0000-000000000000",
                            json=INIT, headers=ACCEPT)
        assert r.status_code == 404


async def test_virtual_server_expired_token() -> None:
    clock = [3_000_000.0]
    with ScalekitEmulator(now=lambda: clock[0]) as emu:
        rest = Rest(emu)
        try:
            cfg = rest.config("assistant")
            emu.authorize("carol", "MY_GMAIL")
            emu.authorize("carol", "MY_CALENDAR")
            auth = {"Authorization": f"Bearer {rest.token(cfg['id'], 'carol', '60s')}"}
            async with httpx.AsyncClient(timeout=10) as http:
                sid = await raw_init(http, cfg["mcp_server_url"], **auth)
                clock[0] += 61
                r = await ping(http, cfg["mcp_server_url"], sid, **auth)
                assert r.status_code == 401
                r = await http.post(cfg["mcp_server_url"], json=INIT, headers={**ACCEPT, **auth})
                assert r.status_code == 401
                fresh = {"Authorization": f"Bearer {rest.token(cfg['id'], 'carol')}"}
                assert (await ping(http, cfg["mcp_server_url"], sid, **fresh)).status_code == 200
        finally:
            rest.http.close()


# --- faults, restart, counting ----------------------------------------------------------------


async def test_drop_mcp_sessions(emu: ScalekitEmulator, rest: Rest) -> None:
    rest.config("assistant")
    url = rest.instance("assistant", "alice")["url"]
    async with httpx.AsyncClient(timeout=10) as http:
        sid = await raw_init(http, url)
        assert (await ping(http, url, sid)).status_code == 200
        emu.drop_mcp_sessions()
        assert (await ping(http, url, sid)).status_code == 404
        new_sid = await raw_init(http, url)
        assert (await ping(http, url, new_sid)).status_code == 200
        await http.post(f"{emu.env_url}/_emulator/drop_mcp_sessions", headers=emu.control_headers)
        assert (await ping(http, url, new_sid)).status_code == 404


async def test_restart_keeps_state_drops_sessions(emu: ScalekitEmulator, rest: Rest) -> None:
    rest.config("assistant")
    url = rest.instance("assistant", "alice")["url"]
    emu.authorize("alice", "MY_GMAIL")
    port = emu.port
    async with httpx.AsyncClient(timeout=10) as http:
        sid = await raw_init(http, url)
    emu.restart()
    assert emu.port == port
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await ping(http, url, sid)).status_code == 404
    async with mcp_session(url) as session:
        result = await session.call_tool("gmail_fetch_mails", {"max_results": 1})
    assert not result.isError


async def test_fail_next_status_and_latency_on_mcp(emu: ScalekitEmulator, rest: Rest) -> None:
    rest.config("assistant")
    url = rest.instance("assistant", "alice")["url"]
    async with httpx.AsyncClient(timeout=10) as http:
        sid = await raw_init(http, url)
        emu.fail_next(503, kind="mcp.ping", retry_after=1)
        r = await ping(http, url, sid)
        assert r.status_code == 503 and r.json()["code"] == 14
        assert r.headers["retry-after"] == "1"
        assert (await ping(http, url, sid)).status_code == 200
        emu.set_latency(0.3, kind="mcp.")
        t0 = time.perf_counter()
        assert (await ping(http, url, sid)).status_code == 200
        assert time.perf_counter() - t0 >= 0.3


async def test_drop_after_runs_tool_once_and_breaks_transport(
    emu: ScalekitEmulator, rest: Rest
) -> None:
    rest.config("assistant")
    url = rest.instance("assistant", "alice")["url"]
    emu.authorize("alice", "MY_GMAIL")
    send = {"to": "bob@example.com", "subject": "once", "body": "only once"}
    call = {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": {"name": "gmail_send_message", "arguments": send}}
    async with httpx.AsyncClient(timeout=10) as http:
        sid = await raw_init(http, url)
        emu.fail_next(200, kind="mcp.tools/call", mode="drop_after")
        with pytest.raises(httpx.TransportError):
            await http.post(url, json=call, headers={**ACCEPT, "mcp-session-id": sid})
    assert [m["subject"] for m in emu.user_data("alice").sent] == ["once"]

    # The SDK client gets no result for the dropped call (it only ever times out).
    emu.fail_next(200, kind="mcp.tools/call", mode="drop_after")
    async with mcp_session(url) as session:
        with pytest.raises(McpError):
            await session.call_tool("gmail_send_message", send,
                                    read_timeout_seconds=timedelta(seconds=1))
    assert len(emu.user_data("alice").sent) == 2
    assert emu.count("mcp.tools/call") == 2


async def test_counts_per_mcp_request(emu: ScalekitEmulator, rest: Rest) -> None:
    rest.config("assistant")
    url = rest.instance("assistant", "alice")["url"]
    emu.authorize("alice", "MY_GMAIL")
    emu.reset_counts()
    async with mcp_session(url) as session:
        await session.list_tools()
        for _ in range(3):
            await session.call_tool("gmail_fetch_mails", {"max_results": 1})
    counts = emu.counts()
    assert counts["mcp.initialize"] == 1
    assert counts["mcp.notifications/initialized"] == 1
    assert counts["mcp.tools/list"] == 1
    assert counts["mcp.tools/call"] == 3
    assert counts["mcp.DELETE"] == 1
    assert counts.get("mcp.GET", 0) <= 1
    assert emu.count("mcp.") == sum(counts.values())
    assert emu.count("configs.") == 0


# --- the streamable-HTTP endpoint itself --------------------------------------------------------


@pytest.mark.parametrize("answer_mode", ["sse", "json"])
async def test_answer_modes(answer_mode: str) -> None:
    wanted = "text/event-stream" if answer_mode == "sse" else "application/json"
    with ScalekitEmulator(answer_mode=answer_mode) as emu:  # type: ignore[arg-type]
        rest = Rest(emu)
        try:
            rest.config("assistant")
            url = rest.instance("assistant", "alice")["url"]
            emu.authorize("alice", "MY_GMAIL")
            async with httpx.AsyncClient(timeout=10) as http:
                r = await http.post(url, json=INIT, headers=ACCEPT)
                assert r.status_code == 200
                assert r.headers["content-type"] == wanted
                sid = r.headers["mcp-session-id"]
                for method, params in (("tools/list", None), ("ping", None), (
                        "tools/call", {"name": "gmail_fetch_mails", "arguments": {}})):
                    r = await rpc(http, url, sid, method, params)
                    assert r.status_code == 200 and r.headers["content-type"] == wanted
                    assert "result" in body_message(r)
                # A client that only accepts JSON gets JSON, whatever the mode.
                r = await http.post(url, json={"jsonrpc": "2.0", "id": 9, "method": "ping"},
                                    headers={**ACCEPT, "accept": "application/json",
                                             "mcp-session-id": sid})
                assert r.headers["content-type"] == "application/json"
            # The SDK client works in both modes.
            async with mcp_session(url) as session:
                assert len((await session.list_tools()).tools) == 6
                result = await session.call_tool("gmail_fetch_mails", {"max_results": 1})
                assert not result.isError
        finally:
            rest.http.close()
    emu.set_answer_mode("json")
    with pytest.raises(ValueError, match="answer mode"):
        emu.set_answer_mode("xml")


@pytest.mark.parametrize(("asked", "answered"), [
    ("2024-11-05", "2024-11-05"), ("2025-03-26", "2025-03-26"), ("2025-06-18", "2025-06-18"),
    ("2025-11-25", "2025-11-25"), ("2023-01-01", "2025-11-25"),
])
async def test_protocol_version_negotiation(
    emu: ScalekitEmulator, rest: Rest, asked: str, answered: str
) -> None:
    rest.config("assistant")
    url = rest.instance("assistant", "alice")["url"]
    init = {**INIT, "params": {**INIT["params"], "protocolVersion": asked}}  # type: ignore[dict-item]
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.post(url, json=init, headers=ACCEPT)
        message = body_message(r)
    assert message == {"jsonrpc": "2.0", "id": 1, "result": {
        "protocolVersion": answered,
        "capabilities": {"tools": {"listChanged": False}},
        "serverInfo": {"name": "scalekit-emulator", "version": message["result"]["serverInfo"][
            "version"]},
        "instructions": "Local Scalekit emulator: demo Gmail, Google Calendar and Slack tools.",
    }}


async def test_jsonrpc_and_transport_errors(emu: ScalekitEmulator, rest: Rest) -> None:
    rest.config("assistant")
    url = rest.instance("assistant", "alice")["url"]

    def code(r: httpx.Response) -> int:
        return int(body_message(r)["error"]["code"])

    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.post(url, content=b"{not json", headers=ACCEPT)
        assert r.status_code == 400 and code(r) == -32700
        r = await http.post(url, json={"id": 1, "method": "initialize"}, headers=ACCEPT)
        assert r.status_code == 400 and code(r) == -32600
        r = await http.post(url, json=[INIT], headers=ACCEPT)
        assert r.status_code == 400 and code(r) == -32600
        r = await http.post(url, json=INIT, headers={**ACCEPT, "content-type": "text/plain"})
        assert r.status_code == 415
        r = await http.post(url, json=INIT, headers={**ACCEPT, "accept": "text/html"})
        assert r.status_code == 406
        no_version = {**INIT, "params": {"capabilities": {}}}
        r = await http.post(url, json=no_version, headers=ACCEPT)
        assert r.status_code == 200 and code(r) == -32602
        r = await http.post(url, json={"jsonrpc": "2.0", "id": 2, "method": "ping"},
                            headers=ACCEPT)
        assert r.status_code == 400 and "session" in r.json()["error"]["message"].lower()
        assert "mcp-session-id" not in r.headers

        sid = await raw_init(http, url)
        r = await http.post(url, json=INIT, headers={**ACCEPT, "mcp-session-id": sid})
        assert r.status_code == 400 and code(r) == -32600
        r = await rpc(http, url, sid, "resources/list")
        assert r.status_code == 200 and code(r) == -32601
        assert body_message(r)["id"] == 5
        for params in ({}, {"name": 3}, {"name": "gmail_fetch_mails", "arguments": [1]}):
            r = await rpc(http, url, sid, "tools/call", params)
            assert code(r) == -32602, params
        r = await rpc(http, url, sid, "tools/list", {"cursor": "bogus"})
        assert code(r) == -32602
        r = await http.post(url, json={"jsonrpc": "2.0", "method": "notifications/cancelled",
                                       "params": {"requestId": 1}},
                            headers={**ACCEPT, "mcp-session-id": sid})
        assert r.status_code == 202 and r.content == b""
        r = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "result": {}},
                            headers={**ACCEPT, "mcp-session-id": sid})
        assert r.status_code == 202
        r = await http.post(url, json={"jsonrpc": "2.0", "id": 8, "method": "ping"},
                            headers={**ACCEPT, "mcp-session-id": sid,
                                     "mcp-protocol-version": "1999-01-01"})
        assert r.status_code == 400
        r = await http.post(url, json={"jsonrpc": "2.0", "id": 8, "method": "ping"},
                            headers={**ACCEPT, "mcp-session-id": sid,
                                     "mcp-protocol-version": "2025-06-18"})
        assert r.status_code == 200
        assert (await http.put(url, headers={"mcp-session-id": sid})).status_code == 405


async def test_get_stream_and_delete(emu: ScalekitEmulator, rest: Rest) -> None:
    rest.config("assistant")
    url = rest.instance("assistant", "alice")["url"]
    sse = {"accept": "text/event-stream"}
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.get(url, headers=sse)).status_code == 400
        assert (await http.get(url, headers={**sse, "mcp-session-id": "nope"})).status_code == 404
        sid = await raw_init(http, url)
        headers = {**sse, "mcp-session-id": sid}
        async with http.stream("GET", url, headers=headers) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"] == "text/event-stream"
            assert (await http.get(url, headers=headers)).status_code == 409
            assert (await ping(http, url, sid)).status_code == 200
            r = await http.delete(url, headers={"mcp-session-id": sid})
            assert r.status_code == 200
            assert await stream.aread() == b""  # the stream ends with the session
        assert (await ping(http, url, sid)).status_code == 404
        assert (await http.delete(url, headers={"mcp-session-id": sid})).status_code == 404
        assert (await http.delete(url)).status_code == 400


async def test_tools_list_pages_with_cursor(rest: Rest) -> None:
    with ScalekitEmulator(tools_page_size=4) as emu:
        paged = Rest(emu)
        try:
            paged.config("assistant")
            url = paged.instance("assistant", "alice")["url"]
            async with mcp_session(url) as session:
                first = await session.list_tools()
                assert len(first.tools) == 4 and first.nextCursor
                second = await session.list_tools(cursor=first.nextCursor)
                assert len(second.tools) == 2 and second.nextCursor is None
            names = [t.name for t in first.tools + second.tools]
            assert names[0] == "gmail_fetch_mails" and len(set(names)) == 6
        finally:
            paged.http.close()
    with pytest.raises(ValueError, match="tools_page_size"):
        ScalekitEmulator(tools_page_size=0)


async def test_imports_nothing_from_the_mcp_sdk() -> None:
    import subprocess
    import sys

    code = (
        "import sys, builtins\n"
        "real = builtins.__import__\n"
        "def guard(name, *a, **k):\n"
        "    if name == 'mcp' or name.startswith('mcp.'):\n"
        "        raise ImportError('emulator imported ' + name)\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = guard\n"
        "sys.modules['scalekit_langchain'] = type(sys)('scalekit_langchain')\n"
        "sys.modules['scalekit_langchain'].__path__ = [__import__('os').path.join("
        "sys.argv[1], 'scalekit_langchain')]\n"
        "from scalekit_langchain.testing import ScalekitEmulator\n"
        "with ScalekitEmulator() as emu:\n"
        "    print('ok', emu.env_url)\n"
    )
    import pathlib

    root = str(pathlib.Path(__file__).resolve().parents[2])
    proc = subprocess.run([sys.executable, "-c", code, root], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok http://127.0.0.1:")
