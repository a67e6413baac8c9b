"""Benchmarks of scalekit-langchain side by side with langchain-mcp-adapters and langchain.mcp.

``make bench`` (``.venv-mcp1/bin/python -m benchmarks``, the mcp 1.x stack where the adapters
live) runs everything against a local Scalekit emulator (a child process on 127.0.0.1) with a
latency injected per request, and over HTTPS through a network child process with a round-trip
time (``_https.py``); the mcp 2.x clients (``langchain.mcp``) run in the ``.venv`` worker when
that venv exists. It prints a Markdown report and writes it to ``benchmarks/results.md``.
:func:`run` is the same in code; the test suite calls ``run(quick=True)`` as a smoke test and
asserts request, connection and handshake counts (never timings).

Modules: ``_results`` (:class:`Params` and the plain data a run measured), ``_common``
(shared helpers), ``_scenarios`` (warm calls, startup, many users), ``_https`` +
``_https_modes`` + ``_network`` + ``_mcp2_worker`` (HTTPS), ``_h2`` + ``_h2_child`` (5 calls
at once, h2 vs HTTP/1.1), ``_eras`` + ``_eras_worker`` (MCP protocol eras on mcp 2),
``_overhead`` (wrapper overhead, CPU by layer, throughput), ``_memory``, ``_report`` +
``_report_wire`` + ``_report_eras`` + ``_targets`` + ``_targets_speed`` + ``_analysis`` +
``_format`` (the report), ``_child`` + ``_emulator`` + ``_emulator_child`` (child processes).
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import time
from typing import Any

from benchmarks import _memory, _overhead
from benchmarks import _scenarios as sc
from benchmarks._common import new_client, setup
from benchmarks._emulator import EmulatorProcess
from benchmarks._eras import era_calls
from benchmarks._h2 import parallel_turns
from benchmarks._https import https_calls
from benchmarks._report import environment, render
from benchmarks._results import Measurements, Params

__all__ = ["Params", "Results", "run"]


@dataclasses.dataclass
class Results(Measurements):
    """Everything one run measured (plain data), and :meth:`markdown` to report it."""

    def markdown(self) -> str:
        """The report, as Markdown."""
        return render(self)


def run(
    *,
    quick: bool = False,
    latency: float | None = None,
    users: int | None = None,
    command: str | None = None,
    params: Params | None = None,
    progress: bool = False,
) -> Results:
    """Run every scenario and return the results (nothing is printed or written).

    Args:
        quick: Small numbers and no latency (a smoke test).
        latency: Override the injected latency (seconds).
        users: Override the headline concurrent user count (scaling stops there).
        command: The command line recorded in the report.
        params: Full control (overrides ``quick``).
        progress: Print one line per finished step on stderr.
    """
    p = params or (Params.quick_mode() if quick else Params())
    changes: dict[str, Any] = {}
    if latency is not None:
        changes["latency"] = latency
    if users is not None:
        changes["users"] = users
        changes["scaling"] = (*(n for n in p.scaling if n < users), users)
        changes["memory_sizes"] = (*(n for n in p.memory_sizes if n < users), users)
    p = dataclasses.replace(p, **changes)
    started = time.perf_counter()
    load_start = environment("")["load"]
    with EmulatorProcess() as emu:
        results = asyncio.run(_main(emu, p, _Progress(progress)))
    results.env = environment(command or f"benchmarks.run(quick={quick!r})")
    results.env["load_start"] = load_start
    results.duration_s = time.perf_counter() - started
    return results


class _Progress:
    """One line per finished step on stderr (the report goes to stdout)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.t0 = self.last = time.perf_counter()

    def __call__(self, step: str) -> None:
        now = time.perf_counter()
        if self.enabled:
            print(
                f"[bench] {step}: {now - self.last:.1f} s (total {now - self.t0:.1f} s)",
                file=sys.stderr, flush=True,
            )
        self.last = now


async def _main(emu: EmulatorProcess, p: Params, progress: _Progress) -> Results:
    pid = emu.pid
    client = new_client(emu)
    try:
        await setup(emu, client)
        # Resident memory first: memory freed by later steps would be reused and hide growth.
        rss = await _memory.rss_per_session(emu, users=p.rss_sessions, tag="r")
        transport = _memory.transport_cost(p.transports)
        progress("resident memory")
        warm = await sc.warm_calls(
            emu, client, calls=p.warm_calls, rounds=p.warm_rounds, latency=p.latency
        )
        progress("warm calls")
        https = await https_calls(
            emu, client, rtts=p.https_rtts, answers=p.https_answers, calls=p.https_calls,
            rounds=p.https_rounds, mcp2=p.mcp2, idle=p.https_idle,
        )
        progress("https")
        h2 = await parallel_turns(emu, client, quick=p.quick)
        progress("h2 vs HTTP/1.1")
        eras: dict[str, Any] = {"ran": False, "why_not": "not asked for (mcp2=False)", "runs": []}
        if p.mcp2:
            eras = await era_calls(
                emu, client, eras=p.eras, answers=p.era_answers, reps=p.era_reps,
                calls=p.era_calls, rounds=p.era_rounds, latency=p.latency,
            )
        progress("mcp eras")
        startup = await sc.startup(
            emu, client, reps=p.startup_reps, latency=p.latency, probe=p.probe,
            breakdown=not p.quick,
        )
        progress("startup")
        overhead = await _overhead.overhead(
            emu, client, calls=p.overhead_calls, rounds=p.overhead_rounds
        )
        overhead_json = await _overhead.overhead(
            emu, client, calls=p.overhead_calls, rounds=p.overhead_rounds, answer="json"
        )
        cpu = await _overhead.wrapper_cpu(emu, client, calls=p.cpu_calls, reps=p.cpu_reps)
        progress("overhead")
        throughput = [
            row
            for answer in ("json", "sse")
            for row in await _overhead.throughput(
                emu, users=p.throughput_users, total_calls=p.throughput_calls,
                rounds=p.throughput_rounds, tag="tp", answer=answer,
            )
        ]
        progress("throughput")
    finally:
        await client.aclose()
    scaling = []
    for n in p.scaling:
        scaling.append(
            await sc.concurrent_users(
                emu, pid, users=n, calls=p.calls_per_user, latency=p.latency, tag=f"c{n}"
            )
        )
        progress(f"{n} users at once")
    per_user = await sc.concurrent_users(
        emu, pid, users=p.users, calls=p.calls_per_user, latency=p.latency, tag="t",
        multi_user=False,
    )
    progress(f"{p.users} users at once, one toolkit each")
    memory = await _memory.memory(emu, sizes=p.memory_sizes, tag="m")
    progress("memory")
    memory_adapters = (
        await _memory.memory(emu, sizes=[p.reference_sessions], tag="ma", adapters=True)
    )[-1]
    progress("memory, adapters sessions")
    return Results(
        params=p, env={}, warm=warm, startup=startup, scaling=scaling, per_user=per_user,
        overhead=overhead, overhead_json=overhead_json,
        cpu=cpu, memory=memory, memory_adapters=memory_adapters, rss=rss, transport=transport,
        https=https, throughput=throughput, h2=h2, eras=eras,
    )
