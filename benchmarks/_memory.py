"""Memory per open user session (tracemalloc and resident), and the cost of a transport."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
import tracemalloc
from collections import Counter
from collections.abc import Sequence
from typing import Any

from langchain_core.tools import BaseTool
from langchain_mcp_adapters.tools import load_mcp_tools

from benchmarks._common import (
    CONFIG,
    CONNECTION,
    SERVER,
    adapters_client,
    invoke,
    ms,
    new_client,
    new_toolkit,
    rss_bytes,
    trim_heap,
)
from benchmarks._emulator import EmulatorProcess
from scalekit_langchain.toolkit import ScalekitMCPToolkit

# --------------------------------------------------------------------------- memory


_BUCKETS = (
    ("scalekit_langchain", "scalekit_langchain (ours)"),
    ("langchain_mcp_adapters", "langchain-mcp-adapters"),
    ("langchain_core", "langchain-core"),
    ("/mcp/", "mcp SDK"),
    ("httpx", "httpx / httpcore"),
    ("httpcore", "httpx / httpcore"),
    ("anyio", "anyio"),
    ("pydantic", "pydantic"),
    ("asyncio", "asyncio (stdlib)"),
    ("ssl", "ssl (stdlib)"),
)


def _bucket(filename: str) -> str:
    for needle, name in _BUCKETS:
        if needle in filename:
            return name
    return "other"


class _HeldSession:
    """An adapters explicit session held open by its own task (contexts are task-bound)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ready: asyncio.Future[BaseTool] = asyncio.get_running_loop().create_future()
        self.done = asyncio.Event()
        self.task = asyncio.ensure_future(self._hold())

    async def _hold(self) -> None:
        try:
            async with adapters_client(self.url).session(SERVER) as session:
                tool = (await load_mcp_tools(session))[0]
                await invoke(tool, 0)
                self.ready.set_result(tool)
                await self.done.wait()
        except BaseException as exc:
            if not self.ready.done():
                self.ready.set_exception(exc)
            raise

    async def close(self) -> None:
        self.done.set()
        with contextlib.suppress(Exception):
            await self.task


async def memory(
    emu: EmulatorProcess, *, sizes: Sequence[int], tag: str, adapters: bool = False
) -> list[dict[str, Any]]:
    """Memory per open user session: ``tracemalloc`` delta / open sessions, at each size.

    Sessions are opened in stages up to each size in ``sizes`` (concurrently within a stage)
    and kept open. One user is opened (and called) before the measurement starts, so one-time
    costs (the client's HTTP pool and token, import-time caches, the session loop) are
    excluded. Each measured user gets a connected toolkit and makes one call (its session
    fully open). With ``adapters=True`` the same is done with the adapters' explicit sessions
    (``client.session(name)`` + ``load_mcp_tools``), for reference.
    """
    total = max(sizes)
    names = [f"{tag}-{i}" for i in range(total + 1)]
    for name in names:
        emu.authorize(name, CONNECTION)
    emu.clear_faults()
    client = new_client(emu)
    toolkits: list[ScalekitMCPToolkit] = []
    held: list[_HeldSession] = []
    rows: list[dict[str, Any]] = []
    try:
        urls: list[str] = []
        if adapters:
            for name in names:
                url = (await client.mcp.ensure_instance(CONFIG, name)).url
                assert url
                urls.append(url)

        async def open_one(i: int) -> None:
            if adapters:
                h = _HeldSession(urls[i])
                held.append(h)
                await h.ready
            else:
                toolkit = new_toolkit(client, names[i])
                toolkits.append(toolkit)
                await invoke((await toolkit.aget_tools())[0], 0)

        await open_one(0)
        gc.collect()
        tracemalloc.start(1)
        try:
            before = tracemalloc.get_traced_memory()[0]
            snap0 = tracemalloc.take_snapshot()
            opened = 0
            for size in sorted(sizes):
                await asyncio.gather(*(open_one(i) for i in range(opened + 1, size + 1)))
                opened = size
                await asyncio.sleep(0.05)
                gc.collect()
                rows.append({
                    "users": size,
                    "bytes_per_session": (tracemalloc.get_traced_memory()[0] - before) / size,
                })
            snap1 = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        by_bucket: Counter[str] = Counter()
        for stat in snap1.compare_to(snap0, "filename"):
            by_bucket[_bucket(stat.traceback[0].filename)] += stat.size_diff
        rows[-1]["by_bucket"] = {k: v / opened for k, v in by_bucket.most_common()}
    finally:
        await asyncio.gather(*(h.close() for h in held), return_exceptions=True)
        await asyncio.gather(*(t.aclose() for t in toolkits), return_exceptions=True)
        await client.aclose()
    return rows


async def rss_per_session(emu: EmulatorProcess, *, users: int, tag: str) -> dict[str, Any]:
    """Resident memory per open user session (no tracemalloc), to show what tracemalloc cannot
    see (memory allocated by C libraries, e.g. OpenSSL contexts). Run first: freed memory
    that the allocator reuses would hide growth. A rough figure."""
    names = [f"{tag}-{i}" for i in range(users + 1)]
    for name in names:
        emu.authorize(name, CONNECTION)
    client = new_client(emu)
    toolkits = [new_toolkit(client, n) for n in names]
    try:
        await invoke((await toolkits[0].aget_tools())[0], 0)
        gc.collect()
        trim_heap()
        before = rss_bytes()

        async def open_one(t: ScalekitMCPToolkit) -> None:
            await invoke((await t.aget_tools())[0], 0)

        await asyncio.gather(*(open_one(t) for t in toolkits[1:]))
        gc.collect()
        after = rss_bytes()
    finally:
        await asyncio.gather(*(t.aclose() for t in toolkits), return_exceptions=True)
        await client.aclose()
    return {"users": users, "bytes_per_session": (after - before) / users}


def transport_cost(n: int) -> dict[str, float]:
    """CPU and resident memory of one ``httpx.AsyncHTTPTransport()`` (a new SSL context with
    the CA bundle loaded), which ``session.py`` creates for every MCP session it opens."""
    import httpx

    httpx.AsyncHTTPTransport()  # imports and caches warmed
    gc.collect()
    trim_heap()
    r0, c0 = rss_bytes(), time.process_time()
    keep = [httpx.AsyncHTTPTransport() for _ in range(n)]
    c1, r1 = time.process_time(), rss_bytes()
    del keep
    return {"cpu_ms": ms((c1 - c0) / n), "rss_bytes": (r1 - r0) / n}
