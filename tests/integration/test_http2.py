"""Parallel calls of one model turn over HTTP/2: one connection where the server speaks h2.

The emulator (plain HTTP/1.1) sits behind a TLS edge that offers ``h2`` and ``http/1.1``
(:mod:`tests.integration._h2_edge`, Hypercorn), behind a TCP proxy that counts the client's
connections. The toolkit's MCP session is pointed at the proxy and trusts the edge's
certificate; REST calls go to the emulator directly. Five calls of one turn are in flight
together (the emulator holds each tools/call 0.3 s). In both MCP eras: the handshake era's
session also keeps a standing GET stream open (one more HTTP/1.1 connection).
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from langchain_core.messages import ToolMessage
from pydantic import ValidationError

from scalekit_langchain import AsyncScalekitClient, ScalekitMCPToolkit
from scalekit_langchain._session_opener import SessionOpener
from scalekit_langchain.testing import ScalekitEmulator
from tests.integration._h2_edge import H2Edge
from tests.integration._net_support import CountingProxy
from tests.integration._toolkit_support import SEED_CONFIG, authorize_all, seed_toolkit
from tests.integration.conftest import ERAS

TOOL = "gmail_fetch_mails"
HOLD = 0.3  # seconds the emulator holds each tools/call: the five overlap
PARALLEL = 5


@pytest.fixture
def edge(emulator: ScalekitEmulator) -> Iterator[tuple[H2Edge, CountingProxy]]:
    authorize_all(emulator)
    h2_edge = H2Edge(int(urlsplit(emulator.env_url).port or 0))
    with h2_edge, CountingProxy(h2_edge.port) as proxy:
        yield h2_edge, proxy


@asynccontextmanager
async def _toolkit(
    aclient: AsyncScalekitClient, edge: H2Edge, proxy: CountingProxy, http2: bool | None
) -> AsyncIterator[ScalekitMCPToolkit]:
    toolkit = seed_toolkit(aclient, http2=http2)
    opener = toolkit.session_pool.factory
    assert isinstance(opener, SessionOpener)
    made: Callable[[str], Any] = opener.params_for

    async def through_edge(user: str) -> Any:
        params = await made(user)
        parts = urlsplit(params.url)
        url = urlunsplit(("https", f"127.0.0.1:{proxy.port}", parts.path, parts.query, ""))
        return dataclasses.replace(params, url=url, verify=edge.client_tls)

    opener.params_for = through_edge
    try:
        yield toolkit
    finally:
        await toolkit.aclose()


async def _one_turn(toolkit: ScalekitMCPToolkit) -> float:
    """Five calls of one model turn at once (as ToolNode runs them); their wall seconds."""
    tool = next(t for t in await toolkit.aget_tools() if t.name == TOOL)
    calls = [
        {"type": "tool_call", "id": f"call_{i}", "name": TOOL, "args": {"max_results": 1}}
        for i in range(PARALLEL)
    ]
    t0 = time.perf_counter()
    messages = await asyncio.gather(*(tool.ainvoke(call) for call in calls))
    wall = time.perf_counter() - t0
    assert all(isinstance(m, ToolMessage) and m.status != "error" for m in messages), messages
    return wall


@pytest.mark.parametrize("mcp_era", ERAS)
async def test_five_parallel_calls_share_one_h2_connection(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient, edge: tuple[H2Edge, CountingProxy]
) -> None:
    h2_edge, proxy = edge
    emulator.set_latency(HOLD, kind="mcp.tools/call")
    async with _toolkit(aclient, h2_edge, proxy, http2=True) as toolkit:
        await _one_turn(toolkit)
        # The session's opening, its GET stream (handshake era) and the five calls: one
        # connection.
        assert proxy.accepted == 1
        assert emulator.count("mcp.tools/call") == PARALLEL
        assert set(h2_edge.app.versions) == {"2"}
        # The next turn reuses it; its calls overlap as streams (one after another would take
        # 5 x 0.3 s; the first turn of a process also pays one-time warm-up, so it is not timed).
        wall = await _one_turn(toolkit)
        assert wall < PARALLEL * HOLD
        assert proxy.accepted == 1
        assert emulator.count("mcp.tools/call") == 2 * PARALLEL


@pytest.mark.parametrize("mcp_era", ERAS)
async def test_over_http11_the_first_turn_opens_a_connection_per_call(
    emulator: ScalekitEmulator,
    aclient: AsyncScalekitClient,
    edge: tuple[H2Edge, CountingProxy],
    mcp_era: str,
) -> None:
    """The same turn with http2=False. HTTP/1.1 carries one request at a time per connection:
    the session's opening leaves its connection in the pool (plus, in the handshake era, the
    standing GET stream's); that pooled connection takes one call and the four other calls in
    flight open one each: 5 for the calls (+1 GET stream). The next turn finds the five pooled
    (keep-alive) and opens none."""
    h2_edge, proxy = edge
    stream = 1 if mcp_era == "handshake" else 0
    emulator.set_latency(HOLD, kind="mcp.tools/call")
    async with _toolkit(aclient, h2_edge, proxy, http2=False) as toolkit:
        await toolkit.aget_tools()
        opened = proxy.accepted
        assert opened == 1 + stream
        await _one_turn(toolkit)
        assert proxy.accepted - opened == PARALLEL - 1
        assert proxy.accepted == PARALLEL + stream
        assert emulator.count("mcp.tools/call") == PARALLEL
        assert set(h2_edge.app.versions) == {"1.1"}
        await _one_turn(toolkit)
        assert proxy.accepted == PARALLEL + stream
        assert emulator.count("mcp.tools/call") == 2 * PARALLEL


async def test_without_h2_the_default_falls_back_to_http11(
    monkeypatch: pytest.MonkeyPatch,
    emulator: ScalekitEmulator,
    aclient: AsyncScalekitClient,
    edge: tuple[H2Edge, CountingProxy],
) -> None:
    monkeypatch.setitem(sys.modules, "h2", None)  # `import h2` raises ImportError
    h2_edge, proxy = edge
    async with _toolkit(aclient, h2_edge, proxy, http2=None) as toolkit:
        await _one_turn(toolkit)
        assert emulator.count("mcp.tools/call") == PARALLEL
        assert set(h2_edge.app.versions) == {"1.1"}


def test_requiring_http2_without_h2_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, aclient: AsyncScalekitClient
) -> None:
    monkeypatch.setitem(sys.modules, "h2", None)
    with pytest.raises(ValidationError, match=r'pip install "scalekit-langchain\[h2\]"'):
        ScalekitMCPToolkit(client=aclient, config_name=SEED_CONFIG, http2=True)
    # None (the default) and False need nothing.
    ScalekitMCPToolkit(client=aclient, config_name=SEED_CONFIG, http2=None)
    ScalekitMCPToolkit(client=aclient, config_name=SEED_CONFIG, http2=False)
