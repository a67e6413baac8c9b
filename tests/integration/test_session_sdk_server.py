"""McpSession against the installed SDK's own server (FastMCP on mcp 1.x, MCPServer on 2.x).

The small wire-level server of the other session tests is ours; this checks the same behaviour
against the reference server implementation of whichever stack is installed: protocol
negotiation, results and tool errors, and connection reuse counted at the server side.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from scalekit_langchain import _mcp_transport
from scalekit_langchain._mcp_content import to_langchain
from scalekit_langchain._mcp_session import ConnectParams, McpSession
from scalekit_langchain._mcp_stack import MCP_MAJOR
from scalekit_langchain.errors import ToolCallRejected
from tests.integration._net_support import CountingProxy, Served


@pytest.fixture(autouse=True)
def _patient_read_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    # As in test_session_wire: the server runs in this process, and a loaded machine may starve
    # its thread past the read-ahead's 0.1 s.
    monkeypatch.setattr(_mcp_transport, "READ_AHEAD_SECONDS", 1.0)


def _sdk_app(json_response: bool) -> Any:
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    def fail() -> str:
        """Always fails."""
        raise ValueError("this tool failed")

    if MCP_MAJOR >= 2:
        from mcp.server.mcpserver import MCPServer  # type: ignore[import-not-found, unused-ignore]

        server: Any = MCPServer("sdk-server")
        server.tool()(add)
        server.tool()(fail)
        return server.streamable_http_app(json_response=json_response)
    from mcp.server.fastmcp import FastMCP  # type: ignore[import-not-found, unused-ignore]

    server = FastMCP("sdk-server", json_response=json_response)
    server.tool()(add)
    server.tool()(fail)
    return server.streamable_http_app()


@pytest.fixture(params=["sse", "json"])
def proxied(request: pytest.FixtureRequest) -> Iterator[tuple[CountingProxy, str]]:
    with Served(_sdk_app(request.param == "json"), lifespan="on") as served, CountingProxy(
        served.port
    ) as proxy:
        yield proxy, f"http://127.0.0.1:{proxy.port}/mcp"


@asynccontextmanager
async def _session(url: str) -> AsyncIterator[McpSession]:
    async def params() -> ConnectParams:
        return ConnectParams(url=url, label="sdk-server")

    session = McpSession(params, call_timeout=10.0, connect_timeout=10.0)
    try:
        yield session
    finally:
        await session.aclose()


async def test_tools_results_and_tool_errors(proxied: tuple[CountingProxy, str]) -> None:
    _, url = proxied
    async with _session(url) as session:
        tools = {t.name: t for t in await session.list_tools()}
        assert set(tools) == {"add", "fail"}
        assert tools["add"].description == "Add two integers."
        assert set(tools["add"].input_schema["properties"]) == {"a", "b"}
        result = await session.call_tool("add", {"a": 2, "b": 3})
        assert (result.is_error, result.text, result.structured_content) == (
            False, "5", {"result": 5})
        assert to_langchain(result) == ("5", {"structured_content": {"result": 5}})
        failed = await session.call_tool("fail", {})
        assert failed.is_error is True
        assert "Error executing tool fail" in failed.text  # 2.x hides the exception text
        assert session.initializations == 1


async def test_unknown_tool_is_a_refusal_or_a_tool_error(
    proxied: tuple[CountingProxy, str],
) -> None:
    """The SDK servers answer an unknown tool with isError (1.x) or a JSON-RPC error (2.x)."""
    _, url = proxied
    async with _session(url) as session:
        try:
            result = await session.call_tool("no_such_tool", {})
        except ToolCallRejected as exc:
            assert exc.code is not None and exc.status_code is None
        else:
            assert result.is_error is True
        assert (await session.call_tool("add", {"a": 1, "b": 1})).text == "2"


async def test_warm_calls_open_no_new_connection(proxied: tuple[CountingProxy, str]) -> None:
    proxy, url = proxied
    async with _session(url) as session:
        await session.list_tools()
        for _ in range(2):
            await session.call_tool("add", {"a": 1, "b": 2})
        before = proxy.accepted
        for i in range(20):
            assert (await session.call_tool("add", {"a": i, "b": 1})).text == str(i + 1)
        assert proxy.accepted - before == 0
