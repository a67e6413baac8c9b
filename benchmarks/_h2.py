"""Five parallel calls of one model turn through a TLS edge that speaks h2: HTTP/2 vs HTTP/1.1.

The emulator (plain HTTP/1.1, child process) sits behind the tests' h2 TLS edge
(``tests/integration/_h2_edge.py``: Hypercorn offering ``h2`` and ``http/1.1`` by ALPN,
forwarding over HTTP/1.1 like a load balancer), behind the HTTPS benchmark's delay stage
(``_network.Network``: RTT/2 each way, a new connection's TCP handshake charged, connections
counted); both in one child process (``_h2_child.py``). Our toolkit (instance mode)
is pointed at the delay stage, once with ``http2=True`` and once with ``http2=False``; per round
and mode a fresh toolkit opens its session (``aget_tools``), then plays two turns of 5 tool
calls at once (``asyncio.gather`` of ``ainvoke``, as LangGraph's ToolNode runs them). Modes
alternate round by round, after one untimed round each (a process's first tool calls pay ~1 s
of one-time warm-up, whatever the protocol).

``python -m benchmarks --h2`` (mcp 1 or mcp 2 venv) runs just this and prints its section.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import time
from collections.abc import Callable
from typing import Any

from benchmarks import _https_modes as hm
from benchmarks._child import PipeChild
from benchmarks._common import median, ms
from benchmarks._emulator import EmulatorProcess
from benchmarks._format import fmt, table
from scalekit_langchain import AsyncScalekitClient
from scalekit_langchain._session_opener import SessionOpener
from scalekit_langchain.toolkit import ScalekitMCPToolkit

__all__ = ["alone", "h2_section", "parallel_turns"]

PARALLEL = 5
RTTS = (0.010, 0.050)
ROUNDS = 10
USER = "h2-user"


class EdgeProcess(PipeChild):
    """``_h2_child.py`` in a child process: the delay stage and the h2 TLS edge."""

    def __init__(self, upstream_port: int) -> None:
        super().__init__("_h2_child.py", str(upstream_port))
        self.port: int = self.hello["port"]
        self.verify = hm.trust(self.hello["ca_pem"])

    @property
    def connections(self) -> int:
        """New TCP connections so far (counted where the delay stage accepts them)."""
        return int(self.call("counts")["connections"])

    def set_rtt(self, seconds: float) -> None:
        self.call("set_rtt", seconds)


async def _round(
    client: AsyncScalekitClient, net: EdgeProcess, http2: bool, turns: int
) -> dict[str, Any]:
    """A fresh toolkit: open its session, then ``turns`` turns of 5 calls at once."""
    toolkit = ScalekitMCPToolkit(
        client=client, config_name=hm.CONFIG, user_identifier=USER, http2=http2
    )
    opener = toolkit.session_pool.factory
    assert isinstance(opener, SessionOpener)
    made: Callable[[str], Any] = opener.params_for

    async def through(user: str) -> Any:
        params = await made(user)
        return dataclasses.replace(params, url=hm.through(params.url, net.port), verify=net.verify)

    opener.params_for = through
    out: dict[str, Any] = {"walls": [], "cpu": [], "connections": []}
    try:
        before = net.connections
        tool = (await toolkit.aget_tools())[0]
        out["open_connections"] = net.connections - before
        for turn in range(turns):
            before = net.connections
            t0, c0 = time.perf_counter(), time.process_time()
            await asyncio.gather(*(hm.invoke(tool, turn * PARALLEL + i) for i in range(PARALLEL)))
            out["walls"].append(time.perf_counter() - t0)
            out["cpu"].append(time.process_time() - c0)
            out["connections"].append(net.connections - before)
    finally:
        await toolkit.aclose()
    return out


async def parallel_turns(
    emu: EmulatorProcess, client: AsyncScalekitClient, *, quick: bool = False
) -> dict[str, Any]:
    """Per RTT and mode (``h2``, ``http/1.1``): median wall of the first and the next turn, and
    the TCP connections the session's opening and each turn opened (the same every round).

    Returns ``{"ran": False, "why_not": ...}`` when ``h2`` or Hypercorn is not installed.
    """
    rtts, rounds = ((0.0,), 1) if quick else (RTTS, ROUNDS)
    missing = [m for m in ("h2", "hypercorn") if importlib.util.find_spec(m) is None]
    if missing:
        return {"ran": False, "why_not": f"{', '.join(missing)} not installed (the test extra)"}
    emu.authorize(USER, hm.CONNECTION)
    emu.clear_faults()
    runs: list[dict[str, Any]] = []
    with EdgeProcess(emu.port) as net:
        for http2 in (True, False):  # untimed: a process's first turn pays one-time warm-up
            await _round(client, net, http2, turns=1)
        for rtt in rtts:
            net.set_rtt(rtt)
            by_mode: dict[str, list[dict[str, Any]]] = {"h2": [], "http/1.1": []}
            for _ in range(rounds):
                for name, http2 in (("h2", True), ("http/1.1", False)):
                    by_mode[name].append(
                        await _round(client, net, http2, turns=2)
                    )
            modes = {}
            for name, rs in by_mode.items():
                modes[name] = {
                    "first_ms": ms(median([r["walls"][0] for r in rs])),
                    "next_ms": ms(median([r["walls"][1] for r in rs])),
                    "first_cpu_ms": ms(median([r["cpu"][0] for r in rs])),
                    "next_cpu_ms": ms(median([r["cpu"][1] for r in rs])),
                    # Connection counts are deterministic: kept as a set to show it.
                    "open_connections": sorted({r["open_connections"] for r in rs}),
                    "first_connections": sorted({r["connections"][0] for r in rs}),
                    "next_connections": sorted({r["connections"][1] for r in rs}),
                }
            runs.append({"rtt_ms": ms(rtt), "modes": modes})
        versions = net.call("versions")
    return {"ran": True, "rounds": rounds, "runs": runs, "edge_versions": versions}


def h2_section(h: dict[str, Any]) -> list[str]:
    """The report's section (Markdown lines)."""
    lines = [
        "",
        "## 5 parallel calls, one turn, through a TLS edge: h2 vs HTTP/1.1: wall and connections",
        "",
    ]
    if not h.get("ran"):
        return [*lines, f"Not measured: {h.get('why_not', 'not run')}.", ""]
    lines += [
        "Our toolkit behind a TLS edge that offers `h2` and `http/1.1` (Hypercorn, forwarding "
        "to the emulator over HTTP/1.1, as a load balancer does) and the HTTPS benchmark's "
        "delay stage (RTT/2 each way, a new connection pays its TCP handshake). Per round a "
        "fresh toolkit opens its session, then plays two turns of 5 tool calls at once; "
        f"{h['rounds']} rounds per mode, alternating; walls and CPU (this process) are "
        "medians. Connections are new TCP connections counted at the delay stage (the same in "
        "every round). "
        "`python -m benchmarks --h2` runs just this.",
        "",
    ]
    rows = []
    for run in h["runs"]:
        for name, m in run["modes"].items():
            rows.append([
                fmt(run["rtt_ms"], 0), f"`http2={name == 'h2'}` ({name})",
                fmt(m["first_ms"]), fmt(m["next_ms"]),
                f"{fmt(m['first_cpu_ms'])} / {fmt(m['next_cpu_ms'])}",
                "/".join(map(str, m["open_connections"])),
                "/".join(map(str, m["first_connections"])),
                "/".join(map(str, m["next_connections"])),
            ])
    lines += table(
        ["RTT ms", "client", "first turn ms", "next turn ms", "client CPU ms (first / next)",
         "conns: session open",
         "conns: first turn", "conns: next turn"],
        rows,
    )
    lines += [
        "",
        "On HTTP/1.1 the session's opening leaves two connections (the standing GET stream and "
        "the pooled handshake connection, which takes one call); the other 4 calls in flight open "
        "one each, so the first turn pays 4 TCP + TLS handshakes and the 5 calls use 5 "
        "connections; the next turn finds them pooled. On h2 the handshake, the GET stream and "
        "all calls are streams of one connection.",
        "",
    ]
    return lines


async def alone() -> dict[str, Any]:
    """Just this benchmark, against its own emulator (``python -m benchmarks --h2``)."""
    from benchmarks._common import new_client, setup

    with EmulatorProcess() as emu:
        client = new_client(emu)
        try:
            await setup(emu, client)
            return await parallel_turns(emu, client)
        finally:
            await client.aclose()
