"""Connection reuse: a warm tool call opens no TCP connection and does no TLS handshake.

Counted at the server side by a TCP proxy in front of the server (it counts the connections
it accepts; terminating TLS, each accepted connection is one full handshake). Runs on both MCP
stacks against a small wire-level MCP server, and on the stacks the emulator supports against
the emulator too.
"""

from __future__ import annotations

import asyncio
import gc
import ssl
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from scalekit_langchain import _mcp_transport
from scalekit_langchain._mcp_session import ConnectParams, McpSession
from scalekit_langchain._mcp_stack import MCP_MAJOR
from tests.integration._mini_mcp import CountingProxy, MiniMcp, Served, self_signed

WARM_CALLS = 20


@pytest.fixture(autouse=True)
def _patient_read_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    # The read-ahead gives up after 0.1 s (servers that keep an answer's stream open); the
    # servers here run in this process, whose threads a loaded CI machine may starve that long.
    monkeypatch.setattr(_mcp_transport, "_READ_AHEAD_SECONDS", 1.0)


@pytest.fixture(scope="module")
def certs() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    return self_signed()


@asynccontextmanager
async def _session(url: str, verify: ssl.SSLContext | None = None) -> AsyncIterator[McpSession]:
    async def params() -> ConnectParams:
        return ConnectParams(url=url, label="wire-test", verify=verify)

    session = McpSession(params, call_timeout=10.0, connect_timeout=10.0)
    try:
        yield session
    finally:
        await session.aclose()


def _via(url: str, port: int, scheme: str = "http") -> str:
    parts = urlsplit(url)
    return urlunsplit((scheme, f"127.0.0.1:{port}", parts.path, parts.query, ""))


async def _new_connections_for_warm_calls(
    session: McpSession, proxy: CountingProxy, tool: str, args: dict[str, Any]
) -> int:
    await session.list_tools()
    for _ in range(2):  # warm-up: the session, its GET stream, the pooled POST connection
        await session.call_tool(tool, args)
    await asyncio.sleep(0.05)
    before = proxy.accepted
    for _ in range(WARM_CALLS):
        result = await session.call_tool(tool, args)
        assert not result.is_error
    return proxy.accepted - before


@pytest.fixture
def mini() -> Iterator[tuple[MiniMcp, Served]]:
    server = MiniMcp(answer="sse")
    with Served(server) as served:
        yield server, served


@pytest.mark.parametrize("answer", ["sse", "json"])
async def test_warm_calls_open_no_new_connection(answer: str) -> None:
    server = MiniMcp(answer=answer)
    with Served(server) as served, CountingProxy(served.port) as proxy:
        url = f"http://127.0.0.1:{proxy.port}{server.path}"
        async with _session(url) as session:
            new = await _new_connections_for_warm_calls(session, proxy, "echo", {"text": "hi"})
    assert new == 0
    # One request per warm call, nothing else on the wire.
    assert server.counts == {
        "initialize": 1,
        "notifications/initialized": 1,
        "tools/list": 1,
        "tools/call": 2 + WARM_CALLS,
    }


async def test_warm_calls_through_tls_do_no_handshake(
    certs: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    server_tls, client_tls = certs
    server = MiniMcp(answer="sse")
    with Served(server) as served, CountingProxy(served.port, tls=server_tls) as proxy:
        url = f"https://127.0.0.1:{proxy.port}{server.path}"
        async with _session(url, verify=client_tls) as session:
            handshakes = await _new_connections_for_warm_calls(
                session, proxy, "echo", {"text": "hi"}
            )
            assert proxy.accepted >= 1  # it did go through TLS
    assert handshakes == 0
    assert server.counts["tools/call"] == 2 + WARM_CALLS


async def test_without_reading_answers_to_their_end_each_sse_call_costs_a_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The SDK behaviour the drain works around (and proof the count can fail): with the
    drain cut to nothing, every SSE answer closed early drops its connection."""
    async def closed_at_once(self: Any, limit: float = 0.0) -> list[bytes]:
        return []

    monkeypatch.setattr(_mcp_transport.AnswerStream, "_read_rest", closed_at_once)
    server = MiniMcp(answer="sse")
    with Served(server) as served, CountingProxy(served.port) as proxy:
        url = f"http://127.0.0.1:{proxy.port}{server.path}"
        async with _session(url) as session:
            new = await _new_connections_for_warm_calls(session, proxy, "echo", {"text": "hi"})
    assert new == WARM_CALLS


@contextmanager
def _emulator_or_skip() -> Iterator[Any]:
    """The emulator, or a skip where it does not run beside the installed mcp."""
    failed: str | None = None
    with warnings.catch_warnings():
        # An emulator that fails to start may leave its listening socket to the collector.
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            from scalekit_langchain.testing import ScalekitEmulator

            # The tests reach it through a counting proxy on another port, so the Host header
            # names the proxy: allow_remote turns the emulator's DNS-rebinding guard off.
            emulator = ScalekitEmulator(allow_remote=True)
            emulator.__enter__()
        except Exception as exc:
            failed = type(exc).__name__
        if failed is not None:
            gc.collect()  # the failed start's frames (and socket) go now, warnings ignored
    if failed is not None:
        pytest.skip(f"emulator unavailable on mcp {MCP_MAJOR}: {failed}")
    try:
        yield emulator
    finally:
        emulator.__exit__(None, None, None)


def _instance_url(emu: Any) -> str:
    import httpx

    with httpx.Client(base_url=emu.env_url, timeout=10) as rest:
        token = rest.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": emu.client_id,
                "client_secret": emu.client_secret,
            },
        ).json()["access_token"]
        rest.headers["Authorization"] = f"Bearer {token}"
        created = rest.post(
            "/api/v1/mcp/configs",
            json={
                "name": "wire-reuse",
                "connection_tool_mappings": [
                    {"connection_name": "MY_GMAIL", "tools": ["gmail_fetch_mails"]}
                ],
            },
        )
        assert created.status_code == 201, created.text
        instance = rest.post(
            "/api/v1/mcp/instances",
            json={"config_name": "wire-reuse", "user_identifier": "wire-user"},
        )
        return str(instance.json()["instance"]["url"])


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
async def test_warm_calls_against_the_emulator_reuse_the_connection(
    tls: bool, certs: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    server_tls, client_tls = certs
    with _emulator_or_skip() as emu:
        emu.authorize("wire-user", "MY_GMAIL")
        url = _instance_url(emu)
        upstream = urlsplit(url).port
        assert upstream is not None
        with CountingProxy(upstream, tls=server_tls if tls else None) as proxy:
            proxied = _via(url, proxy.port, "https" if tls else "http")
            async with _session(proxied, verify=client_tls if tls else None) as session:
                emu.reset_counts()
                new = await _new_connections_for_warm_calls(
                    session, proxy, "gmail_fetch_mails", {"max_results": 1}
                )
        assert emu.count("mcp.tools/call") == 2 + WARM_CALLS
    assert new == 0
