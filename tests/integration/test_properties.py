"""Property-based tests: whatever a model or a server sends, the package answers in kind.

* Model-supplied tool arguments (arbitrary JSON objects, wrong types, huge strings, unicode)
  through a real toolkit tool on the emulator: always a ``ToolMessage``, an error one for what
  the model can fix, and nothing sent when the call was refused.
* Server bodies (arbitrary JSON, plausible shapes with arbitrary values) through
  ``httpx.MockTransport``: always a parsed model or a typed ``ScalekitError``.
* Identifiers with odd characters: percent-encoded into one path segment, or refused with
  ``ValueError`` before any request.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote

import httpx
import jsonschema
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from langchain_core.messages import ToolMessage

from scalekit_langchain import (
    ScalekitClient,
    ScalekitError,
    ScalekitMCPToolkit,
    ScalekitProtocolError,
)
from scalekit_langchain.testing import ScalekitEmulator

USER = "prop-user"
CONFIG = "prop-assistant"
MAPPINGS = [
    {"connection_name": "MY_GMAIL", "tools": ["gmail_fetch_mails", "gmail_send_message"]},
    {"connection_name": "MY_CALENDAR", "tools": ["googlecalendar_create_event"]},
]
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --------------------------------------------------------------------------- strategies

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
huge_text = st.integers(min_value=10_000, max_value=60_000).map(lambda n: "x" * n)
odd_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=0, max_size=60
)
any_value = json_values | huge_text | odd_text

SEND_FIELDS = ["to", "subject", "body", "cc", "bcc", "content_type", "thread_id"]
send_args = st.one_of(
    # Arbitrary JSON objects.
    st.dictionaries(st.text(max_size=12), json_values, max_size=6),
    # The tool's own fields with arbitrary (often wrong) types and sizes.
    st.dictionaries(st.sampled_from(SEND_FIELDS), any_value, max_size=7),
    # Mostly right, one field wrong.
    st.fixed_dictionaries(
        {"to": st.just("ops@acme.example"), "subject": odd_text, "body": any_value}
    ),
)


# --------------------------------------------------------------------------- toolkit tool


@pytest.fixture(scope="module")
def emu() -> Iterator[ScalekitEmulator]:
    with ScalekitEmulator() as emulator:
        emulator.authorize(USER, "MY_GMAIL")
        emulator.authorize(USER, "MY_CALENDAR")
        yield emulator


@pytest.fixture(scope="module")
def send_tool(emu: ScalekitEmulator) -> Iterator[Any]:
    from scalekit_langchain import AsyncScalekitClient, _session_loop

    client = AsyncScalekitClient(emu.env_url, emu.client_id, emu.client_secret)
    toolkit = ScalekitMCPToolkit(
        client=client,
        config_name=CONFIG,
        user_identifier=USER,
        connection_tool_mappings=MAPPINGS,
        call_timeout=10.0,
    )
    try:
        with toolkit:
            tools = {t.name: t for t in toolkit.get_tools()}
            yield tools["gmail_send_message"]
    finally:
        _session_loop.run_sync(client.aclose())


def _schema_valid(schema: dict[str, Any], args: dict[str, Any]) -> bool:
    return not any(jsonschema.Draft202012Validator(schema).iter_errors(args))


@SETTINGS
@given(args=send_args)
@example(args={})
@example(args={"to": 1, "subject": None, "body": ["x"]})
@example(args={"to": "ops@acme.example", "subject": "é€😀\u202e", "body": "x" * 100_000})
@example(args={"to": "not an address", "subject": "s", "body": "b"})
@example(args={"config": {"x": 1}, "run_manager": 1, "callbacks": "c", "tool_call_id": 3})
@example(args={"to": "ops@acme.example", "subject": "s", "body": "b", "config": "shadow"})
def test_model_arguments_always_give_a_tool_message(
    emu: ScalekitEmulator, send_tool: Any, args: dict[str, Any]
) -> None:
    sent_before = len(emu.user_data(USER).sent)
    call = {"name": send_tool.name, "args": args, "id": "call_prop", "type": "tool_call"}
    result = send_tool.invoke(call)
    assert isinstance(result, ToolMessage)
    assert result.tool_call_id == "call_prop"
    assert isinstance(result.content, (str, list))
    sent_after = len(emu.user_data(USER).sent)
    if result.status == "error":
        assert sent_after == sent_before, "a refused call must not send anything"
    else:
        assert sent_after == sent_before + 1, "a successful call sends exactly once"
    schema = json.loads(json.dumps(send_tool.args_schema))
    if not _schema_valid(schema, args):
        assert result.status == "error", (args, result.content)


@settings(max_examples=30, deadline=None)
@given(args=send_args)
async def test_model_arguments_async_give_a_tool_message(
    emu: ScalekitEmulator, send_tool: Any, args: dict[str, Any]
) -> None:
    sent_before = len(emu.user_data(USER).sent)
    call = {"name": send_tool.name, "args": args, "id": "call_async", "type": "tool_call"}
    result = await send_tool.ainvoke(call)
    assert isinstance(result, ToolMessage)
    sent_after = len(emu.user_data(USER).sent)
    assert sent_after == sent_before + (0 if result.status == "error" else 1)


# --------------------------------------------------------------------------- server bodies

TOKEN_BODY = {"access_token": "tok_prop_0123456789", "expires_in": 3600, "token_type": "Bearer"}


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> ScalekitClient:
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json=TOKEN_BODY)
        return handler(request)

    return ScalekitClient(
        "https://env.example.com",
        "skc_prop",
        "sks_prop_secret",
        transport=httpx.MockTransport(route),
        max_retries=0,
    )


CALLS: dict[str, Callable[[ScalekitClient], Any]] = {
    "get_config": lambda c: c.mcp.get_config("cfg_1"),
    "get_config_by_name": lambda c: c.mcp.get_config_by_name("prop-assistant"),
    "list_configs": lambda c: c.mcp.list_configs(),
    "create_config": lambda c: c.mcp.create_config("prop-assistant"),
    "ensure_instance": lambda c: c.mcp.ensure_instance("prop-assistant", USER),
    "get_instance": lambda c: c.mcp.get_instance("inst_1"),
    "list_instances": lambda c: c.mcp.list_instances(),
    "get_instance_auth_state": lambda c: c.mcp.get_instance_auth_state("inst_1"),
    "list_mcp_connected_accounts": lambda c: c.mcp.list_mcp_connected_accounts("cfg_1", USER),
    "create_session_token": lambda c: c.mcp.create_session_token("cfg_1", USER),
    "delete_config": lambda c: c.mcp.delete_config("cfg_1"),
}
KEYS = [
    "config",
    "configs",
    "instance",
    "instances",
    "connections",
    "connected_accounts",
    "token",
    "expires_at",
    "next_page_token",
    "total_size",
    "message",
    "code",
    "details",
]
PLAUSIBLE = {
    "config": {"id": "cfg_1", "name": "prop-assistant"},
    "instance": {"id": "inst_1", "url": "https://env.example.com/mcp/v2/servers/secret"},
    "connection": {"connection_name": "MY_GMAIL", "connected_account_status": "ACTIVE"},
}
shaped = st.builds(
    lambda top, inner_key, value, wrap: {
        top: (
            [{**PLAUSIBLE[wrap], inner_key: value}]
            if top.endswith("s")
            else {**PLAUSIBLE[wrap], inner_key: value}
        )
    },
    st.sampled_from(
        ["config", "configs", "instance", "instances", "connections", "connected_accounts"]
    ),
    st.sampled_from(
        [
            "id",
            "name",
            "url",
            "config",
            "connection_tool_mappings",
            "tools",
            "connection_name",
            "connected_account_status",
            "last_used_at",
            "updated_at",
            "provider",
            "mcp_server_url",
        ]
    ),
    json_values,
    st.sampled_from(list(PLAUSIBLE)),
)
bodies = st.one_of(
    json_values,
    st.dictionaries(st.sampled_from(KEYS), json_values, max_size=5),
    shaped,
)
statuses = st.sampled_from([200, 200, 200, 201, 204, 400, 401, 404, 409, 429, 500, 503, 302])


@SETTINGS
@given(call=st.sampled_from(sorted(CALLS)), status=statuses, body=bodies)
@example(call="list_configs", status=200, body={"configs": [], "total_size": "²"})
@example(call="list_instances", status=200, body={"instances": [], "total_size": "1e3"})
@example(call="create_session_token", status=200, body={"token": "t" * 20, "expires_at": "soon"})
@example(call="ensure_instance", status=200, body={"instance": {"id": "i", "last_used_at": "x"}})
@example(
    call="get_config",
    status=200,
    body={"config": {"name": "n", "connection_tool_mappings": [None]}},
)
@example(call="get_instance_auth_state", status=429, body={"details": "x"})
@example(call="get_config", status=404, body={"details": [{"request_info": "x"}]})
def test_any_server_body_parses_or_raises_typed(call: str, status: int, body: Any) -> None:
    assume(not (status >= 400 and _odd_details(body)))  # a known bug, pinned below

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body)

    with _client(handler) as client:
        try:
            CALLS[call](client)
        except ScalekitError:
            pass


def _odd_page_token(body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    tokens = (body.get("next_page_token"), body.get("prev_page_token"))
    return any(t and not isinstance(t, str) for t in tokens)


@pytest.mark.parametrize("call", ["list_configs", "list_instances", "get_config_by_name"])
@pytest.mark.parametrize("token", [1, ["a"], {"t": 1}, True])
def test_non_string_page_token_is_a_protocol_error(call: str, token: Any) -> None:
    key = "instances" if call == "list_instances" else "configs"

    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json={key: [], "next_page_token": token})

    with _client(handler) as client, pytest.raises(ScalekitProtocolError) as info:
        CALLS[call](client)
    assert "next_page_token is not a string" in str(info.value)
    assert len(seen) == 1  # the bad page ends the listing: no request for a next page


def _odd_details(body: Any) -> bool:
    details = body.get("details") if isinstance(body, dict) else None
    return bool(details) and not isinstance(details, (list, dict, str))


@pytest.mark.parametrize("details", [True, 7, 1.5])
@pytest.mark.parametrize("status", [400, 404, 500])
def test_non_list_error_details_still_give_the_typed_error(details: Any, status: int) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"message": "boom", "details": details})

    with _client(handler) as client, pytest.raises(ScalekitError):
        client.mcp.get_config("cfg_1")


@pytest.mark.parametrize("total", ["²", "①"])
def test_unicode_digit_total_size_is_not_an_uncaught_value_error(total: str) -> None:
    """'²'.isdigit() is True but int('²') raises: such a count is dropped, not a crash."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"configs": [], "total_size": total})

    with _client(handler) as client:
        try:
            page = client.mcp.list_configs()
        except ScalekitError:
            return
    assert page.total_size is None


