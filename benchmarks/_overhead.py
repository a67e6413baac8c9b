"""Wrapper overhead: our tool against a bare ``ClientSession.call_tool`` on the same session."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
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
    new_toolkit,
    pct,
    session_of,
    tool_call,
)
from benchmarks._emulator import EmulatorProcess
from scalekit_langchain import AsyncScalekitClient, _runner

# --------------------------------------------------------------------------- overhead


async def overhead(
    emu: EmulatorProcess, client: AsyncScalekitClient, *, calls: int, rounds: int
) -> dict[str, Any]:
    """Our tool against a bare ``ClientSession.call_tool`` on the same session, latency 0.

    Layers, all on the toolkit's own MCP session (the first four) or on one adapters session:

    * ``bare``: ``ClientSession.call_tool`` on the session loop (where the session lives);
    * ``session``: our ``McpSession._call_tool`` on the session loop (re-send bookkeeping);
    * ``tool_on_session_loop``: our tool's ``ainvoke`` on the session loop (no thread hop);
    * ``tool``: our tool's ``ainvoke`` from the caller's loop: what users get;
    * ``adapters_bare`` / ``adapters_tool``: ``ClientSession.call_tool`` and the adapters'
      session-mode tool on one adapters session, from the caller's loop (the cost of a
      LangChain tool around an MCP call that anyone pays).
    """
    user = "overhead-user"
    emu.authorize(user, CONNECTION)
    emu.clear_faults()
    url = (await client.mcp.ensure_instance(CONFIG, user)).url
    assert url
    toolkit = new_toolkit(client, user)
    try:
        tool = (await toolkit.aget_tools())[0]
        await invoke(tool, 0)
        mcp_session = session_of(toolkit, user)
        live = mcp_session._live
        assert live is not None and live.session is not None
        cs = live.session
        async with adapters_client(url).session(SERVER) as a_session:
            a_tool = (await load_mcp_tools(a_session))[0]

            async def timed(fn: Callable[[int], Awaitable[Any]], n: int) -> list[float]:
                out = []
                for i in range(n):
                    t0 = time.perf_counter()
                    await fn(i)
                    out.append(time.perf_counter() - t0)
                return out

            async def on_loop(fn: Callable[[int], Awaitable[Any]], n: int) -> list[float]:
                return await _runner.run(timed(fn, n))

            async def bare(i: int) -> Any:
                result = await cs.call_tool(TOOL, dict(ARGS))
                if result.isError:
                    raise RuntimeError("bare call failed")

            async def session(i: int) -> Any:
                result = await mcp_session._call_tool(TOOL, dict(ARGS))
                if result.is_error:
                    raise RuntimeError("session call failed")

            async def ours(i: int) -> None:
                await invoke(tool, i)

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
                "adapters_bare": lambda n: timed(a_bare, n),
                "adapters_tool": lambda n: timed(a_tool_call, n),
            }
            for run in layers.values():  # warm-up
                await run(3)
            per_round = max(1, calls // rounds)
            times: dict[str, list[float]] = {k: [] for k in layers}
            emu.reset_counts()
            for _ in range(rounds):
                for name, run in layers.items():
                    times[name].extend(await run(per_round))
            counts = emu.counts()
    finally:
        await toolkit.aclose()
    med = {k: median(v) for k, v in times.items()}
    out: dict[str, Any] = {
        name: {"median_ms": ms(med[name]), "p95_ms": ms(pct(v, 95)), "calls": len(v)}
        for name, v in times.items()
    }
    out["overhead"] = med["tool"] / med["bare"] - 1.0
    out["adapters_overhead"] = med["adapters_tool"] / med["adapters_bare"] - 1.0
    out["counts"] = counts
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
        live = mcp_session._live
        assert live is not None and live.session is not None
        cs = live.session
        canned = await _runner.run(cs.call_tool(TOOL, dict(ARGS)))

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
                    "session": lambda i: mcp_session._call_tool(TOOL, dict(ARGS)),
                    "toolkit": lambda i: toolkit.arun_tool(TOOL, dict(ARGS), None, None),
                    "tool_on_session_loop": lambda i: tool.ainvoke(tool_call(tool, i)),
                }
                on_caller_loop = {
                    "tool": lambda i: tool.ainvoke(tool_call(tool, i)),
                    "hop": lambda i: _runner.run(noop()),
                    "adapters_tool": lambda i: a_tool.ainvoke(tool_call(a_tool, i)),
                }
                best: dict[str, float] = {}
                for _ in range(reps):
                    for name, fn in on_session_loop.items():
                        t = await _runner.run(loop(fn, calls))
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
