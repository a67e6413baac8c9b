"""Report sections about the wire and the wrapper: HTTPS through a network, overhead, throughput.

Every figure comes from the run being reported; nothing here is a constant.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from benchmarks._format import fmt, table
from benchmarks._results import IDLE_TIMEOUT

if TYPE_CHECKING:
    from benchmarks._results import Measurements

__all__ = ["https_section", "https_targets", "overhead_section", "throughput_section"]

#: How each client of the HTTPS benchmark is labelled, and which client it is compared with.
HTTPS_LABELS = {
    "ours": ("ScalekitMCPToolkit (mcp 1.x)", "ours"),
    "adapters_session": (
        "langchain-mcp-adapters explicit session (`client.session()` + `load_mcp_tools`)", "ours"
    ),
    "bare_sdk": ("bare mcp 1.x `ClientSession` (SDK's own transport)", "ours"),
    "mcp2:ours": ("ScalekitMCPToolkit (mcp 2.x)", "mcp2:ours"),
    "mcp2:langchain_mcp": (
        "`langchain.mcp` `MCPAdapter` inside `async with adapter:` (mcp 2.x)", "mcp2:ours"
    ),
    "mcp2:bare_sdk": ("bare mcp 2.x `ClientSession` (SDK's own transport)", "mcp2:ours"),
}


def _run(r: Measurements, answer: str, rtt_ms: float) -> dict[str, Any] | None:
    for run in r.https["runs"]:
        if run["answer"] == answer and abs(run["rtt_ms"] - rtt_ms) < 1e-6:
            return run
    return None


def _ratio(run: dict[str, Any], mode: str) -> float:
    base = run["modes"].get(HTTPS_LABELS[mode][1])
    own = run["modes"].get(mode)
    if not base or not own or not base["median_ms"]:
        return math.nan
    return float(own["median_ms"] / base["median_ms"])


def https_targets(r: Measurements) -> list[tuple[str, str, str, bool]]:
    """The design's two HTTPS targets: (what, measured, target, met)."""
    runs = r.https["runs"]
    if not runs:
        return []
    ours = [
        (run, name, run["modes"][name])
        for run in runs
        for name in ("ours", "mcp2:ours")
        if name in run["modes"]
    ]
    connections = sum(m["connections"] for _, _, m in ours)
    handshakes = sum(m["handshakes"] for _, _, m in ours)
    calls = sum(m["calls"] for _, _, m in ours)
    rtts = sorted({run["rtt_ms"] for run in runs})
    out = [(
        "new TCP connections / TLS handshakes per warm call, HTTPS through the network "
        f"(ours, both stacks, SSE and JSON answers, RTT {', '.join(fmt(x, 0) for x in rtts)} ms)",
        f"{connections} / {handshakes} in {calls} warm calls",
        "0",
        connections == 0 and handshakes == 0,
    )]
    ten = _run(r, "sse", 10.0)
    if ten is not None:
        speedup = _ratio(ten, "adapters_session")
        a, o = ten["modes"]["adapters_session"], ten["modes"]["ours"]
        extra = ""
        if "mcp2:langchain_mcp" in ten["modes"]:
            extra = (
                f"; `langchain.mcp` MCPAdapter / ours on mcp 2: "
                f"{fmt(_ratio(ten, 'mcp2:langchain_mcp'), 2)}x"
            )
        json10 = _run(r, "json", 10.0)
        if json10 is not None:
            extra += (
                f"; with JSON answers {fmt(_ratio(json10, 'adapters_session'), 2)}x (no "
                "handshakes on either side)"
            )
        out.append((
            "warm call, adapters' explicit session / ours, HTTPS, SSE answers, 10 ms RTT "
            "(median)",
            f"{fmt(speedup, 2)}x ({fmt(a['median_ms'])} / {fmt(o['median_ms'])} ms){extra}",
            ">= 2x",
            speedup >= 2.0,
        ))
    idle = r.https.get("idle") or {}
    if idle:
        out.append((
            f"a call after {fmt(idle['idle_s'], 0)} s idle, the server keeping connections "
            f"{fmt(IDLE_TIMEOUT, 0)} s (HTTPS): new TCP connections / TLS handshakes",
            f"{idle['connections']} / {idle['handshakes']}",
            "0",
            idle["connections"] == 0 and idle["handshakes"] == 0,
        ))
    return out


