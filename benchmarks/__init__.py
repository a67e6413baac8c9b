"""Benchmarks of scalekit-langchain side by side with langchain-mcp-adapters and langchain.mcp.

``make bench`` (``.venv-mcp1/bin/python -m benchmarks``, the mcp 1.x stack where the adapters
live) runs everything against a local Scalekit emulator (a child process on 127.0.0.1) with a
latency injected per request, and over HTTPS through a network child process with a round-trip
time (``_https.py``); the mcp 2.x clients (``langchain.mcp``) run in the ``.venv`` worker when
that venv exists. It prints a Markdown report and writes it to ``benchmarks/results.md``.
:func:`run` is the same in code; the test suite calls ``run(quick=True)`` as a smoke test and
asserts request, connection and handshake counts (never timings).

Modules: ``_common`` (shared helpers), ``_scenarios`` (warm calls, startup, many users),
``_https`` + ``_https_modes`` + ``_network`` + ``_mcp2_worker`` (HTTPS), ``_overhead``
(wrapper overhead, CPU by layer, throughput), ``_memory``, ``_report`` + ``_report_wire`` +
``_analysis`` (the report), ``_child`` + ``_emulator`` + ``_emulator_child`` (child processes).
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
from benchmarks._https import https_calls
from benchmarks._report import environment, render

__all__ = ["Params", "Results", "run"]


@dataclasses.dataclass(frozen=True)
class Params:
    """What to run, and how much of it.

    Attributes:
        latency: Seconds injected per request in the latency-bound scenarios.
        warm_calls: Calls per mode in the warm per-call comparison.
        warm_rounds: Interleaved rounds the warm calls are split into.
        startup_reps: New users per latency setting in the startup scenarios.
        probe: Latency (s) used to count sequential round trips.
        users: Concurrent users of the headline run.
        calls_per_user: Sequential calls per user in the concurrent runs.
        scaling: User counts of the scaling runs (the largest is the headline run).
        overhead_calls: Calls per layer in the overhead comparison (latency 0).
        overhead_rounds: Interleaved rounds the overhead calls are split into.
        cpu_calls: Calls per layer (and repetition) in the network-free CPU comparison.
        cpu_reps: Repetitions of the CPU comparison (the fastest is kept).
        memory_sizes: Open sessions measured with tracemalloc (opened in stages).
        reference_sessions: Adapters explicit sessions opened for the memory reference.
        rss_sessions: Sessions opened to measure resident memory per session.
        transports: httpx transports created to measure the cost of one.
        https_rtts: Round-trip times (s) of the HTTPS benchmark's network.
        https_answers: How the emulator answers MCP POSTs in the HTTPS benchmark (sse, json).
        https_calls: Warm calls per mode and setting in the HTTPS benchmark.
        https_rounds: Interleaved rounds the HTTPS calls are split into.
        https_idle: Seconds our client stays idle before one more call, to see whether its
            connection survived (0: not measured).
        throughput_users: User counts of the warm throughput comparison with the bare SDK.
        throughput_calls: Calls per user count and round (split among the users).
        throughput_rounds: Alternating rounds of the throughput comparison.
        mcp2: Also run the mcp 2 clients (``langchain.mcp``) from the ``.venv`` worker.
        quick: A smoke run (small numbers; figures are not meaningful).
    """

    latency: float = 0.010
    warm_calls: int = 60
    warm_rounds: int = 6
    startup_reps: int = 4
    probe: float = 0.100
    users: int = 200
    calls_per_user: int = 5
    scaling: tuple[int, ...] = (10, 50, 200)
    overhead_calls: int = 200
    overhead_rounds: int = 20
    cpu_calls: int = 500
    cpu_reps: int = 3
    memory_sizes: tuple[int, ...] = (10, 50, 200)
    reference_sessions: int = 50
    rss_sessions: int = 100
    transports: int = 20
    https_rtts: tuple[float, ...] = (0.0, 0.010, 0.050)
    https_answers: tuple[str, ...] = ("sse", "json")
    https_calls: int = 100
    # Two calls per client and round: a client waits for the others' rounds, and an idle
    # connection expires after 5 s (httpx's keep-alive default), which is not a warm call.
    https_rounds: int = 50
    https_idle: float = 6.0
    throughput_users: tuple[int, ...] = (1, 10, 100)
    throughput_calls: int = 300
    throughput_rounds: int = 3
    mcp2: bool = True
    quick: bool = False

    @classmethod
    def quick_mode(cls) -> Params:
        """A few users and calls, no injected latency: a smoke test in a few seconds."""
        return cls(
            latency=0.0, warm_calls=6, warm_rounds=2, startup_reps=1, probe=0.02, users=4,
            calls_per_user=2, scaling=(2, 4), overhead_calls=10, overhead_rounds=2,
            cpu_calls=20, cpu_reps=1, memory_sizes=(3,), reference_sessions=3, rss_sessions=3,
            transports=2, https_rtts=(0.0, 0.005), https_answers=("sse", "json"),
            https_calls=6, https_rounds=2, https_idle=0.0, throughput_users=(1, 3),
            throughput_calls=6, throughput_rounds=1, mcp2=False, quick=True,
        )


@dataclasses.dataclass
class Results:
    """Everything one run measured (plain data), and :meth:`markdown` to report it."""

    params: Params
    env: dict[str, Any]
    warm: dict[str, Any]
    startup: dict[str, Any]
    scaling: list[dict[str, Any]]
    per_user: dict[str, Any]
    overhead: dict[str, Any]
    overhead_json: dict[str, Any]
    cpu: dict[str, float]
    memory: list[dict[str, Any]]
    memory_adapters: dict[str, Any]
    rss: dict[str, Any]
    transport: dict[str, float]
    https: dict[str, Any]
    throughput: list[dict[str, Any]]
    duration_s: float = 0.0

    @property
    def concurrent(self) -> dict[str, Any]:
        """The headline concurrent run (multi-user toolkit, the largest user count)."""
        return self.scaling[-1]

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
        https=https, throughput=throughput,
    )
