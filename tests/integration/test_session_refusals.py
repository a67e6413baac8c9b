"""How McpSession ends a request the server refused, on both MCP stacks.

A refusal (401/403, a JSON-RPC error) ran nothing and says so (ToolCallRejected); credentials
that expire are renewed once first; opening refused raises the status's error class; and the
caller only ever sees ScalekitError subclasses.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator

import pytest

from scalekit_langchain._mcp_content import ToolResult, ToolSpec
from scalekit_langchain._mcp_session import ConnectParams, McpSession
from scalekit_langchain._version import __version__
from scalekit_langchain.errors import (
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ScalekitError,
    ServerError,
    ToolCallOutcomeUnknown,
    ToolCallRejected,
)
from tests.integration._mini_mcp import MiniMcp
from tests.integration._net_support import Served


@pytest.fixture(params=["sse", "json"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[MiniMcp, str]]:
    mini = MiniMcp(answer=request.param)
    with Served(mini) as served:
        yield mini, f"http://127.0.0.1:{served.port}{mini.path}"


def _fixed(url: str, **kw: float) -> McpSession:
    async def params() -> ConnectParams:
        return ConnectParams(url=url, label="refusals")

    return McpSession(params, call_timeout=kw.get("call_timeout", 5.0), connect_timeout=5.0)


class _Minter:
    """A params factory in token mode: each call mints the next token."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.minted: list[str] = []
        self._ids = itertools.count(1)

    async def __call__(self) -> ConnectParams:
        token = f"session-token-{next(self._ids):04d}-secret"
        self.minted.append(token)
        return ConnectParams(
            url=self.url,
            headers={"Authorization": f"Bearer {token}"},
            expires_at=time.monotonic() + 3600,
            label="tokens",
        )


async def test_list_and_call_return_stack_neutral_values(server: tuple[MiniMcp, str]) -> None:
    mini, url = server
    session = _fixed(url)
    try:
        tools = await session.list_tools()
        assert all(isinstance(t, ToolSpec) for t in tools)
        assert [(t.name, t.annotations) for t in tools] == [
            ("echo", {"readOnlyHint": True}),
            ("send", {"destructiveHint": True}),
        ]
        result = await session.call_tool("echo", {"text": "hello"})
        assert isinstance(result, ToolResult)
        assert (result.is_error, result.text, result.structured_content) == (
            False, "hello", {"echo": "hello"})
    finally:
        await session.aclose()
    assert mini.client_info == [{"name": "scalekit-langchain", "version": __version__}]


@pytest.mark.parametrize("status", [401, 403])
async def test_call_refused_by_status_is_rejected_and_not_resent(
    server: tuple[MiniMcp, str], status: int
) -> None:
    mini, url = server
    session = _fixed(url)
    try:
        await session.call_tool("echo", {"text": "warm"})
        mini.counts.clear()
        mini.fail_next("tools/call", status)
        with pytest.raises(ToolCallRejected) as info:
            await session.call_tool("send", {"subject": "refused"})
        assert (info.value.status_code, info.value.code) == (status, None)
        assert info.value.tool_name == "send"
        assert "did not run" in str(info.value)
        assert mini.counts["tools/call"] == 1  # fixed credentials: no reconnect, no re-send
        assert mini.ran == []
        await session.call_tool("send", {"subject": "next"})
    finally:
        await session.aclose()
    assert mini.ran == ["next"]


async def test_token_mode_401_on_a_call_renews_once_and_sends_once(
    server: tuple[MiniMcp, str],
) -> None:
    mini, url = server
    minter = _Minter(url)
    mini.tokens = {"session-token-0001-secret"}
    session = McpSession(minter, call_timeout=5.0, connect_timeout=5.0)
    try:
        await session.call_tool("echo", {"text": "warm"})
        mini.tokens = {"session-token-0002-secret"}  # the first token was revoked
        mini.counts.clear()
        result = await session.call_tool("send", {"subject": "after renewal"})
        assert result.text == "sent after renewal"
        assert minter.minted == ["session-token-0001-secret", "session-token-0002-secret"]
        assert (mini.counts["refused POST"], mini.counts["initialize"]) == (1, 1)
        assert mini.counts["tools/call"] == 1
        assert session.initializations == 2
    finally:
        await session.aclose()
    assert mini.ran == ["after renewal"]


