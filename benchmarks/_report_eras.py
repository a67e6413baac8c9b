"""Report section and targets of the MCP-era benchmark (``_eras.py``): cold start and warm call
in the 2026-07-28 era (and against a server that speaks both eras), on the mcp 2 stack."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from benchmarks._format import fmt, kinds, table

if TYPE_CHECKING:
    from benchmarks._results import Measurements

__all__ = ["eras_section", "eras_targets"]

NEW_ERA = "2026-07-28"
#: What a client sends from nothing to its first tool answer in the new era.
NEW_COLD = {"mcp.server/discover": 1, "mcp.tools/list": 1, "mcp.tools/call": 1}

LABELS = {
    "ours": "ScalekitMCPToolkit, new user (finds its instance URL: REST)",
    "ours_known": "ScalekitMCPToolkit, new toolkit for a user the client served before",
    "langchain_mcp": "`langchain.mcp` `MCPAdapter` (FastMCP 4, `mode=\"auto\"`), URL given",
    "bare_sdk": "bare `ClientSession` of `mcp.Client(url, mode=\"auto\")`, URL given",
}
WARM_LABELS = {
    "ours": "ScalekitMCPToolkit",
    "langchain_mcp": "`langchain.mcp` `MCPAdapter` held open",
    "bare_sdk": "bare `ClientSession` (`mcp.Client`)",
}
ERA_NAMES = {"new": "2026-07-28 only", "both": "both eras", "handshake": "handshake only"}


def _answers(run: dict[str, Any]) -> str:
    return "JSON" if run["answer"] == "json" else "SSE"


def eras_section(r: Measurements) -> list[str]:
    """The cold start and warm call tables per era and answer mode."""
    e = r.eras
    lines = ["", "## MCP protocol eras on mcp 2: cold start and warm call", ""]
    if not e.get("ran"):
        return [*lines, f"Not measured: {e.get('why_not') or 'not run'}."]
    versions = ", ".join(f"{k} {v}" for k, v in e.get("versions", {}).items())
    lines += [
        "The emulator speaks the 2026-07-28 era only (`mcp_era=\"new\"`: no `initialize`, no "
        "session, `server/discover`) or both eras (`\"both\"`); the clients run in the mcp 2 "
        f"venv ({versions}), straight to the emulator (plain HTTP, 127.0.0.1), "
        f"{fmt(e['latency_ms'], 0)} ms injected before every request while a client is timed. "
        "Each negotiates on its own. Cold start: from nothing to the first tool answer "
        "(tools listed, one call), a new user each time, requests counted at the emulator "
        f"(every one of the {e['reps']} starts per row sent the same requests unless the row "
        "says otherwise); the peers are handed the user's instance URL, ours finds it (REST, "
        "counted apart). Warm: the client that just started, "
        f"{e['calls']} calls interleaved in {e['rounds']} rounds.",
        "",
    ]
    rows = []
    for run in e["runs"]:
        for mode, c in run["cold"].items():
            head = [ERA_NAMES.get(run["era"], run["era"]), _answers(run), LABELS.get(mode, mode)]
            if "error" in c:
                rows.append([*head, f"could not start: {c['error']}", "", "", "", ""])
                continue
            agree = "" if c["counts_agree"] else " (starts differed)"
            rows.append([
                *head, ", ".join(c["versions"]) or "?",
                f"{c['mcp_requests']:g} ({kinds(c['mcp'])}){agree}", kinds(c["rest"]),
                fmt(c["median_ms"]), fmt(c["client_cpu_ms"]),
            ])
    lines += ["### Cold start: until the first tool answer", ""]
    lines += table(
        ["server speaks", "answers", "client", "negotiated", "MCP requests", "REST requests",
         "median ms", "client CPU ms"],
        rows,
    )
    rows = []
    for run in e["runs"]:
        bare = run["warm"].get("bare_sdk", {})
        for mode, w in run["warm"].items():
            head = [ERA_NAMES.get(run["era"], run["era"]), _answers(run),
                    WARM_LABELS.get(mode, mode)]
            if "error" in w:
                rows.append([*head, "n/a", "", "", "", "", ""])
                continue
            ratio = w["median_ms"] / bare["median_ms"] if bare.get("median_ms") else None
            rows.append([
                *head, f"{w['requests_per_call']:g}", kinds(w["counts"]), fmt(w["median_ms"], 2),
                fmt(w["p95_ms"], 2), fmt(w["client_cpu_ms_per_call"], 2),
                f"{fmt(ratio, 2)}x" if ratio is not None else "n/a",
            ])
    lines += ["", "### Warm call", ""]
    lines += table(
        ["server speaks", "answers", "client", "requests / call", "requests", "median ms",
         "p95 ms", "client CPU ms / call", "median vs bare"],
        rows,
    )
    return lines


def eras_targets(r: Measurements) -> list[tuple[str, str, str, bool]]:
    """Issue 17's era targets: (what, measured, target, met)."""
    e = r.eras
    what_cold = (
        "2026-07-28 era on mcp 2 (server speaking it only, and both eras; JSON and SSE "
        "answers): MCP requests from a new toolkit to its first tool answer, ours"
    )
    what_warm = "2026-07-28 era on mcp 2: requests per warm call, ours (median vs bare, MCPAdapter)"
    if not e.get("ran") or not e.get("runs"):
        why = f"not measured: {e.get('why_not') or 'no run'}"
        return [(what_cold, why, "server/discover + tools/list + tools/call", False),
                (what_warm, why, "1", False)]
    cold_ok, cold_parts = True, []
    warm_ok, warm_parts = True, []
    for run in e["runs"]:
        where = f"{run['era']}/{_answers(run)}"
        for mode in ("ours", "ours_known"):
            c = run["cold"].get(mode, {"error": "missing"})
            good = (
                "error" not in c and c["mcp"] == NEW_COLD and c["counts_agree"]
                and c["versions"] == [NEW_ERA]
            )
            cold_ok = cold_ok and good
            if not good:
                cold_parts.append(f"{where} {mode}: {c.get('error') or kinds(c['mcp'])}")
        w = run["warm"].get("ours", {"error": "missing"})
        good = "error" not in w and w["counts"] == {"mcp.tools/call": w["calls"]}
        warm_ok = warm_ok and good
        peers = " / ".join(
            fmt(run["warm"][m]["median_ms"], 2) if "median_ms" in run["warm"].get(m, {})
            else "n/a"
            for m in ("ours", "bare_sdk", "langchain_mcp")
        )
        warm_parts.append(
            f"{where}: {w.get('error') or kinds(w['counts'])} in {w.get('calls', 0)} calls "
            f"({peers} ms ours / bare / MCPAdapter)"
        )
    peers_cold = sorted({
        f"{mode} {kinds(c['mcp'])}" if "error" not in c else f"{mode} could not start"
        for run in e["runs"] for mode, c in run["cold"].items() if mode in LABELS
        and mode not in ("ours", "ours_known")
    })
    measured_cold = (
        (f"every start: {kinds(NEW_COLD)} (REST apart), negotiated {NEW_ERA}"
         if cold_ok else "; ".join(cold_parts))
        + "; peers: " + "; ".join(peers_cold)
    )
    return [
        (what_cold, measured_cold, "server/discover + tools/list + tools/call", cold_ok),
        (what_warm, "; ".join(warm_parts), "1 (tools/call)", warm_ok),
    ]