def https_section(r: Measurements) -> list[str]:
    """The HTTPS table, one per answer mode."""
    h = r.https
    lines = [
        "",
        "## Warm tool call over HTTPS, through a network with a round-trip time",
        "",
        "The emulator behind `benchmarks/_network.py` (a child process): a delay stage that "
        "holds every chunk RTT/2 in each direction and charges a new connection's TCP handshake "
        "(its first bytes wait one RTT), then a TLS edge with a certificate generated at start "
        "that only the benchmark's clients trust. Connections are counted where the delay stage "
        "accepts them, TLS handshakes where the edge completes them (resumed ones apart: "
        "none were), requests at the emulator. Sessions are opened before timing; "
        f"{h['calls']} warm calls per client and setting, interleaved in {h['rounds']} rounds; "
        "\"vs ours\" compares with our toolkit on the same MCP stack.",
        "",
    ]
    if not h["mcp2"]["ran"]:
        lines += [f"mcp 2.x clients (`langchain.mcp`) not measured: {h['mcp2']['why_not']}.", ""]
    else:
        versions = ", ".join(f"{k} {v}" for k, v in h["mcp2"].get("versions", {}).items())
        lines += [f"mcp 2.x clients ran in the mcp 2 venv ({versions}).", ""]
    for answer in dict.fromkeys(run["answer"] for run in h["runs"]):
        title = "SSE answers" if answer == "sse" else "JSON answers"
        lines += [f"### {title}", ""]
        rows = []
        for run in h["runs"]:
            if run["answer"] != answer:
                continue
            for mode, m in run["modes"].items():
                label = HTTPS_LABELS.get(mode, (mode, mode))[0]
                rows.append([
                    fmt(run["rtt_ms"], 0), label, fmt(m["median_ms"]), fmt(m["p95_ms"]),
                    fmt(_ratio(run, mode), 2) + "x",
                    fmt(m["connections_per_100"], 0), fmt(m["handshakes_per_100"], 0),
                    fmt(m["requests_per_call"], 2), fmt(m["client_cpu_ms_per_call"], 2),
                ])
        lines += table(
            ["RTT ms", "client", "median ms", "p95 ms", "vs ours", "new TCP conns / 100 calls",
             "TLS handshakes / 100 calls", "requests / call", "client CPU ms / call"],
            rows,
        )
        lines.append("")
    idle = h.get("idle") or {}
    if idle:
        lines += [
            "Warm means the client's previous call was a moment ago. After "
            f"{fmt(idle['idle_s'], 0)} s idle our client's next call opened "
            f"{idle['connections']} TCP connection(s) and did {idle['handshakes']} TLS "
            f"handshake(s): the emulator keeps idle connections {fmt(IDLE_TIMEOUT, 0)} s and "
            "our pool 50 s (`keepalive_expiry`; httpx's default, 5 s, is shorter than a "
            "model's turn in many agents).",
            "",
        ]
    return lines