async def test_token_mode_refused_twice_is_rejected_after_one_renewal(
    server: tuple[MiniMcp, str],
) -> None:
    mini, url = server
    minter = _Minter(url)
    session = McpSession(minter, call_timeout=5.0, connect_timeout=5.0)
    try:
        await session.call_tool("echo", {"text": "warm"})
        mini.counts.clear()
        mini.fail_next("tools/call", 403)
        mini.fail_next("tools/call", 403)
        with pytest.raises(ToolCallRejected) as info:
            await session.call_tool("send", {"subject": "never"})
        assert info.value.status_code == 403
        assert len(minter.minted) == 2  # one renewal
        assert mini.counts["tools/call"] == 2  # one re-send after it
    finally:
        await session.aclose()
    assert mini.ran == []


async def test_jsonrpc_error_answer_is_rejected_with_code_and_detail(
    server: tuple[MiniMcp, str],
) -> None:
    mini, url = server
    session = _fixed(url)
    try:
        await session.call_tool("echo", {"text": "warm"})
        mini.fail_next("tools/call", mode="rpc_error", rpc_error=(-32602, "to: not an address"))
        with pytest.raises(ToolCallRejected) as info:
            await session.call_tool("send", {"subject": "bad"})
        assert (info.value.status_code, info.value.code) == (None, -32602)
        assert info.value.detail == "to: not an address"
        with pytest.raises(ToolCallRejected) as unknown:
            await session.call_tool("no_such_tool", {})
        assert unknown.value.code == -32602
        assert (await session.call_tool("echo", {"text": "still"})).text == "still"
        assert session.initializations == 1  # a refusal does not cost the session
    finally:
        await session.aclose()
    assert mini.ran == []


async def test_jsonrpc_error_in_a_400_body_is_rejected_the_same_on_both_stacks(
    server: tuple[MiniMcp, str],
) -> None:
    mini, url = server
    session = _fixed(url)
    try:
        await session.call_tool("echo", {"text": "warm"})
        mini.fail_next("tools/call", 400, rpc_error=(-32602, "missing subject"))
        with pytest.raises(ToolCallRejected) as info:
            await session.call_tool("send", {})
        assert (info.value.status_code, info.value.code, info.value.detail) == (
            400, -32602, "missing subject")
    finally:
        await session.aclose()
    assert mini.ran == []


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, AuthenticationError), (403, PermissionDeniedError), (404, NotFoundError),
     (429, RateLimitError), (503, ServerError)],
)
async def test_open_refused_raises_the_status_error(
    server: tuple[MiniMcp, str], status: int, error: type[ScalekitError]
) -> None:
    mini, url = server
    mini.fail_next("initialize", status, retry_after=1.5 if status == 429 else None)
    session = _fixed(url)
    try:
        with pytest.raises(error) as info:
            await session.connect()
        assert getattr(info.value, "status_code", None) == status
        if status == 429:
            assert getattr(info.value, "retry_after", None) == 1.5
        assert mini.counts["initialize"] == 1
        await session.connect()  # the next attempt opens
    finally:
        await session.aclose()


async def test_open_of_a_deleted_instance_is_not_found(server: tuple[MiniMcp, str]) -> None:
    mini, url = server
    mini.deleted = True
    session = _fixed(url)
    try:
        with pytest.raises(NotFoundError) as info:
            await session.call_tool("echo", {"text": "x"})
        assert info.value.status_code == 404
    finally:
        await session.aclose()


async def test_token_mode_open_refused_mints_once_more(server: tuple[MiniMcp, str]) -> None:
    mini, url = server
    minter = _Minter(url)
    mini.tokens = {"session-token-0002-secret"}  # the first minted token is already refused
    session = McpSession(minter, call_timeout=5.0, connect_timeout=5.0)
    try:
        await session.connect()
        assert minter.minted == ["session-token-0001-secret", "session-token-0002-secret"]
        mini.tokens = set()
        await session.reset()
        with pytest.raises(AuthenticationError):
            await session.connect()
        assert len(minter.minted) == 4  # one retry per open, never more
    finally:
        await session.aclose()


