"""The design's targets, each measured in the run: what, the figure, the target, met or not.

The report's Targets table and the analysis's list of missed targets both read :func:`targets`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchmarks._format import fmt, kb, kinds
from benchmarks._report_eras import eras_targets
from benchmarks._report_wire import https_targets
from benchmarks._targets_speed import speed_targets

if TYPE_CHECKING:
    from benchmarks._results import Measurements

__all__ = ["targets"]


def targets(r: Measurements) -> list[tuple[str, str, str, bool]]:
    """(what, measured, target, met) for every target of the design."""
    p = r.params
    ours, default = r.warm["ours"], r.warm["adapters_default"]
    ours_only_calls = set(ours["counts"]) == {"mcp.tools/call"}
    speedup = default["median_ms"] / ours["median_ms"]
    cold, back = r.startup["cold"], r.startup["returning"]
    head = r.scaling[-1]
    mem = r.memory[-1]
    lat = fmt(p.latency * 1000, 0)
    oj = r.overhead_json
    return [
        (
            "HTTP requests per warm tool call (ours)",
            f"{ours['requests_per_call']:g} ({kinds(ours['requests_by_kind'])}); "
            f"adapters' default {default['requests_per_call']:g}",
            "1",
            ours["requests_per_call"] == 1 and ours_only_calls,
        ),
        (
            f"warm call latency, adapters' default / ours (median, {lat} ms per request)",
            f"{fmt(speedup, 1)}x ({fmt(default['median_ms'])} / {fmt(ours['median_ms'])} ms)",
            ">= 5x",
            speedup >= 5,
        ),
        (
            "returning user within the cache TTL: REST calls before the tools are ready",
            f"{back['rest_calls']:g}",
            "0",
            back["rest_calls"] == 0,
        ),
        (
            "new user cold start: sequential round trips before the tools are ready",
            f"{fmt(cold['round_trips'])}",
            "<= 4",
            round(cold["round_trips"]) <= 4,
        ),
        (
            f"{head['users']} users at once: OAuth token requests",
            f"{head['oauth_tokens']}",
            "1",
            head["oauth_tokens"] == 1,
        ),
        (
            f"{head['users']} users at once: errors",
            f"{head['errors']}",
            "0",
            head["errors"] == 0,
        ),
        (
            "wrapper overhead vs bare ClientSession.call_tool, same session, latency 0, JSON "
            "answers (both reuse the connection): async tool `ainvoke` / sync tool `invoke`",
            f"{fmt(oj['overhead'] * 100, 1)}% ({fmt(oj['tool']['median_ms'], 2)} vs "
            f"{fmt(oj['bare']['median_ms'], 2)} ms) / {fmt(oj['sync_overhead'] * 100, 1)}% "
            f"({fmt(oj['sync_tool']['median_ms'], 2)} vs {fmt(oj['sync_bare']['median_ms'], 2)} "
            f"ms); SSE answers: {fmt(r.overhead['overhead'] * 100, 1)}% / "
            f"{fmt(r.overhead['sync_overhead'] * 100, 1)}%",
            "<= 10%",
            max(oj["overhead"], oj["sync_overhead"]) <= 0.10,
        ),
        *https_targets(r),
        *speed_targets(r),  # issue 18 (the scaling target among them)
        *eras_targets(r),  # issue 17
        (
            f"memory per open user session (tracemalloc, {mem['users']} sessions)",
            f"{kb(mem['bytes_per_session'])} KB",
            "<= 200 KB",
            mem["bytes_per_session"] <= 200 * 1024,
        ),
    ]
