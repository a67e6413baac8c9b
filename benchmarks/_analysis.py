"""The closing analysis of the report, written from the run's own figures.

Only the mechanisms are fixed text (why a connection is or is not reused, where the wrapper's
time goes); every number is read from the results being reported, so a new run can never leave
an old figure behind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchmarks._format import fmt
from benchmarks._targets import targets

if TYPE_CHECKING:
    from benchmarks._results import Measurements

__all__ = ["analysis"]


def _https(r: Measurements) -> list[str]:
    runs = r.https["runs"]
    sse10 = next((x for x in runs if x["answer"] == "sse" and x["rtt_ms"] == 10.0), None)
    if sse10 is None:
        return []
    m = sse10["modes"]
    ours, adapters = m["ours"], m["adapters_session"]
    out = [
        f"**HTTPS, SSE answers, 10 ms RTT.** Ours: {fmt(ours['median_ms'])} ms per warm call, "
        f"{fmt(ours['connections_per_100'], 0)} new connections and "
        f"{fmt(ours['handshakes_per_100'], 0)} TLS handshakes per 100 calls. The adapters' "
        f"explicit session: {fmt(adapters['median_ms'])} ms, "
        f"{fmt(adapters['connections_per_100'], 0)} connections and "
        f"{fmt(adapters['handshakes_per_100'], 0)} handshakes per 100 calls "
        f"({fmt(adapters['median_ms'] / ours['median_ms'], 2)}x ours). The mcp SDK (1.x and 2.x) "
        "closes an SSE answer as soon as the JSON-RPC response arrived, before the chunked body "
        "ended, and the HTTP/1.1 pool drops a connection whose response did not end: every call "
        "then pays a TCP handshake and a TLS handshake (two more round trips, and the TLS CPU). "
        "Our session's transport reads the few bytes left before the SDK closes the answer, so "
        "the connection goes back to the pool.",
    ]
    json10 = next((x for x in runs if x["answer"] == "json" and x["rtt_ms"] == 10.0), None)
    if json10 is not None:
        j = json10["modes"]
        out[0] += (
            " With JSON answers the SDK reads each answer to its end and every client keeps its "
            f"connection: adapters {fmt(j['adapters_session']['median_ms'])} ms vs ours "
            f"{fmt(j['ours']['median_ms'])} ms at 10 ms RTT."
        )
    if "mcp2:langchain_mcp" in m:
        lm, o2 = m["mcp2:langchain_mcp"], m["mcp2:ours"]
        out[0] += (
            f" On mcp 2, `langchain.mcp`'s MCPAdapter held open: {fmt(lm['median_ms'])} ms and "
            f"{fmt(lm['handshakes_per_100'], 0)} handshakes per 100 calls, ours "
            f"{fmt(o2['median_ms'])} ms and {fmt(o2['handshakes_per_100'], 0)}."
        )
    return out


def _overhead(r: Measurements) -> list[str]:
    oj, cpu = r.overhead_json, r.cpu
    hop = cpu["tool"] - cpu["tool_on_session_loop"]
    base = cpu["tool_on_session_loop"] - cpu["toolkit"]
    return [
        f"**Wrapper overhead.** With JSON answers (both sides keep their connection) our async "
        f"tool costs {fmt(oj['overhead'] * 100, 1)}% over a bare `ClientSession.call_tool` on "
        f"the same session and the sync tool {fmt(oj['sync_overhead'] * 100, 1)}% over a bare "
        f"call driven from a thread. Network taken out (CPU table): the session layer adds "
        f"{fmt(cpu['session'] - cpu['fake'], 0)} us per call (call id, the race against a dying "
        f"session), the toolkit layer {fmt(cpu['toolkit'] - cpu['session'], 0)} us (user "
        f"routing, auth check, the shielded task that keeps a call on the wire from being "
        f"cancelled by a sibling's interrupt), LangChain's `BaseTool` around it {fmt(base, 0)} us "
        f"(the adapters' tool pays {fmt(cpu['adapters_tool'] - cpu['fake'], 0)} us for the same). "
        f"Async callers pay no thread hop any more (their sessions live on their own loop: "
        f"{fmt(hop, 0)} us between two measurements of the same layer); a hop, which sync "
        f"calls still pay, costs {fmt(cpu['hop'], 0)} us for a no-op.",
    ]


def _throughput(r: Measurements) -> list[str]:
    rows = [row for row in r.throughput if row["answer"] == "json"] or r.throughput
    if not rows:
        return []
    parts = ", ".join(
        f"{row['users']} users {fmt(row['ours']['calls_per_second'], 0)} vs "
        f"{fmt(row['bare_sdk']['calls_per_second'], 0)} calls/s"
        for row in rows
    )
    worst = max(rows, key=lambda row: row["ours"]["client_cpu_ms_per_call"])
    cpu = worst["ours"]["client_cpu_ms_per_call"]
    return [
        f"**Throughput (JSON answers, warm, latency 0), ours vs bare SDK:** {parts}. At latency "
        f"0 both are bound by client CPU ({fmt(cpu, 2)} ms per call at most for ours: one core, "
        f"one GIL, allows about {fmt(1000 / cpu, 0)} calls/s), so adding users adds no "
        "throughput once one core is busy; with a real round trip per call, concurrent users "
        "overlap their waits instead (the multi-user table above, at the injected latency, "
        "includes opening every user's session).",
    ]


def analysis(r: Measurements) -> list[str]:
    """The analysis section: lines of Markdown."""
    missed = [(what, measured) for what, measured, _, ok in targets(r) if not ok]
    lines = ["## What the numbers say (written from this run)", ""]
    for paragraph in (*_https(r), *_overhead(r), *_throughput(r)):
        lines += [paragraph, ""]
    if missed:
        lines += ["**Missed in this run:**", ""]
        lines += [f"- {what}: {measured}" for what, measured in missed]
    else:
        lines += ["Every target of the design was met in this run."]
    lines += [
        "",
        "Notes: the emulator and the network run in child processes, so their CPU is not "
        "charged to the client; the machine is shared, so absolute times move between runs "
        "and the ratios (modes interleaved within one run) are what to read.",
    ]
    return lines
