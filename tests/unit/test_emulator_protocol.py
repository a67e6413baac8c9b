"""The emulator's JSON-RPC parsing and refusal builders, without sockets."""

from __future__ import annotations

import json

import pytest

from scalekit_langchain.testing._accounts import Connection
from scalekit_langchain.testing._jsonrpc import JsonRpcError, parse_message
from scalekit_langchain.testing._mcp_protocol import McpSettings, Target, ToolServer, negotiate
from scalekit_langchain.testing._refusals import REFUSAL_MODES, refuse
from scalekit_langchain.testing._state import EmulatorState


def msg(value: object) -> bytes:
    return json.dumps(value).encode()


def test_parse_message_kinds() -> None:
    request = parse_message(msg({"jsonrpc": "2.0", "id": "a", "method": "ping", "params": None}))
    assert (request.kind, request.method, request.params, request.request_id) == (
        "request", "ping", {}, "a")
    note = parse_message(msg({"jsonrpc": "2.0", "method": "notifications/initialized"}))
    assert (note.kind, note.request_id) == ("notification", None)
    answer = parse_message(msg({"jsonrpc": "2.0", "id": 3, "result": {}}))
    assert answer.kind == "response"


@pytest.mark.parametrize(("body", "code"), [
    (b"{", -32700),
    (b"\xff", -32700),
    (msg([]), -32600),
    (msg({"id": 1, "method": "ping"}), -32600),
    (msg({"jsonrpc": "1.0", "id": 1, "method": "ping"}), -32600),
    (msg({"jsonrpc": "2.0", "id": True, "method": "ping"}), -32600),
    (msg({"jsonrpc": "2.0", "id": None, "method": "ping"}), -32600),
    (msg({"jsonrpc": "2.0", "id": 1}), -32600),
    (msg({"jsonrpc": "2.0", "id": 1, "method": 7}), -32600),
    (msg({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": [1]}), -32602),
])
def test_parse_message_errors(body: bytes, code: int) -> None:
    with pytest.raises(JsonRpcError) as info:
        parse_message(body)
    assert info.value.code == code
    assert info.value.response()["error"]["code"] == code


def test_negotiate() -> None:
    assert negotiate({"protocolVersion": "2025-03-26"}) == "2025-03-26"
    assert negotiate({"protocolVersion": "2099-01-01"}) == "2025-11-25"
    with pytest.raises(JsonRpcError):
        negotiate({})


@pytest.mark.parametrize("mode", REFUSAL_MODES)
def test_refuse_calls_for_a_link_only_when_it_sends_one(mode: str) -> None:
    links: list[str] = []

    def new_link() -> str:
        links.append("http://127.0.0.1:1/connect/x")
        return links[-1]

    reply = refuse(mode, 9, "gmail_send_message",  # type: ignore[arg-type]
                   Connection("conn_1", "MY_GMAIL", "gmail"), "EXPIRED", new_link)
    assert reply.message is not None and reply.message["id"] == 9
    assert len(links) == (1 if mode in ("connect_prompt", "url_elicitation") else 0)
    assert reply.status == {"http_401": 401, "http_403": 403}.get(mode, 200)
    errors = ("jsonrpc_error", "http_401", "http_403", "url_elicitation")
    assert ("error" in reply.message) == (mode in errors)
    if mode == "url_elicitation":
        error = reply.message["error"]
        assert error["code"] == -32042
        assert error["data"]["elicitations"][0]["url"] == links[0]


def test_tool_server_refuses_without_running() -> None:
    state = EmulatorState(client_id="c", client_secret="s", token_ttl=60, auth_link_ttl=60)
    config = state.create_config({"name": "cfg", "connection_tool_mappings": [
        {"connection_name": "MY_GMAIL"}]})
    server = ToolServer(state, McpSettings())
    target = Target(config.id, "u", "b")
    call = parse_message(msg({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "gmail_send_message",
        "arguments": {"to": "a@b.co", "subject": "s", "body": "b"}}}))
    refused = server.handle(call, target)
    assert refused.message is not None and refused.message["result"]["isError"] is True
    assert state.user_data("u").sent == []
    state.set_status("u", "MY_GMAIL", "ACTIVE")
    ran = server.handle(call, target)
    assert ran.message is not None and ran.message["result"]["isError"] is False
    assert len(state.user_data("u").sent) == 1
