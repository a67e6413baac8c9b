"""What a run is asked to do (:class:`Params`) and what it measured (:class:`Measurements`).

Plain data with no imports from the rest of the package, so the report modules can read it
without importing the package that runs them; ``benchmarks.Results`` adds ``markdown()``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

#: Seconds the benchmark's emulator keeps an idle connection open (the design target's server:
#: "a call after 30 s idle opens no new connection against a server that keeps connections
#: 60 s"); ``_emulator_child.py`` starts it with this value.
IDLE_TIMEOUT = 60.0

__all__ = ["IDLE_TIMEOUT", "Measurements", "Params"]


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
        eras: The emulator's MCP eras the era benchmark runs in (``_eras.py``, mcp 2 worker).
        era_answers: Answer modes of the era benchmark.
        era_reps: New users (cold starts) per client, era and answer mode.
        era_calls: Warm calls per client, era and answer mode.
        era_rounds: Interleaved rounds the era benchmark's warm calls are split into.
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
    https_idle: float = 30.0
    throughput_users: tuple[int, ...] = (1, 10, 100)
    throughput_calls: int = 300
    throughput_rounds: int = 3
    mcp2: bool = True
    eras: tuple[str, ...] = ("new", "both")
    era_answers: tuple[str, ...] = ("json", "sse")
    era_reps: int = 4
    era_calls: int = 60
    era_rounds: int = 6
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
            throughput_calls=6, throughput_rounds=1, mcp2=False, era_reps=1, era_calls=4,
            era_rounds=2, quick=True,
        )


@dataclasses.dataclass
class Measurements:
    """Everything one run measured (plain data); the report modules read it."""

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
    h2: dict[str, Any] = dataclasses.field(default_factory=dict)  # _h2.parallel_turns
    #: Cold start and warm calls per MCP era on the mcp 2 stack (``_eras.py``).
    eras: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def concurrent(self) -> dict[str, Any]:
        """The headline concurrent run (multi-user toolkit, the largest user count)."""
        return self.scaling[-1]