@SETTINGS
@given(
    raw=st.binary(max_size=200),
    ctype=st.sampled_from(
        ["application/json", "text/html", "", "application/json; charset=latin-1"]
    ),
)
def test_any_raw_bytes_parse_or_raise_typed(raw: bytes, ctype: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": ctype} if ctype else {}
        return httpx.Response(200, content=raw, headers=headers)

    with _client(handler) as client:
        for call in ("list_configs", "get_instance", "create_session_token"):
            try:
                CALLS[call](client)
            except ScalekitError:
                pass


@SETTINGS
@given(body=json_values, status=st.sampled_from([200, 400, 401, 500]))
def test_any_token_response_parses_or_raises_typed(body: Any, status: int) -> None:
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(status, json=body)
        return httpx.Response(200, json={"configs": []})

    with ScalekitClient(
        "https://env.example.com",
        "skc_prop",
        "sks_prop_secret",
        transport=httpx.MockTransport(route),
        max_retries=0,
    ) as client:
        try:
            client.mcp.list_configs()
        except ScalekitError:
            pass


# --------------------------------------------------------------------------- identifiers

ODD_IDS = [
    "../x",
    "a/b",
    "?q=1",
    "#frag",
    "a b",
    "ü/ß",
    "%2e%2e",
    "x" * 10_000,
    "..%2F",
    "\\..\\",
    "a;b",
    "\u202e",
]
PATH_CALLS: dict[str, tuple[Callable[[ScalekitClient, str], Any], str, str]] = {
    # name: (call, path before the id, path after it)
    "get_config": (lambda c, i: c.mcp.get_config(i), "/api/v1/mcp/configs/", ""),
    "delete_config": (lambda c, i: c.mcp.delete_config(i), "/api/v1/mcp/configs/", ""),
    "update_config": (
        lambda c, i: c.mcp.update_config(i, description="d"),
        "/api/v1/mcp/configs/",
        "",
    ),
    "get_instance": (lambda c, i: c.mcp.get_instance(i), "/api/v1/mcp/instances/", ""),
    "delete_instance": (lambda c, i: c.mcp.delete_instance(i), "/api/v1/mcp/instances/", ""),
    "update_instance": (
        lambda c, i: c.mcp.update_instance(i, name="n"),
        "/api/v1/mcp/instances/",
        "",
    ),
    "get_instance_auth_state": (
        lambda c, i: c.mcp.get_instance_auth_state(i),
        "/api/v1/mcp/instances/",
        ":get_auth_state",
    ),
    "list_mcp_connected_accounts": (
        lambda c, i: c.mcp.list_mcp_connected_accounts(i, USER),
        "/api/v1/mcp/configs/",
        "/connected_accounts",
    ),
    "create_session_token": (
        lambda c, i: c.mcp.create_session_token(i, USER),
        "/api/v1/mcp/configs/",
        "/tokens",
    ),
}


def _check_identifier(call: str, identifier: str) -> None:
    fn, prefix, suffix = PATH_CALLS[call]
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404, json={"message": "not found"})

    with _client(handler) as client:
        try:
            fn(client, identifier)
        except ValueError:
            assert not seen, "refused input must not reach the network"
            assert not identifier.strip() or identifier in (".", "..")
            return
        except ScalekitError:
            pass
    assert len(seen) == 1
    raw, _, query = seen[0].url.raw_path.decode("ascii").partition("?")
    assert "#" not in raw, raw[:200]
    # No query smuggled in through the identifier: only the call's own parameters.
    assert query in ("", "include_auth_links=false"), query[:200]
    assert raw.startswith(prefix) and raw.endswith(suffix), raw[:200]
    segment = raw[len(prefix) : len(raw) - len(suffix)]
    assert "/" not in segment, raw[:200]  # one path segment
    assert segment not in (".", ".."), raw[:200]
    if suffix.startswith(":"):
        assert ":" not in segment
    assert unquote(segment) == identifier


