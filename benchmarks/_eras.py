"""Cold start and warm calls per MCP protocol era, on the mcp 2 stack (issue 17's rows).

The emulator (child process) is switched to ``mcp_era="new"`` (2026-07-28 only: no
``initialize``, no session, ``server/discover``) and ``"both"`` (the handshake era and the new
one); the clients live in the mcp 2 venv's worker (``_eras_worker.py``), each negotiating on
its own: our toolkit, ``langchain.mcp``'s ``MCPAdapter`` (FastMCP 4) held open, and a bare
``ClientSession`` of the SDK's ``mcp.Client(mode="auto")``. Requests are counted at the
emulator, exactly: reset right before a client starts, read right after its first tool answer
(cold start) or after its warm calls. The peers are handed the user's instance URL (fetched
before counting); ours finds it itself (its REST calls are counted apart).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from collections.abc import Sequence
from typing import Any

from benchmarks._child import PipeChild
from benchmarks._common import CONFIG, CONNECTION, median, ms, pct, split_counts
from benchmarks._emulator import EmulatorProcess
from benchmarks._https import MCP2_PYTHON
from scalekit_langchain import AsyncScalekitClient

__all__ = ["COLD_MODES", "era_calls"]

#: The worker's clients, in the order they run (``ours_known``: a new toolkit for a user the
#: client already served; cold start only).
COLD_MODES = ("ours", "ours_known", "langchain_mcp", "bare_sdk")
WARM_MODES = ("ours", "langchain_mcp", "bare_sdk")


def _start_worker(emu: EmulatorProcess) -> tuple[PipeChild | None, str]:
    """The mcp 2 worker, or None and why not."""
    if not os.path.exists(MCP2_PYTHON):
        return None, "no mcp 2 venv at .venv (make bench builds it)"
    settings = {"env_url": emu.env_url, "client_id": emu.client_id,
                "client_secret": emu.client_secret}
    try:
        return PipeChild("_eras_worker.py", json.dumps(settings), python=MCP2_PYTHON), ""
    except RuntimeError as exc:
        return None, f"the mcp 2 worker did not start ({exc})"


async def _call(worker: PipeChild, method: str, *args: Any) -> Any:
    return await asyncio.to_thread(worker.call, method, *args)


async def era_calls(
    emu: EmulatorProcess,
    client: AsyncScalekitClient,
    *,
    eras: Sequence[str],
    answers: Sequence[str],
    reps: int,
    calls: int,
    rounds: int,
    latency: float,
) -> dict[str, Any]:
    """Cold start (``reps`` new users per client) and warm calls per (era, answer mode).

    ``latency`` is injected before every request while a client is timed (not while the
    peers' instance URLs are fetched). A client that cannot start in an era gets its error
    instead of figures.

    Returns ``{"ran", "why_not", "versions", "runs": [{"era", "answer", "cold": {mode: ...},
    "warm": {mode: ...}}]}``.
    """
    worker, why_not = _start_worker(emu)
    out: dict[str, Any] = {"ran": worker is not None, "why_not": why_not, "runs": [],
                           "latency_ms": ms(latency), "reps": reps, "calls": calls,
                           "rounds": rounds}
    if worker is None:
        return out
    out["versions"] = worker.hello["versions"]
    try:
        if eras:  # warm-up, untimed: imports and first-use costs are not a cold start's
            emu.set_mcp_era(eras[0])
            for mode in COLD_MODES:
                user = f"era-warmup-{mode}"
                emu.authorize(user, CONNECTION)
                url = (await client.mcp.ensure_instance(CONFIG, user)).url or ""
                try:
                    await _call(worker, "cold", mode, user, url)
                except RuntimeError:
                    pass  # the timed starts record it
                await _call(worker, "close", mode)
        for era in eras:
            emu.set_mcp_era(era)
            for answer in answers:
                emu.set_answer_mode(answer)
                run = {"era": era, "answer": answer,
                       **await _one(emu, client, worker, f"{era}{answer}", reps, calls, rounds,
                                    latency)}
                out["runs"].append(run)
    finally:
        emu.set_latency(0)
        emu.set_answer_mode("sse")
        emu.set_mcp_era("handshake")
        worker.close()
    return out


async def _one(
    emu: EmulatorProcess, client: AsyncScalekitClient, worker: PipeChild, tag: str,
    reps: int, calls: int, rounds: int, latency: float,
) -> dict[str, Any]:
    samples: dict[str, list[dict[str, Any]]] = {m: [] for m in COLD_MODES}
    errors: dict[str, str] = {}
    for rep in range(reps):
        for mode in COLD_MODES:
            if mode in errors:
                continue
            user = f"era-{tag}-{mode}-{rep}"
            emu.authorize(user, CONNECTION)
            url = ""
            if mode != "ours":
                url = (await client.mcp.ensure_instance(CONFIG, user)).url or ""
            await _call(worker, "close", mode)  # the previous one (it may say goodbye)
            try:
                if mode == "ours_known":
                    await _call(worker, "prepare", user, url)
                emu.set_latency(latency)
                emu.reset_counts()
                try:
                    started = await _call(worker, "cold", mode, user, url)
                finally:
                    counts = emu.counts()
                    emu.set_latency(0)
            except RuntimeError as exc:  # this client cannot start in this era: say so
                errors[mode] = str(exc)
                continue
            samples[mode].append({**started, "counts": counts})
    await _call(worker, "close", "ours_known")
    cold = {mode: _cold_summary(samples[mode], errors.get(mode)) for mode in COLD_MODES}
    warm_modes = [m for m in WARM_MODES if m not in errors]
    for mode in warm_modes:  # warm-up, untimed
        await _call(worker, "calls", mode, 2)
    per_round = max(1, calls // rounds)
    times: dict[str, list[float]] = {m: [] for m in warm_modes}
    cpu: Counter[str] = Counter()
    counts: dict[str, Counter[str]] = {m: Counter() for m in warm_modes}
    emu.set_latency(latency)
    try:
        for _ in range(rounds):
            for mode in warm_modes:
                emu.reset_counts()
                result = await _call(worker, "calls", mode, per_round)
                counts[mode].update(emu.counts())
                times[mode] += result["times"]
                cpu[mode] += result["cpu"]
    finally:
        emu.set_latency(0)
    for mode in warm_modes:
        await _call(worker, "close", mode)
    warm: dict[str, Any] = {}
    for mode in WARM_MODES:
        if mode in errors:
            warm[mode] = {"error": errors[mode]}
            continue
        n = len(times[mode])
        warm[mode] = {
            "calls": n,
            "counts": dict(counts[mode]),
            "requests_per_call": sum(counts[mode].values()) / n,
            "median_ms": ms(median(times[mode])),
            "p95_ms": ms(pct(times[mode], 95)),
            "client_cpu_ms_per_call": ms(cpu[mode] / n),
        }
    return {"cold": cold, "warm": warm}


def _cold_summary(samples: list[dict[str, Any]], error: str | None) -> dict[str, Any]:
    """Medians of the cold starts; the request counts of the first (they must all agree)."""
    if error is not None or not samples:
        return {"error": error or "no sample"}
    rest, mcp = split_counts(samples[0]["counts"])
    same = all(s["counts"] == samples[0]["counts"] for s in samples)
    return {
        "reps": len(samples),
        "rest": rest,
        "mcp": mcp,
        "mcp_requests": sum(mcp.values()),
        "counts_agree": same,
        "versions": sorted({s["version"] for s in samples}),
        "median_ms": ms(median([s["wall_s"] for s in samples])),
        "client_cpu_ms": ms(median([s["cpu_s"] for s in samples])),
    }
