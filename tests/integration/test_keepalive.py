"""Connections that outlive a model's turn: an idle connection is kept as long as configured,
and a connection the server closed while idle costs a new connection, never the call.

Counted at the server side by a TCP proxy in front of the emulator (it passes the server's
close on to the client). Small numbers stand for the real ones (a server keeping connections
60 s, a call after 30 s idle): the server keeps idle connections 3 s, the call comes after
1.5 s.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from scalekit_langchain import _mcp_transport
from scalekit_langchain._mcp_session import KEEPALIVE_EXPIRY, ConnectParams, McpSession
from scalekit_langchain.testing import ScalekitEmulator
from tests.integration._net_support import CountingProxy

IDLE = 1.5
TOOL, ARGS = "gmail_fetch_mails", {"max_results": 1}


@pytest.fixture(autouse=True)
def _patient_read_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    # As in test_session_wire: a loaded machine may starve the in-process server's thread.
    monkeypatch.setattr(_mcp_transport, "READ_AHEAD_SECONDS", 1.0)


@contextmanager
def _proxied_instance(idle_timeout: float, answer: str) -> Iterator[tuple[str, CountingProxy]]:
    """An emulator that keeps idle connections ``idle_timeout`` s, an instance URL through a
    counting proxy."""
    # allow_remote: the Host header names the proxy's port.
    with ScalekitEmulator(
        allow_remote=True, idle_timeout=idle_timeout, answer_mode=answer  # type: ignore[arg-type]
    ) as emu:
        emu.authorize("idle-user", "MY_GMAIL")
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
            rest.post(
                "/api/v1/mcp/configs",
                json={
                    "name": "idle",
                    "connection_tool_mappings": [
                        {"connection_name": "MY_GMAIL", "tools": ["gmail_fetch_mails"]}
                    ],
                },
            ).raise_for_status()
            url = rest.post(
                "/api/v1/mcp/instances",
                json={"config_name": "idle", "user_identifier": "idle-user"},
            ).json()["instance"]["url"]
        parts = urlsplit(url)
        assert parts.port is not None
        with CountingProxy(parts.port) as proxy:
            yield urlunsplit(("http", f"127.0.0.1:{proxy.port}", parts.path, "", "")), proxy


@asynccontextmanager
async def _session(url: str, keepalive: float) -> AsyncIterator[McpSession]:
    async def params() -> ConnectParams:
        return ConnectParams(url=url, label="idle-test")

    session = McpSession(
        params, call_timeout=10.0, connect_timeout=10.0, keepalive_expiry=keepalive
    )
    try:
        yield session
    finally:
        await session.aclose()


async def _new_connections_after_idle(session: McpSession, proxy: CountingProxy) -> int:
    for _ in range(2):  # warm: the session, its GET stream, the pooled POST connection
        assert not (await session.call_tool(TOOL, ARGS)).is_error
    await asyncio.sleep(IDLE)
    before = proxy.accepted
    result = await session.call_tool(TOOL, ARGS)
    assert not result.is_error
    return proxy.accepted - before


def test_the_default_keepalive_outlives_a_models_turn() -> None:
    assert KEEPALIVE_EXPIRY >= 30  # a call after 30 s idle reuses the connection
    assert KEEPALIVE_EXPIRY < 60  # and the client lets go before a 60 s server does


@pytest.mark.parametrize("answer", ["sse", "json"])
async def test_a_call_after_idle_opens_no_new_connection(answer: str) -> None:
    with _proxied_instance(3.0, answer) as (url, proxy):
        async with _session(url, keepalive=5.0) as session:
            assert await _new_connections_after_idle(session, proxy) == 0


async def test_a_shorter_client_keepalive_pays_a_new_connection() -> None:
    """Proof the count can fail: httpx's 5 s default stands in, shortened like the rest."""
    with _proxied_instance(3.0, "sse") as (url, proxy):
        async with _session(url, keepalive=0.5) as session:
            assert await _new_connections_after_idle(session, proxy) == 1


async def test_a_connection_the_server_closed_while_idle_costs_a_connection_not_the_call() -> None:
    """The server closes first (0.5 s < 1.5 s idle < 5 s keep-alive): the HTTP pool sees the
    closed socket before writing, so the call goes out once on a new connection and runs."""
    with _proxied_instance(0.5, "sse") as (url, proxy):
        async with _session(url, keepalive=5.0) as session:
            assert await _new_connections_after_idle(session, proxy) == 1


def test_a_profile_carries_the_servers_idle_timeout() -> None:
    assert ScalekitEmulator().idle_timeout == 5.0  # uvicorn's default, as before
    assert ScalekitEmulator(profile={"idle_timeout": 60}).idle_timeout == 60.0
    assert ScalekitEmulator(profile={"idle_timeout": 60}, idle_timeout=3).idle_timeout == 3
    for bad in (0, "60", True):
        with pytest.raises(ValueError, match="idle_timeout"):
            ScalekitEmulator(profile={"idle_timeout": bad})


def test_the_doctors_observation_becomes_the_profiles_idle_timeout() -> None:
    from scalekit_langchain.doctor._idle_timeout import idle_timeout_setting

    assert idle_timeout_setting({"closed_after_seconds": 60.08, "watched_seconds": 75}) == 60
    # Never closed while watched: it keeps connections at least that long.
    assert idle_timeout_setting({"closed_after_seconds": None, "watched_seconds": 75}) == 75
    assert idle_timeout_setting({"closed_after_seconds": 0.0, "watched_seconds": 75}) is None
    assert idle_timeout_setting({"error": "ConnectError"}) is None
    assert idle_timeout_setting(None) is None


async def test_the_doctor_watch_sees_the_server_close_an_idle_connection() -> None:
    from scalekit_langchain.doctor._idle_timeout import watch_idle_connection

    with ScalekitEmulator(idle_timeout=1.0) as emu:
        url = f"{emu.env_url}/mcp/v2/servers/unknown"
        closed = await watch_idle_connection(url, limit=5.0, timeout=5.0)
        kept = await watch_idle_connection(url, limit=0.5, timeout=5.0)
    assert closed["closed_after_seconds"] is not None
    assert 1.0 <= closed["closed_after_seconds"] < 5.0
    assert kept["closed_after_seconds"] is None