async def test_server_error_on_a_call_is_outcome_unknown_and_not_resent(
    server: tuple[MiniMcp, str],
) -> None:
    mini, url = server
    session = _fixed(url)
    try:
        await session.call_tool("echo", {"text": "warm"})
        mini.counts.clear()
        mini.fail_next("tools/call", 502)
        with pytest.raises(ToolCallOutcomeUnknown):
            await session.call_tool("send", {"subject": "maybe"})
        assert mini.counts["tools/call"] == 1
    finally:
        await session.aclose()


async def test_rate_limited_call_is_resent_once_then_typed(server: tuple[MiniMcp, str]) -> None:
    mini, url = server
    session = _fixed(url)
    try:
        await session.call_tool("echo", {"text": "warm"})
        mini.counts.clear()
        mini.fail_next("tools/call", 429, retry_after=0.05)
        await session.call_tool("send", {"subject": "after 429"})
        assert mini.counts["tools/call"] == 2
        mini.counts.clear()
        mini.fail_next("tools/call", 429, retry_after=0.05)
        mini.fail_next("tools/call", 429, retry_after=0.05)
        with pytest.raises(RateLimitError) as info:
            await session.call_tool("send", {"subject": "never"})
        assert (info.value.status_code, info.value.retry_after) == (429, 0.05)
        assert mini.counts["tools/call"] == 2
    finally:
        await session.aclose()
    assert mini.ran == ["after 429"]


async def test_dropped_session_is_resent_once_and_runs_once(server: tuple[MiniMcp, str]) -> None:
    mini, url = server
    session = _fixed(url)
    try:
        await session.call_tool("echo", {"text": "warm"})
        mini.drop_sessions()
        mini.counts.clear()
        await session.call_tool("send", {"subject": "after drop"})
        assert (mini.counts["tools/call"], mini.counts["initialize"]) == (2, 1)
    finally:
        await session.aclose()
    assert mini.ran == ["after drop"]


async def test_answer_cut_mid_body_is_outcome_unknown(server: tuple[MiniMcp, str]) -> None:
    mini, url = server
    if mini.answer == "json":
        pytest.skip("the cut is written as a partial SSE event")
    session = _fixed(url)
    try:
        await session.call_tool("echo", {"text": "warm"})
        mini.fail_next("tools/call", mode="cut")
        with pytest.raises(ToolCallOutcomeUnknown):
            await session.call_tool("send", {"subject": "ran, answer lost"})
        await session.call_tool("send", {"subject": "next"})
    finally:
        await session.aclose()
    assert mini.ran == ["ran, answer lost", "next"]


async def test_session_closed_under_a_call_raises_a_scalekit_error(
    server: tuple[MiniMcp, str],
) -> None:
    """Regression: closing the session under a call leaked anyio.ClosedResourceError."""
    mini, url = server
    session = _fixed(url, call_timeout=10.0)
    await session.call_tool("echo", {"text": "warm"})
    mini.fail_next("tools/call", mode="hang")
    call = asyncio.ensure_future(session.call_tool("send", {"subject": "hung"}))
    await asyncio.sleep(0.3)
    await session.aclose()
    with pytest.raises(ScalekitError) as info:
        await asyncio.wait_for(call, 10)
    assert isinstance(info.value, ToolCallOutcomeUnknown)  # it was sent: it may have run


async def test_hung_call_times_out_as_outcome_unknown(server: tuple[MiniMcp, str]) -> None:
    mini, url = server
    session = _fixed(url, call_timeout=0.5)
    try:
        await session.call_tool("echo", {"text": "warm"})
        mini.counts.clear()
        mini.fail_next("tools/call", mode="hang")
        with pytest.raises(ToolCallOutcomeUnknown) as info:
            await session.call_tool("send", {"subject": "hung"})
        assert "no result within" in str(info.value)
        assert mini.counts["tools/call"] == 1
    finally:
        await session.aclose()
