"""The environment a run happened in, and the Markdown report."""

from __future__ import annotations

import datetime
import math
import os
import platform
from typing import TYPE_CHECKING, Any

from benchmarks._analysis import analysis
from benchmarks._child import package_versions
from benchmarks._format import fmt, kb, kinds, table
from benchmarks._h2 import h2_section
from benchmarks._report_eras import eras_section
from benchmarks._report_wire import https_section, overhead_section, throughput_section
from benchmarks._targets import targets

if TYPE_CHECKING:
    from benchmarks._results import Measurements

PACKAGES = (
    "langchain-core",
    "langchain-mcp-adapters",
    "mcp",
    "langgraph",
    "httpx",
    "scalekit-langchain",
)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def environment(command: str) -> dict[str, Any]:
    """Machine, date, versions and command of this run."""
    versions = package_versions(PACKAGES)
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{_cpu_model()}, {os.cpu_count()} cores, "
        f"{platform.system()} {platform.release()} ({platform.machine()})",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "versions": versions,
        "command": command,
        "load": _load(),
        "git": _git(),
    }


def _git() -> str:
    """The commit the library was measured at, and whether its files had local changes."""
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
            timeout=10, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "scalekit_langchain"], cwd=root,
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head} (scalekit_langchain/ with uncommitted changes)" if dirty else head


def _load() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def _ok(met: bool) -> str:
    return "met" if met else "**missed**"


