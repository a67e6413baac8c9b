"""Wrapper overhead: our tool against a bare ``ClientSession.call_tool`` on the same session."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from langchain_mcp_adapters.tools import load_mcp_tools

from benchmarks._common import (
    ARGS,
    CONFIG,
    CONNECTION,
    SERVER,
    TOOL,
    adapters_client,
    invoke,
    median,
    ms,
    new_client,
    new_toolkit,
    pct,
    session_of,
    tool_call,
)
from benchmarks._emulator import EmulatorProcess
from benchmarks._https_modes import Bare
from scalekit_langchain import AsyncScalekitClient, _session_loop
from scalekit_langchain.toolkit import ScalekitMCPToolkit

# --------------------------------------------------------------------------- overhead


async def overhead(
    emu: EmulatorProcess,
    client: AsyncScalekitClient,
    *,
    calls: int,
    rounds: int,
    answer: str = "sse",
) -> dict[str, Any]:
    """Our tool against a bare ``ClientSession.call_tool`` on the same session, latency 0.

    ``answer``: how the emulator answers (``"sse"`` or ``"json"``). With SSE answers the bare
    call pays a new TCP connection each time (the SDK closes an SSE answer early and only our
    tool calls, which carry our call id, are read to the end by the session's transport);
    with JSON answers both reuse the connection, so that run isolates the wrapper's cost.

    Layers, on the toolkit's own MCP sessions (the first six) or on one adapters session. An
    async caller's session lives on its loop (no thread hop), so the first four run there and
    ``tool_on_session_loop`` is the same thing as ``tool`` (kept for the report's columns):

    * ``bare``: ``ClientSession.call_tool`` on the loop the session lives on;
    * ``session``: our ``McpSession.call_tool_on_loop`` there (re-send bookkeeping);
    * ``tool_on_session_loop`` / ``tool``: our tool's ``ainvoke`` there: what users get;
    * ``sync_bare``: ``ClientSession.call_tool`` of the background loop's session (the one
      sync calls use) driven from a plain thread, blocking on that loop (the sync floor);
    * ``sync_tool``: our tool's sync ``invoke`` from a plain thread;
    * ``adapters_bare`` / ``adapters_tool``: ``ClientSession.call_tool`` and the adapters'
      session-mode tool on one adapters session, from the caller's loop (the cost of a
      LangChain tool around an MCP call that anyone pays).

    Client CPU per call (this process, all threads) is measured per layer too.
    """
    user = f"overhead-user-{answer}"
    emu.authorize(user, CONNECTION)
    emu.clear_faults()
    emu.set_answer_mode(answer)
    url = (await client.mcp.ensure_instance(CONFIG, user)).url
    assert url
    toolkit = new_toolkit(client, user)
    try:
        tool = (await toolkit.aget_tools())[0]
        await invoke(tool, 0)
        mcp_session = session_of(toolkit, user)
        cs = mcp_session.sdk_session
        assert cs is not None
        # Sync calls use the background loop's pool: open that session, and take its SDK one.
        await asyncio.to_thread(tool.invoke, tool_call(tool, 0))
        sync_cs = await asyncio.to_thread(lambda: session_of(toolkit, user).sdk_session)
        assert sync_cs is not None and sync_cs is not cs
        async with adapters_client(url).session(SERVER) as a_session:
            a_tool = (await load_mcp_tools(a_session))[0]

            async def timed(fn: Callable[[int], Awaitable[Any]], n: int) -> list[float]:
                out = []
                for i in range(n):
                    t0 = time.perf_counter()
                    await fn(i)
                    out.append(time.perf_counter() - t0)
                return out

            on_loop = timed  # the toolkit's async session lives on this loop

            async def bare(i: int) -> Any:
                result = await cs.call_tool(TOOL, dict(ARGS))
                if result.isError:
                    raise RuntimeError("bare call failed")

            async def session(i: int) -> Any:
                result = await mcp_session.call_tool_on_loop(TOOL, dict(ARGS))
                if result.is_error:
                    raise RuntimeError("session call failed")

            async def ours(i: int) -> None:
                await invoke(tool, i)

            def sync_timed(fn: Callable[[int], Any], n: int) -> list[float]:
                out = []
                for i in range(n):
                    t0 = time.perf_counter()
                    fn(i)
                    out.append(time.perf_counter() - t0)
                return out

            def in_thread(fn: Callable[[int], Any], n: int) -> Awaitable[list[float]]:
                return asyncio.to_thread(sync_timed, fn, n)

            def sync_bare(i: int) -> None:
                result = _session_loop.run_sync(sync_cs.call_tool(TOOL, dict(ARGS)))
                if result.isError:
                    raise RuntimeError("sync bare call failed")

            def sync_ours(i: int) -> None:
                message = tool.invoke(tool_call(tool, i))
                if getattr(message, "status", None) == "error":
                    raise RuntimeError("sync tool call failed")

            async def a_bare(i: int) -> Any:
                result = await a_session.call_tool(TOOL, dict(ARGS))
                if result.isError:
                    raise RuntimeError("adapters bare call failed")

            async def a_tool_call(i: int) -> None:
                await invoke(a_tool, i)

            layers: dict[str, Callable[[int], Awaitable[list[float]]]] = {
                "bare": lambda n: on_loop(bare, n),
                "session": lambda n: on_loop(session, n),
                "tool_on_session_loop": lambda n: on_loop(ours, n),
                "tool": lambda n: timed(ours, n),
                "sync_bare": lambda n: in_thread(sync_bare, n),
                "sync_tool": lambda n: in_thread(sync_ours, n),
                "adapters_bare": lambda n: timed(a_bare, n),
                "adapters_tool": lambda n: timed(a_tool_call, n),
            }
            for run in layers.values():  # warm-up
                await run(3)
            per_round = max(1, calls // rounds)
            times: dict[str, list[float]] = {k: [] for k in layers}
            cpu: dict[str, float] = dict.fromkeys(layers, 0.0)
            emu.reset_counts()
            for _ in range(rounds):
                for name, run in layers.items():
                    c0 = time.process_time()
                    times[name].extend(await run(per_round))
                    cpu[name] += time.process_time() - c0
            counts = emu.counts()
    finally:
        emu.set_answer_mode("sse")
        await toolkit.aclose()
    med = {k: median(v) for k, v in times.items()}
    out: dict[str, Any] = {
        name: {
            "median_ms": ms(med[name]), "p95_ms": ms(pct(v, 95)), "calls": len(v),
            "client_cpu_ms_per_call": ms(cpu[name] / len(v)),
        }
        for name, v in times.items()
    }
    out["overhead"] = med["tool"] / med["bare"] - 1.0
    out["sync_overhead"] = med["sync_tool"] / med["sync_bare"] - 1.0
    out["adapters_overhead"] = med["adapters_tool"] / med["adapters_bare"] - 1.0
    out["counts"] = counts
    out["answer"] = answer
    return out


# --------------------------------------------------------------------------- wrapper CPU


async def wrapper_cpu(
    emu: EmulatorProcess, client: AsyncScalekitClient, *, calls: int, reps: int = 3
) -> dict[str, float]:
    """CPU cost of each layer per call with the network taken out (microseconds).

    The live ``ClientSession.call_tool`` of the toolkit's session (and of one adapters session)
    is replaced by a fake that yields once and returns a recorded result, so what is left is
    the cost of the code around it. Each layer runs ``calls`` times, ``reps`` times; the
    minimum is kept (the usual estimator for CPU micro-benchmarks).
    """
    user = "cpu-user"
    emu.authorize(user, CONNECTION)
    url = (await client.mcp.ensure_instance(CONFIG, user)).url
    assert url
    toolkit = new_toolkit(client, user)
    try:
        tool = (await toolkit.aget_tools())[0]
        mcp_session = session_of(toolkit, user)
        cs = mcp_session.sdk_session
        assert cs is not None
        canned = await cs.call_tool(TOOL, dict(ARGS))  # the session lives on this loop

        async def fake_call_tool(*args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(0)
            return canned

        async with adapters_client(url).session(SERVER) as a_session:
            a_tool = (await load_mcp_tools(a_session))[0]
            cs.call_tool = fake_call_tool  # type: ignore[method-assign]
            a_session.call_tool = fake_call_tool  # type: ignore[method-assign]
            try:

                async def loop(fn: Callable[[int], Awaitable[Any]], n: int) -> float:
                    for i in range(min(50, n)):
                        await fn(i)
                    t0 = time.perf_counter()
                    for i in range(n):
                        await fn(i)
                    return (time.perf_counter() - t0) / n * 1e6

                async def noop() -> None:
                    await asyncio.sleep(0)

                on_session_loop = {
                    "fake": lambda i: cs.call_tool(TOOL, dict(ARGS)),
                    "session": lambda i: mcp_session.call_tool_on_loop(TOOL, dict(ARGS)),
                    "toolkit": lambda i: toolkit.arun_tool(TOOL, dict(ARGS), None, None),
                    "tool_on_session_loop": lambda i: tool.ainvoke(tool_call(tool, i)),
                }
                on_caller_loop = {
                    "tool": lambda i: tool.ainvoke(tool_call(tool, i)),
                    "hop": lambda i: _session_loop.run(noop()),
                    "adapters_tool": lambda i: a_tool.ainvoke(tool_call(a_tool, i)),
                }
                best: dict[str, float] = {}
                for _ in range(reps):
                    for name, fn in on_session_loop.items():
                        # The loop the session lives on: this one (no hop any more).
                        t = await loop(fn, calls)
                        best[name] = min(best.get(name, math.inf), t)
                    for name, fn in on_caller_loop.items():
                        t = await loop(fn, calls)
                        best[name] = min(best.get(name, math.inf), t)
            finally:
                del cs.call_tool
                del a_session.call_tool
    finally:
        await toolkit.aclose()
    return best


# --------------------------------------------------------------------------- throughput


async def throughput(
    emu: EmulatorProcess,
    *,
    users: Sequence[int],
    total_calls: int,
    rounds: int,
    tag: str,
    answer: str = "sse",
) -> list[dict[str, Any]]:
    """Warm calls/s and client CPU per call with ``n`` users calling at once, latency 0.

    For each ``n``: ``n`` users with open sessions (opened before timing) each make
    ``total_calls // n`` (at least 3) sequential calls, all users at once, through our
    multi-user toolkit (tool ``ainvoke`` from the caller's loop) and through ``n`` bare
    ``mcp`` ``ClientSession``s on the caller's loop, each with the SDK's own HTTP transport.
    The two alternate ``rounds`` times; each figure is the median over rounds. ``answer``:
    how the emulator answers MCP POSTs (with SSE the bare sessions open a connection per call).
    """
    emu.set_answer_mode(answer)
    try:
        rows = [
            await _throughput_at(
                emu, n, per_user=max(3, total_calls // n), rounds=rounds, tag=f"{tag}{answer}"
            )
            for n in users
        ]
        for row in rows:
            row["answer"] = answer
        return rows
    finally:
        emu.set_answer_mode("sse")


async def _throughput_at(
    emu: EmulatorProcess, n: int, *, per_user: int, rounds: int, tag: str
) -> dict[str, Any]:
    names = [f"{tag}-{n}-{i}" for i in range(n)]
    for name in names:
        emu.authorize(name, CONNECTION)
    emu.clear_faults()
    client = new_client(emu)
    toolkit = ScalekitMCPToolkit(client=client, config_name=CONFIG)
    samples: dict[str, list[tuple[float, float]]] = {"ours": [], "bare_sdk": []}
    try:
        tools = await asyncio.gather(*(toolkit.aget_tools(user_identifier=u) for u in names))
        urls = [(await client.mcp.ensure_instance(CONFIG, u)).url or "" for u in names]
        async with contextlib.AsyncExitStack() as stack:
            bare = [Bare(url, None) for url in urls]
            for b in bare:
                stack.push_async_callback(b.close)
            for b in bare:  # in this task: the SDK's contexts are bound to it
                await b.open()

            async def ours_user(i: int) -> None:
                tool = tools[i][0]
                config: Any = {"configurable": {"user_id": names[i]}}
                for j in range(per_user):
                    message = await tool.ainvoke(tool_call(tool, j), config=config)
                    if getattr(message, "status", None) == "error":
                        raise RuntimeError("tool call failed")

            async def bare_user(i: int) -> None:
                for j in range(per_user):
                    await bare[i].call(j)

            runs = {"ours": ours_user, "bare_sdk": bare_user}
            for fn in runs.values():  # warm-up: one call per user
                await asyncio.gather(*(fn(i) for i in range(n)))
            for _ in range(rounds):
                for mode, fn in runs.items():
                    gc.collect()
                    c0, t0 = time.process_time(), time.perf_counter()
                    await asyncio.gather(*(fn(i) for i in range(n)))
                    t1, c1 = time.perf_counter(), time.process_time()
                    samples[mode].append((t1 - t0, c1 - c0))
    finally:
        await toolkit.aclose()
        await client.aclose()
    calls = n * per_user
    row: dict[str, Any] = {"users": n, "calls": calls, "rounds": rounds}
    for mode, pairs in samples.items():
        row[mode] = {
            "calls_per_second": median([calls / wall for wall, _ in pairs]),
            "client_cpu_ms_per_call": ms(median([cpu / calls for _, cpu in pairs])),
        }
    return row
