"""The measurements of a warm call, of startup and of many users at once.

Each scenario returns plain data (dicts, lists, numbers) for the report. Every scenario talks
to the emulator (a child process on 127.0.0.1, see ``_emulator.py``) and opens and closes its
own clients, toolkits and sessions. Overhead: ``_overhead.py``; memory: ``_memory.py``; HTTPS
through a network with a round-trip time: ``_https.py``.
"""

from __future__ import annotations

import asyncio
import gc
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from langchain_mcp_adapters.tools import load_mcp_tools

from benchmarks._common import (
    CONFIG,
    CONNECTION,
    REST_PREFIXES,
    SERVER,
    adapters_client,
    invoke,
    median,
    ms,
    new_client,
    new_toolkit,
    pct,
    server_cpu_seconds,
    split_counts,
    tool_call,
)
from benchmarks._emulator import EmulatorProcess
from scalekit_langchain import AsyncScalekitClient
from scalekit_langchain.toolkit import ScalekitMCPToolkit

# --------------------------------------------------------------------------- warm calls


async def warm_calls(
    emu: EmulatorProcess, client: AsyncScalekitClient, *, calls: int, rounds: int, latency: float
) -> dict[str, Any]:
    """Per-call requests and latency of a warm tool, for ours and the adapters' two modes.

    The three modes run interleaved (``rounds`` rounds of ``calls // rounds`` calls each), so
    drift affects all alike. Requests are counted per mode from the emulator's counts.
    """
    user = "warm-user"
    emu.authorize(user, CONNECTION)
    url = (await client.mcp.ensure_instance(CONFIG, user)).url
    assert url
    toolkit = new_toolkit(client, user)
    try:
        ours = (await toolkit.aget_tools())[0]
        default_tool = (await adapters_client(url).get_tools())[0]
        async with adapters_client(url).session(SERVER) as session:
            session_tool = (await load_mcp_tools(session))[0]
            modes: dict[str, BaseTool] = {
                "ours": ours,
                "adapters_default": default_tool,
                "adapters_session": session_tool,
            }
            for tool in modes.values():  # warm-up: first-call costs are not steady state
                await invoke(tool, 0)
            emu.set_latency(latency)
            per_round = max(1, calls // rounds)
            times: dict[str, list[float]] = {m: [] for m in modes}
            counts: dict[str, Counter[str]] = {m: Counter() for m in modes}
            cpu: dict[str, float] = dict.fromkeys(modes, 0.0)
            try:
                for _ in range(rounds):
                    for mode, tool in modes.items():
                        emu.reset_counts()
                        c0 = time.process_time()
                        for i in range(per_round):
                            t0 = time.perf_counter()
                            await invoke(tool, i)
                            times[mode].append(time.perf_counter() - t0)
                        cpu[mode] += time.process_time() - c0
                        counts[mode].update(emu.counts())
            finally:
                emu.set_latency(0)
    finally:
        await toolkit.aclose()
    out: dict[str, Any] = {}
    for mode in modes:
        n = len(times[mode])
        total = sum(counts[mode].values())
        out[mode] = {
            "calls": n,
            "requests_per_call": total / n,
            "requests_by_kind": {k: v / n for k, v in sorted(counts[mode].items()) if v},
            "counts": dict(counts[mode]),
            "median_ms": ms(median(times[mode])),
            "p95_ms": ms(pct(times[mode], 95)),
            "client_cpu_ms_per_call": ms(cpu[mode] / n),
        }
    return out


# --------------------------------------------------------------------------- startup


async def _startups(
    emu: EmulatorProcess,
    prepare: Callable[[str], Awaitable[Any]],
    start: Callable[[str, Any], Awaitable[Callable[[], Awaitable[None]]]],
    *,
    tag: str,
    reps: int,
    latency: float,
    probe: float,
    breakdown: bool = True,
) -> dict[str, Any]:
    """Time ``start`` (tools ready) for fresh users under several latency settings.

    ``prepare(user)`` runs untimed without latency; ``start(user, prepared)`` is timed and
    returns a cleanup coroutine function. Sequential round trips are estimated as
    ``(median time with probe latency - median time without) / probe``, with the probe latency
    on every request, only on REST requests, and only on MCP requests.
    """
    settings: dict[str, list[tuple[float, str | None]]] = {
        "zero": [],
        "all": [(probe, None)],
        "rest": [(probe, p) for p in REST_PREFIXES],
        "mcp": [(probe, "mcp.")],
        "configured": [(latency, None)] if latency > 0 else [],
    }
    if not breakdown:
        del settings["rest"], settings["mcp"]
    times: dict[str, list[float]] = {k: [] for k in settings}
    cpu: list[float] = []
    counts: Counter[str] = Counter()
    n = 0
    for rep in range(reps):
        for name, lat in settings.items():
            n += 1
            user = f"{tag}-{name}-{rep}"
            emu.clear_faults()
            prepared = await prepare(user)
            for seconds, kind in lat:
                emu.set_latency(seconds, kind=kind)
            emu.reset_counts()
            c0, t0 = time.process_time(), time.perf_counter()
            cleanup = await start(user, prepared)
            times[name].append(time.perf_counter() - t0)
            if name == "zero":
                cpu.append(time.process_time() - c0)
            if name == "configured":
                counts.update(emu.counts())
            emu.clear_faults()
            await cleanup()
    base = median(times["zero"])

    def rounds(name: str) -> float:
        if name not in times:
            return math.nan
        return (median(times[name]) - base) / probe

    per = {k: v / reps for k, v in counts.items()}
    rest, mcp = split_counts(per)
    return {
        "reps": reps,
        "rest": rest,
        "mcp": mcp,
        "rest_calls": sum(rest.values()),
        "mcp_requests": sum(mcp.values()),
        "round_trips": rounds("all"),
        "rest_round_trips": rounds("rest"),
        "mcp_round_trips": rounds("mcp"),
        "median_ms": ms(median(times["configured"])),
        "zero_latency_ms": ms(base),
        "client_cpu_ms": ms(median(cpu)),
        "probe_ms": ms(probe),
    }


async def startup(
    emu: EmulatorProcess,
    client: AsyncScalekitClient,
    *,
    reps: int,
    latency: float,
    probe: float,
    breakdown: bool = True,
) -> dict[str, Any]:
    """New user (cold), returning user (within the cache TTL), and the adapters by hand.

    ``breakdown=False`` skips the REST-only and MCP-only latency settings.
    """

    async def authorize(user: str) -> None:
        emu.authorize(user, CONNECTION)

    async def cold(user: str, _: Any) -> Callable[[], Awaitable[None]]:
        toolkit = new_toolkit(client, user)
        await toolkit.aget_tools()
        return toolkit.aclose

    async def returning_prepare(user: str) -> None:
        emu.authorize(user, CONNECTION)
        first = new_toolkit(client, user)
        try:
            await invoke((await first.aget_tools())[0], 0)
        finally:
            await first.aclose()

    async def returning(user: str, _: Any) -> Callable[[], Awaitable[None]]:
        toolkit = new_toolkit(client, user)  # same client, same config and user
        await toolkit.aget_tools()
        return toolkit.aclose

    async def by_hand(user: str, _: Any) -> Callable[[], Awaitable[None]]:
        url = (await client.mcp.ensure_instance(CONFIG, user)).url
        assert url
        await adapters_client(url).get_tools()

        async def nothing() -> None:
            return None

        return nothing

    common = {"reps": reps, "latency": latency, "probe": probe, "breakdown": breakdown}
    return {
        "cold": await _startups(emu, authorize, cold, tag="cold", **common),
        "returning": await _startups(emu, returning_prepare, returning, tag="back", **common),
        "adapters": await _startups(emu, authorize, by_hand, tag="hand", **common),
    }


# --------------------------------------------------------------------------- many users


async def concurrent_users(
    emu: EmulatorProcess,
    pid: int,
    *,
    users: int,
    calls: int,
    latency: float,
    tag: str,
    multi_user: bool = True,
) -> dict[str, Any]:
    """``users`` new users at once on one fresh client, ``calls`` sequential calls each.

    ``multi_user=True``: one toolkit with ``user_identifier=None``; its tools route each call
    to ``config={"configurable": {"user_id": ...}}`` and a user's session opens on the user's
    first call. ``multi_user=False``: one toolkit per user, each connecting (``aget_tools``)
    before its calls. Everything from a fresh client: OAuth token requests count from zero.
    The first call of a user (multi-user) or its connect (per-user toolkits) is timed apart
    from the warm calls.
    """
    names = [f"{tag}-{i}" for i in range(users)]
    for name in names:
        emu.authorize(name, CONNECTION)
    client = new_client(emu)
    if multi_user:
        shared = ScalekitMCPToolkit(client=client, config_name=CONFIG)
        toolkits = [shared]
    else:
        toolkits = [new_toolkit(client, name) for name in names]
    errors: list[str] = []
    first_times: list[float] = []
    call_times: list[float] = []
    done_calls = 0

    async def user_run(i: int) -> None:
        nonlocal done_calls
        name = names[i]
        tool: BaseTool | None = None
        t0 = time.perf_counter()
        try:
            if multi_user:
                tool = (await shared.aget_tools(user_identifier=name))[0]
            else:
                tool = (await toolkits[i].aget_tools())[0]
        except Exception as exc:
            errors.append(f"connect: {type(exc).__name__}: {exc}"[:200])
            return
        config = {"configurable": {"user_id": name}} if multi_user else None
        for j in range(calls):
            try:
                message = await tool.ainvoke(tool_call(tool, j), config=config)  # type: ignore[arg-type]
                if not isinstance(message, ToolMessage) or message.status == "error":
                    raise RuntimeError(f"tool call failed: {message!r}"[:200])
            except Exception as exc:
                errors.append(f"call: {type(exc).__name__}: {exc}"[:200])
                t0 = time.perf_counter()
                continue
            now = time.perf_counter()
            # Multi-user: the first call opens the user's session; per-user: the connect.
            (first_times if j == 0 else call_times).append(now - t0)
            done_calls += 1
            t0 = now

    try:
        emu.reset_counts()
        emu.set_latency(latency)
        gc.collect()
        s0, c0 = server_cpu_seconds(pid), time.process_time()
        t0 = time.perf_counter()
        await asyncio.gather(*(user_run(i) for i in range(users)))
        t1 = time.perf_counter()
        s1, c1 = server_cpu_seconds(pid), time.process_time()
        counts = emu.counts()
    finally:
        emu.set_latency(0)
        await asyncio.gather(*(t.aclose() for t in toolkits), return_exceptions=True)
        await client.aclose()
    rest, mcp = split_counts(counts)
    wall = t1 - t0
    return {
        "users": users,
        "calls_per_user": calls,
        "multi_user": multi_user,
        "total_s": wall,
        "calls": done_calls,
        "calls_per_second": done_calls / wall if wall > 0 else math.nan,
        "first_p50_ms": ms(median(first_times)),
        "first_p95_ms": ms(pct(first_times, 95)),
        "call_p50_ms": ms(median(call_times)),
        "call_p95_ms": ms(pct(call_times, 95)),
        "oauth_tokens": counts.get("oauth.token", 0),
        "rest": rest,
        "mcp": mcp,
        "tool_calls": counts.get("mcp.tools/call", 0),
        "errors": len(errors),
        "error_samples": errors[:3],
        "client_cpu_ms_per_call": ms((c1 - c0) / done_calls) if done_calls else math.nan,
        "server_cpu_ms_per_call": ms((s1 - s0) / done_calls) if done_calls else math.nan,
        "client_cpu_s": c1 - c0,
        "server_cpu_s": s1 - s0,
    }