def render(r: Measurements) -> str:
    """The whole report."""
    p, env = r.params, r.env
    lat = fmt(p.latency * 1000, 0)
    lines = ["# Benchmarks: scalekit-langchain vs langchain-mcp-adapters", ""]
    if p.quick:
        lines += [
            "**Quick mode (smoke test): tiny samples, no latency; figures mean nothing.**", ""
        ]
    v = env.get("versions", {})
    lines += [
        f"- date: {env.get('date')}",
        f"- machine: {env.get('machine')}",
        f"- python: {env.get('python')}",
        f"- load average (1 / 5 / 15 min) when the run started: {env.get('load_start')}, "
        f"ended: {env.get('load')} (other work on the machine inflates absolute times; ratios "
        "are taken within the run, modes interleaved)",
        "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items())
        + f" (git {env.get('git')})",
        f"- command: `{env.get('command')}` (took {fmt(r.duration_s, 0)} s)",
        f"- setup: the Scalekit emulator (`scalekit_langchain.testing`) in a child process on "
        f"127.0.0.1, {lat} ms injected before every request unless said otherwise; one MCP "
        f"tool (`gmail_fetch_mails`, `max_results=1`) called as an agent does "
        f"(`tool.ainvoke(ToolCall)`); ratios are taken within this run.",
        "",
        "## Targets",
        "",
    ]
    lines += table(
        ["what", "measured", "target", ""],
        [[w, m, t, _ok(ok)] for w, m, t, ok in targets(r)],
    )

    # warm ------------------------------------------------------------------------------
    ours = r.warm["ours"]
    lines += ["", f"## Warm tool call ({lat} ms per request)", ""]
    names = {
        "ours": "ScalekitMCPToolkit",
        "adapters_default": (
            "adapters `MultiServerMCPClient(...).get_tools()` (new session per call)"
        ),
        "adapters_session": "adapters explicit session (`client.session()` + `load_mcp_tools`)",
    }
    rows = []
    for key, label in names.items():
        w = r.warm[key]
        rows.append([
            label, f"{w['requests_per_call']:g}", kinds(w["requests_by_kind"]),
            fmt(w["median_ms"]), fmt(w["p95_ms"]), fmt(w["client_cpu_ms_per_call"], 2),
            fmt(w["median_ms"] / ours["median_ms"], 2) + "x",
        ])
    lines += table(
        ["", "HTTP requests / call", "by kind", "median ms", "p95 ms", "client CPU ms / call",
         "median vs ours"],
        rows,
    )
    lines += ["", f"{ours['calls']} calls per mode, interleaved in {p.warm_rounds} rounds."]

    # startup ---------------------------------------------------------------------------
    s = r.startup
    lines += https_section(r)
    lines += h2_section(r.h2)
    lines += eras_section(r)
    lines += ["", "## Startup: before the tools are ready", ""]
    labels = {
        "cold": "ours, new user (warm client: token cached)",
        "returning": "ours, returning user (new toolkit, same client, within TTL)",
        "adapters": "adapters by hand: `ensure_instance` + `get_tools()`",
    }
    rows = []
    for key, label in labels.items():
        x = s[key]
        rows.append([
            label, f"{x['rest_calls']:g} ({kinds(x['rest'])})",
            f"{x['mcp_requests']:g} ({kinds(x['mcp'])})",
            f"{fmt(x['round_trips'])} / {fmt(x['rest_round_trips'])} / {fmt(x['mcp_round_trips'])}",
            fmt(x["median_ms"]), fmt(x["zero_latency_ms"]), fmt(x["client_cpu_ms"]),
        ])
    lines += table(
        ["", "REST calls", "MCP requests", "sequential round trips (all / REST / MCP)",
         f"ms at {lat} ms", "ms with no latency", "client CPU ms"],
        rows,
    )
    lines += [
        "",
        f"Round trips = (median time with {fmt(s['cold']['probe_ms'], 0)} ms on the requests - "
        f"median time with none) / {fmt(s['cold']['probe_ms'], 0)} ms, latency on every request, "
        f"on REST requests only, on MCP requests only; {s['cold']['reps']} new users per setting. "
        "The adapters row does not check the auth state (ours does, overlapped with MCP "
        "initialize).",
    ]

    # concurrency -----------------------------------------------------------------------
    head = r.concurrent
    lines += [
        "",
        f"## {head['users']} users at once, {head['calls_per_user']} calls each ({lat} ms per "
        "request), and how it grows",
        "",
        "Every run starts from a fresh `AsyncScalekitClient` (no token) and new users, all at "
        "once; each user makes its calls one after the other. Multi-user: one "
        "`ScalekitMCPToolkit(user_identifier=None)` whose tools route each call by "
        "`config={'configurable': {'user_id': ...}}` (a user's session opens on its first "
        "call). Per-user: one toolkit per user, sharing the client. calls/s = all calls / total "
        "time (connects included). CPU per call = all CPU of the run / calls, in this process "
        "(client) and in the emulator's (server).",
        "",
    ]
    mem_by_users = {m["users"]: m for m in r.memory}
    rows = []
    for c in [*r.scaling, r.per_user]:
        m = mem_by_users.get(c["users"]) if c["multi_user"] else None
        rows.append([
            str(c["users"]), "multi-user" if c["multi_user"] else "per-user toolkits",
            fmt(c["total_s"], 2), fmt(c["calls_per_second"], 0),
            f"{fmt(c['first_p50_ms'])} / {fmt(c['first_p95_ms'])}",
            f"{fmt(c['call_p50_ms'])} / {fmt(c['call_p95_ms'])}",
            str(c["oauth_tokens"]), str(c["errors"]),
            f"{fmt(c['client_cpu_ms_per_call'], 2)} / {fmt(c['server_cpu_ms_per_call'], 2)}",
            kb(m["bytes_per_session"]) if m else "",
        ])
    lines += table(
        ["users", "toolkit", "total s", "calls/s", "first call (opens the session) p50 / p95 ms",
         "warm call p50 / p95 ms", "OAuth tokens", "errors", "CPU ms / call client / server",
         "KB / session (tracemalloc)"],
        rows,
    )
    busy = head["client_cpu_s"] / head["total_s"] if head["total_s"] else math.nan
    lines += [
        "",
        f"In the {head['users']}-user multi-user run the client used "
        f"{fmt(head['client_cpu_s'], 1)} s of CPU in {fmt(head['total_s'], 1)} s "
        f"({fmt(busy * 100, 0)}% of one core; its event loops share one GIL) and the emulator "
        f"{fmt(head['server_cpu_s'], 1)} s: at {fmt(head['client_cpu_ms_per_call'], 2)} ms of "
        f"client CPU per call, one core allows about "
        f"{fmt(1000 / head['client_cpu_ms_per_call'], 0)} calls/s whatever the number of users.",
        "",
        f"Requests of that run: REST {kinds(head['rest'])}; MCP {kinds(head['mcp'])}.",
    ]
    for c in [*r.scaling, r.per_user]:
        if c["error_samples"]:
            lines += ["", f"Errors ({c['users']} users): " + "; ".join(c["error_samples"])]

    lines += overhead_section(r)
    lines += throughput_section(r)

    # CPU -------------------------------------------------------------------------------
    cpu = r.cpu
    lines += ["", "## CPU per call by layer, network taken out", ""]
    lines += [
        "The live `ClientSession.call_tool` is replaced by a fake that yields once and returns "
        f"a recorded result; {p.cpu_calls} calls per layer, fastest of {p.cpu_reps}.",
        "",
    ]
    steps = [
        ("fake `ClientSession.call_tool` (the floor)", cpu["fake"], None, "-"),
        ("+ `McpSession.call_tool_on_loop` (_mcp_session.py: call id, `_race`)", cpu["session"],
         cpu["session"] - cpu["fake"], "ours"),
        ("+ `ScalekitMCPToolkit.arun_tool` (user routing, auth check, call runner)", cpu["toolkit"],
         cpu["toolkit"] - cpu["session"], "ours"),
        ("+ tool `ainvoke` (LangChain `BaseTool`: callbacks, run manager, ToolMessage; "
         "our tools.py)", cpu["tool_on_session_loop"],
         cpu["tool_on_session_loop"] - cpu["toolkit"], "mostly LangChain `BaseTool`"),
        ("the same, measured again (the session lives on the caller's loop: no hop)",
         cpu["tool"], cpu["tool"] - cpu["tool_on_session_loop"], "noise"),
        ("reference: a thread hop (`_session_loop.run` of a no-op), no longer paid by async "
         "calls", cpu["hop"], None, "ours (sync calls)"),
        ("reference: adapters session-mode tool `ainvoke` (same fake)", cpu["adapters_tool"],
         cpu["adapters_tool"] - cpu["fake"], "LangChain / adapters"),
    ]
    lines += table(
        ["layer", "us / call", "added us", "whose"],
        [[label, fmt(total, 0), fmt(added, 0) if added is not None else "", who]
         for label, total, added, who in steps],
    )

    # memory ----------------------------------------------------------------------------
    lines += ["", "## Memory per open user session", ""]
    rows = []
    for m in r.memory:
        top = ", ".join(f"{k} {kb(v)}" for k, v in list(m.get("by_bucket", {}).items())[:6])
        rows.append([f"ours, {m['users']} sessions", kb(m["bytes_per_session"]), top])
    ma = r.memory_adapters
    top = ", ".join(f"{k} {kb(v)}" for k, v in list(ma.get("by_bucket", {}).items())[:6])
    rows.append([
        f"reference: adapters explicit sessions, {ma['users']} sessions",
        kb(ma["bytes_per_session"]), top,
    ])
    lines += table(["", "KB / session (tracemalloc)", "largest parts, KB / session"], rows)
    lines += [
        "",
        "Sessions are opened in stages and kept open; one user is opened before measuring, so "
        "one-time costs are excluded. tracemalloc only sees Python's allocator: resident memory "
        f"(RSS, no tracemalloc, {r.rss['users']} sessions, measured first) grew by "
        f"**{kb(r.rss['bytes_per_session'])} KB per session** (buffers of C libraries "
        "included). A new `httpx.AsyncHTTPTransport()` with its own SSL context (CA bundle "
        f"loaded) would cost {fmt(r.transport['cpu_ms'], 1)} ms of CPU and "
        f"{kb(r.transport['rss_bytes'])} KB resident per session (measured in this run); "
        "`session.py` builds one SSL context per process and shares it.",
    ]
    lines += ["", *analysis(r), ""]
    return "\n".join(lines)