@pytest.mark.parametrize("call", sorted(PATH_CALLS))
@pytest.mark.parametrize("identifier", ODD_IDS, ids=lambda s: repr(s[:12]))
def test_odd_identifiers_are_one_encoded_segment(call: str, identifier: str) -> None:
    _check_identifier(call, identifier)


@pytest.mark.parametrize("identifier", ["", " ", ".", "..", "\t\n"])
@pytest.mark.parametrize("call", sorted(PATH_CALLS))
def test_empty_or_dot_identifiers_are_refused_before_any_request(
    call: str, identifier: str
) -> None:
    fn, _, _ = PATH_CALLS[call]
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    with _client(handler) as client, pytest.raises(ValueError):
        fn(client, identifier)
    assert seen == []


@SETTINGS
@given(call=st.sampled_from(sorted(PATH_CALLS)), identifier=st.text(min_size=1, max_size=80))
def test_any_identifier_is_encoded_or_refused(call: str, identifier: str) -> None:
    _check_identifier(call, identifier)


def test_model_arguments_named_like_langchain_parameters_reach_the_server(
    send_tool: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}
    original = ScalekitMCPToolkit.run_tool

    def spy(self: Any, mcp_name: str, arguments: dict[str, Any], config: Any, call_id: Any) -> Any:
        seen.update(arguments)
        return original(self, mcp_name, arguments, config, call_id)

    monkeypatch.setattr(ScalekitMCPToolkit, "run_tool", spy)
    args = {"to": "ops@acme.example", "subject": "s", "body": "b", "config": "X", "run_manager": 1}
    result = send_tool.invoke(
        {"name": send_tool.name, "args": args, "id": "c", "type": "tool_call"}
    )
    assert isinstance(result, ToolMessage)
    assert seen == args
