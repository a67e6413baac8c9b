"""Issue 18's speed targets, each from this run's figures: met, or missed by how much.

* warm call <= 1.05x a bare ``ClientSession`` at 10 ms per request (HTTPS table, 10 ms RTT);
* warm call <= 1.0x LangChain's own session held open, no added latency (HTTPS table, RTT 0:
  ``MCPAdapter`` on mcp 2, the adapters' explicit session on mcp 1);
* client CPU per warm call <= 1.15x the bare call's on the same session (overhead tables);
* 100 users (JSON answers, latency 0): calls/s >= 0.9x the bare SDK sessions' (throughput);
* 10 -> 200 users at 10 ms per request: >= 80 % of linear until the client core is full, then
  of what the core allows (scaling runs), and where the core fills.

Both answer modes and both stacks wherever the run measured them; the idle-connection target
is in ``_report_wire.https_targets``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from benchmarks._format import fmt

if TYPE_CHECKING:
    from benchmarks._results import Measurements

__all__ = ["speed_targets"]

#: (ours, its bare floor, its LangChain peer) in the HTTPS table, per stack.
STACKS = {
    "mcp 1": ("ours", "bare_sdk", "adapters_session"),
    "mcp 2": ("mcp2:ours", "mcp2:bare_sdk", "mcp2:langchain_mcp"),
}


def _verdict(worst: float, limit: float, *, at_most: bool = True) -> str:
    """How far ``worst`` is from ``limit``: empty when met."""
    if math.isnan(worst):
        return "; not measured"
    if (worst <= limit) if at_most else (worst >= limit):
        return ""
    return f"; missed by {fmt(abs(worst / limit - 1) * 100, 1)}%"


def _closest(runs: list[dict[str, Any]], answer: str, rtt_ms: float) -> dict[str, Any] | None:
    mine = [run for run in runs if run["answer"] == answer]
    return min(mine, key=lambda run: abs(run["rtt_ms"] - rtt_ms)) if mine else None


def _ratios(
    r: Measurements, rtt_ms: float, peer: int
) -> tuple[list[str], float, list[float]]:
    """``ours / STACKS[..][peer]`` medians in the HTTPS runs nearest ``rtt_ms``, per answer
    mode and stack: (descriptions, worst ratio, RTTs used)."""
    parts, worst, used = [], -math.inf, []
    for answer in ("json", "sse"):
        run = _closest(r.https.get("runs", []), answer, rtt_ms)
        if run is None:
            continue
        used.append(run["rtt_ms"])
        for stack, names in STACKS.items():
            ours, other = run["modes"].get(names[0]), run["modes"].get(names[peer])
            if not ours or not other:
                continue
            ratio = ours["median_ms"] / other["median_ms"]
            worst = max(worst, ratio)
            parts.append(
                f"{answer.upper()} {stack} {fmt(ratio, 2)}x ({fmt(ours['median_ms'], 1)} / "
                f"{fmt(other['median_ms'], 1)} ms)"
            )
    return parts, (worst if parts else math.nan), used


def _latency_rows(r: Measurements) -> list[tuple[str, str, str, bool]]:
    out = []
    for rtt_ms, peer, limit, whom in (
        (10.0, 1, 1.05, "a bare `ClientSession`"),
        (0.0, 2, 1.0, "LangChain's own session held open (mcp 2: `MCPAdapter`; mcp 1: adapters "
                      "explicit session)"),
    ):
        parts, worst, used = _ratios(r, rtt_ms, peer)
        at = ", ".join(f"{fmt(x, 0)}" for x in dict.fromkeys(used)) or "n/a"
        out.append((
            f"warm call, ours / {whom}, HTTPS at {at} ms RTT (median; both answer modes, "
            "every stack measured)",
            ("; ".join(parts) or "not measured") + _verdict(worst, limit),
            f"<= {limit:g}x",
            not math.isnan(worst) and worst <= limit,
        ))
    return out


def _cpu_row(r: Measurements) -> tuple[str, str, str, bool]:
    parts, worst = [], -math.inf
    for name, o in (("JSON", r.overhead_json), ("SSE", r.overhead)):
        for label, ours, bare in (("async", "tool", "bare"), ("sync", "sync_tool", "sync_bare")):
            ratio = o[ours]["client_cpu_ms_per_call"] / o[bare]["client_cpu_ms_per_call"]
            worst = max(worst, ratio)
            parts.append(
                f"{name} {label} {fmt(ratio, 2)}x ({fmt(o[ours]['client_cpu_ms_per_call'], 2)} / "
                f"{fmt(o[bare]['client_cpu_ms_per_call'], 2)} ms)"
            )
    return (
        "client CPU per warm call, ours / bare `ClientSession.call_tool` on the same session "
        "(latency 0; async and sync; JSON and SSE answers)",
        "; ".join(parts) + _verdict(worst, 1.15),
        "<= 1.15x",
        worst <= 1.15,
    )


def _throughput_row(r: Measurements) -> tuple[str, str, str, bool]:
    rows = [row for row in r.throughput if row["answer"] == "json"]
    if not rows:
        return ("calls/s at 100 users, ours / bare SDK", "not measured", ">= 0.9x", False)
    row = max(rows, key=lambda x: x["users"])
    o, b = row["ours"]["calls_per_second"], row["bare_sdk"]["calls_per_second"]
    ratio = o / b
    return (
        f"warm calls/s at {row['users']} users, ours / bare SDK sessions (JSON answers, "
        "latency 0)",
        f"{fmt(ratio, 2)}x ({fmt(o, 0)} / {fmt(b, 0)} calls/s)" + _verdict(ratio, 0.9,
                                                                           at_most=False),
        ">= 0.9x",
        ratio >= 0.9,
    )


def _scaling_row(r: Measurements) -> tuple[str, str, str, bool]:
    """Calls/s of each scaling run against min(linear from the smallest run, the core's
    ceiling); the ceiling is one core at the smallest run's client CPU per call."""
    small = r.scaling[0]
    rate, cpu_ms = small["calls_per_second"], small["client_cpu_ms_per_call"]
    ceiling = 1000.0 / cpu_ms if cpu_ms > 0 else math.inf
    full_at = small["users"] * ceiling / rate if rate > 0 else math.nan
    parts, worst = [], math.inf
    for run in r.scaling[1:]:
        linear = rate * run["users"] / small["users"]
        expected = min(linear, ceiling)
        share = run["calls_per_second"] / expected
        worst = min(worst, share)
        busy = run["client_cpu_s"] / run["total_s"] if run["total_s"] else math.nan
        parts.append(
            f"{run['users']} users {fmt(run['calls_per_second'], 0)} calls/s = "
            f"{fmt(share * 100, 0)}% of {'linear' if linear <= ceiling else 'the ceiling'} "
            f"({fmt(run['calls_per_second'] / linear * 100, 0)}% of linear; client "
            f"{fmt(busy * 100, 0)}% of a core)"
        )
    if math.isinf(worst):
        worst = math.nan
    lat = fmt(r.params.latency * 1000, 0)
    measured = (
        f"{small['users']} users {fmt(rate, 0)} calls/s at {fmt(cpu_ms, 2)} ms client CPU per "
        f"call: the core fills at about {fmt(ceiling, 0)} calls/s, i.e. near "
        f"{fmt(full_at, 0)} users; " + "; ".join(parts) + _verdict(worst, 0.8, at_most=False)
    )
    return (
        f"throughput {small['users']} -> {r.scaling[-1]['users']} users, {lat} ms per request "
        "(new users, sessions opened in the run): calls/s vs linear until the client core is "
        "full, then vs the core's ceiling",
        measured,
        ">= 80%",
        not math.isnan(worst) and worst >= 0.8,
    )


def speed_targets(r: Measurements) -> list[tuple[str, str, str, bool]]:
    """Issue 18's targets: (what, measured, target, met)."""
    return [*_latency_rows(r), _cpu_row(r), _throughput_row(r), _scaling_row(r)]
