"""Connection reuse: a warm tool call opens no TCP connection and does no TLS handshake.

Counted at the server side by a TCP proxy in front of the server (it counts the connections
it accepts; terminating TLS, each accepted connection is one full handshake). Runs against
the emulator (SSE and JSON answers, plain HTTP and TLS), which serves both MCP stacks.
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
from tests.integration._net_support import CountingProxy, self_signed
from tests.integration.conftest import ERAS

WARM_CALLS = 20


@pytest.fixture(autouse=True)
def _patient_read_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    # The read-ahead gives up after 0.1 s (servers that keep an answer's stream open); the
    # servers here run in this process, whose threads a loaded CI machine may starve that long.
    monkeypatch.setattr(_mcp_transport, "READ_AHEAD_SECONDS", 1.0)


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


@contextmanager
def _emulator_or_skip(answer: str = "sse") -> Iterator[Any]:
    """The emulator, or a skip where it does not run beside the installed mcp."""
    failed: str | None = None
    with warnings.catch_warnings():
        # An emulator that fails to start may leave its listening socket to the collector.
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            from scalekit_langchain.testing import ScalekitEmulator

            # The tests reach it through a counting proxy on another port, so the Host header
            # names the proxy: allow_remote turns the emulator's DNS-rebinding guard off.
            emulator = ScalekitEmulator(allow_remote=True, answer_mode=answer)  # type: ignore[arg-type]
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


def _mcp_counts(emu: Any) -> dict[str, int]:
    return {kind: n for kind, n in emu.counts().items() if kind.startswith("mcp.")}


@contextmanager
def _emulated_instance(answer: str = "sse", era: str = "handshake") -> Iterator[tuple[Any, str]]:
    """A running emulator and the URL of an instance whose tool may run (counts reset)."""
    with _emulator_or_skip(answer) as emu:
        emu.set_mcp_era(era)
        emu.authorize("wire-user", "MY_GMAIL")
        url = _instance_url(emu)
        emu.reset_counts()
        yield emu, url


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("answer", ["sse", "json"])
@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
async def test_warm_calls_open_no_new_connection(
    tls: bool, answer: str, era: str, certs: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    server_tls, client_tls = certs
    with _emulated_instance(answer, era) as (emu, url):
        upstream = urlsplit(url).port
        assert upstream is not None
        with CountingProxy(upstream, tls=server_tls if tls else None) as proxy:
            proxied = _via(url, proxy.port, "https" if tls else "http")
            async with _session(proxied, verify=client_tls if tls else None) as session:
                new = await _new_connections_for_warm_calls(
                    session, proxy, "gmail_fetch_mails", {"max_results": 1}
                )
                assert proxy.accepted >= 1  # it did go through the proxy (and TLS)
                counts = _mcp_counts(emu)
    assert new == 0  # with TLS: no handshake either
    # One request per warm call, nothing else on the wire (besides the handshake era's one GET
    # stream). mcp 2 first asks server/discover (the newest era the server offers); a
    # handshake-era server answers it with -32601 and the session falls back to initialize.
    opening = {"mcp.server/discover": 1} if MCP_MAJOR >= 2 else {}
    if era == "handshake":
        opening.update({"mcp.initialize": 1, "mcp.notifications/initialized": 1, "mcp.GET": 1})
    assert counts == {
        **opening,
        "mcp.tools/list": 1,
        "mcp.tools/call": 2 + WARM_CALLS,
    }


async def test_without_reading_answers_to_their_end_each_sse_call_costs_a_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The SDK behaviour the drain works around (and proof the count can fail): with the
    drain cut to nothing, every SSE answer closed early drops its connection."""
    async def closed_at_once(self: Any, limit: float = 0.0) -> list[bytes]:
        return []

    monkeypatch.setattr(_mcp_transport.AnswerStream, "read_rest", closed_at_once)
    with _emulated_instance("sse") as (emu, url):
        upstream = urlsplit(url).port
        assert upstream is not None
        with CountingProxy(upstream) as proxy:
            async with _session(_via(url, proxy.port)) as session:
                new = await _new_connections_for_warm_calls(
                    session, proxy, "gmail_fetch_mails", {"max_results": 1}
                )
        assert emu.count("mcp.tools/call") == 2 + WARM_CALLS
    assert new == WARM_CALLS