def overhead_section(r: Measurements) -> list[str]:
    """The wrapper overhead tables (SSE and JSON answers) and what they mean."""
    lines = ["", "## Wrapper overhead (latency 0, same MCP session)", ""]
    labels = {
        "bare": "bare `ClientSession.call_tool`, on the session's (the caller's) loop",
        "session": "ours: `McpSession.call_tool_on_loop`, same loop",
        "tool_on_session_loop": "ours: tool `ainvoke`, same loop (again)",
        "tool": "ours: tool `ainvoke` from the caller's loop (what async users get)",
        "sync_bare": "bare `ClientSession.call_tool` from a thread, blocking (sync floor)",
        "sync_tool": "ours: tool `invoke` from a thread (what sync users get)",
        "adapters_bare": "reference: bare `call_tool` on an adapters session, caller's loop",
        "adapters_tool": "reference: adapters session-mode tool `ainvoke`, same session",
    }
    bases = {"sync_tool": "sync_bare", "sync_bare": "sync_bare",
             "adapters_bare": "adapters_bare", "adapters_tool": "adapters_bare"}
    runs = [("JSON answers", r.overhead_json), ("SSE answers", r.overhead)]
    rows = []
    for key, label in labels.items():
        row = [label]
        for _, o in runs:
            x, base = o[key], o[bases.get(key, "bare")]
            row += [
                fmt(x["median_ms"], 3),
                f"{fmt((x['median_ms'] / base['median_ms'] - 1) * 100, 0)}%",
                fmt(x["client_cpu_ms_per_call"], 2),
            ]
        rows.append(row)
    head = ["layer"]
    for name, _ in runs:
        head += [f"{name}: median ms", "vs its bare call", "client CPU ms / call"]
    lines += table(head, rows)
    o, oj = r.overhead, r.overhead_json
    lines += [
        "",
        f"{o['tool']['calls']} calls per layer and answer mode, interleaved in "
        f"{r.params.overhead_rounds} rounds. With JSON answers every layer reuses its "
        "connection, so that column is the wrapper's own cost: async "
        f"{fmt(oj['overhead'] * 100, 1)}%, sync {fmt(oj['sync_overhead'] * 100, 1)}%. With SSE "
        "answers the bare call on our session opens a new TCP connection per call (the SDK "
        "closes the SSE answer early; our transport reads to the end only the tool calls that "
        "carry our call id), which our calls do not: async "
        f"{fmt(o['overhead'] * 100, 1)}%, sync {fmt(o['sync_overhead'] * 100, 1)}%. The "
        "adapters' own session-mode tool costs "
        f"{fmt(oj['adapters_overhead'] * 100, 0)}% (JSON) over its bare call: LangChain's "
        "`BaseTool` and the result conversion, which any LangChain MCP tool pays.",
    ]
    return lines


def throughput_section(r: Measurements) -> list[str]:
    """Warm calls/s and client CPU per call at 1, 10, 100 users, ours next to the bare SDK."""
    if not r.throughput:
        return []
    lines = [
        "",
        "## Warm throughput next to the bare SDK (latency 0)",
        "",
        "Sessions open before timing; every user makes its calls one after the other, all "
        "users at once, on one event loop. Ours: one multi-user `ScalekitMCPToolkit`, tool "
        "`ainvoke` routed by `user_id`. Bare SDK: one `mcp` `ClientSession` per user with the "
        "SDK's own transport, on the caller's loop. Client CPU = all CPU of this process / "
        f"calls; medians of {r.throughput[0]['rounds']} alternating rounds.",
        "",
    ]
    rows = []
    for row in r.throughput:
        o, b = row["ours"], row["bare_sdk"]
        rows.append([
            "SSE" if row["answer"] == "sse" else "JSON", str(row["users"]), str(row["calls"]),
            fmt(o["calls_per_second"], 0), fmt(b["calls_per_second"], 0),
            fmt(o["calls_per_second"] / b["calls_per_second"], 2) + "x",
            fmt(o["client_cpu_ms_per_call"], 2), fmt(b["client_cpu_ms_per_call"], 2),
            f"{fmt((o['client_cpu_ms_per_call'] / b['client_cpu_ms_per_call'] - 1) * 100, 0)}%",
        ])
    lines += table(
        ["answers", "users", "calls", "ours calls/s", "bare SDK calls/s", "ours / bare",
         "ours CPU ms / call", "bare CPU ms / call", "CPU vs bare"],
        rows,
    )
    lines += [
        "",
        "With SSE answers the bare sessions open a TCP connection per call and ours do not; "
        "with JSON answers both keep their connections, so those rows compare the wrappers.",
    ]
    return lines
