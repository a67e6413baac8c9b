"""Warm tool calls over HTTPS through a network with a round-trip time, side by side.

The emulator (plain HTTP, child process) sits behind ``_network.py`` (child process): a delay
stage that holds every chunk RTT/2 in each direction and charges the TCP handshake, then a TLS
edge with a certificate made at start that only these clients trust. The network counts new
TCP connections and TLS handshakes; the emulator counts requests. Clients, in this process
(mcp 1.x): our toolkit, langchain-mcp-adapters' explicit session (``client.session()`` +
``load_mcp_tools``), a bare ``ClientSession``; in the mcp 2 venv's worker (``_mcp2_worker.py``),
when that venv exists: our toolkit, ``langchain.mcp``'s ``MCPAdapter`` inside
``async with adapter:``, a bare mcp 2 ``ClientSession``. Modes run interleaved, round by round.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
from collections import Counter
from collections.abc import Sequence
from typing import Any

import httpx
from langchain_core.tools import BaseTool
from langchain_mcp_adapters.client import MultiServerMCPClient
from langchain_mcp_adapters.tools import load_mcp_tools

from benchmarks import _https_modes as hm
from benchmarks._child import ROOT, PipeChild
from benchmarks._common import median, ms, pct
from benchmarks._emulator import EmulatorProcess
from scalekit_langchain import AsyncScalekitClient

__all__ = ["NetworkProcess", "https_calls"]

#: The interpreter of the mcp 2 venv (``make`` creates it as ``.venv``).
MCP2_PYTHON = os.path.join(ROOT, ".venv", "bin", "python")


class NetworkProcess(PipeChild):
    """``_network.py`` in a child process, in front of the emulator's port."""

    def __init__(self, upstream_port: int) -> None:
        super().__init__("_network.py", str(upstream_port))
        self.port: int = self.hello["port"]
        self.ca_pem: str = self.hello["ca_pem"]

    def set_rtt(self, seconds: float) -> None:
        self.call("set_rtt", seconds)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = self.call("counts")
        return counts

    def reset_counts(self) -> None:
        self.call("reset_counts")


class AdaptersSession(hm.Mode):
    """langchain-mcp-adapters' explicit session: ``client.session()`` + ``load_mcp_tools``."""

    name = "adapters_session"

    def __init__(self, url: str, verify: ssl.SSLContext) -> None:
        super().__init__()
        self.url = url
        self.verify = verify
        self.tool: BaseTool | None = None

    async def open(self) -> None:
        verify = self.verify

        def factory(
            headers: dict[str, str] | None = None,
            timeout: httpx.Timeout | None = None,
            auth: httpx.Auth | None = None,
        ) -> httpx.AsyncClient:
            # What the SDK's default factory does, plus the benchmark's trust.
            return httpx.AsyncClient(
                headers=headers, timeout=timeout or httpx.Timeout(30.0, read=300.0), auth=auth,
                follow_redirects=True, verify=verify,
            )

        client = MultiServerMCPClient(
            {"scalekit": {"transport": "streamable_http", "url": self.url,
                          "httpx_client_factory": factory}}
        )
        session = await self.stack.enter_async_context(client.session("scalekit"))
        self.tool = (await load_mcp_tools(session))[0]

    async def call(self, i: int) -> None:
        assert self.tool is not None
        await hm.invoke(self.tool, i)


class Remote(hm.Mode):
    """A mode that lives in the mcp 2 worker."""

    def __init__(self, worker: PipeChild, name: str) -> None:
        super().__init__()
        self.worker = worker
        self.remote_name = name
        self.name = f"mcp2:{name}"

    async def open(self) -> None:
        return None

    async def call(self, i: int) -> None:
        await self.timed(1)

    async def timed(self, n: int) -> dict[str, Any]:
        result: dict[str, Any] = await asyncio.to_thread(
            self.worker.call, "calls", self.remote_name, n
        )
        return result


def _start_worker(settings: dict[str, Any]) -> tuple[PipeChild | None, str]:
    """The mcp 2 worker, or None and why not."""
    if not os.path.exists(MCP2_PYTHON):
        return None, f"no mcp 2 venv at {os.path.relpath(MCP2_PYTHON, ROOT)}"
    try:
        worker = PipeChild("_mcp2_worker.py", json.dumps(settings), python=MCP2_PYTHON)
    except RuntimeError as exc:
        return None, f"the mcp 2 worker did not start ({exc}; langchain[mcp] installed there?)"
    return worker, ""


async def https_calls(
    emu: EmulatorProcess,
    client: AsyncScalekitClient,
    *,
    rtts: Sequence[float],
    answers: Sequence[str],
    calls: int,
    rounds: int,
    mcp2: bool = True,
    idle: float = 0.0,
) -> dict[str, Any]:
    """Warm calls per mode at each (answer mode, RTT): latency, CPU, connections, handshakes.

    With ``idle`` > 0, our client then waits that long and calls once more: the connections
    and handshakes of that call show whether an idle connection is kept.

    Returns ``{"runs": [{"answer", "rtt_ms", "modes": {name: {...}}}], "mcp2": {...},
    "idle": {...}}``.
    """
    user = "https-user"
    emu.authorize(user, hm.CONNECTION)
    emu.clear_faults()
    url = (await client.mcp.ensure_instance(hm.CONFIG, user)).url
    assert url
    runs: list[dict[str, Any]] = []
    idle_counts: dict[str, Any] = {}
    with NetworkProcess(emu.port) as net:
        verify = hm.trust(net.ca_pem)
        proxied = hm.through(url, net.port)
        modes: list[hm.Mode] = [
            hm.Ours(client, user, net.port, verify),
            AdaptersSession(proxied, verify),
            hm.Bare(proxied, verify),
        ]
        worker: PipeChild | None = None
        why_not = "not asked for"
        mcp2_info: dict[str, Any] = {}
        if mcp2:
            worker, why_not = _start_worker({
                "env_url": emu.env_url, "client_id": emu.client_id,
                "client_secret": emu.client_secret, "port": net.port, "ca_pem": net.ca_pem,
                "url": url, "user": user,
            })
        try:
            if worker is not None:
                mcp2_info = {"versions": worker.hello["versions"]}
                modes += [Remote(worker, name) for name in worker.hello["modes"]]
            for mode in modes[:3]:
                await mode.open()
            per_round = max(1, calls // rounds)
            for answer in answers:
                emu.set_answer_mode(answer)
                for rtt in rtts:
                    net.set_rtt(rtt)
                    for mode in modes:  # warm-up: the first call after a change is not timed
                        await mode.timed(2)
                    times: dict[str, list[float]] = {m.name: [] for m in modes}
                    cpu: Counter[str] = Counter()
                    wire: dict[str, Counter[str]] = {m.name: Counter() for m in modes}
                    for _ in range(rounds):
                        for mode in modes:
                            net.reset_counts()
                            emu.reset_counts()
                            result = await mode.timed(per_round)
                            times[mode.name] += result["times"]
                            cpu[mode.name] += result["cpu"]
                            wire[mode.name].update(net.counts())
                            wire[mode.name]["requests"] += sum(emu.counts().values())
                    runs.append({
                        "answer": answer,
                        "rtt_ms": ms(rtt),
                        "modes": {
                            name: _summary(times[name], cpu[name], wire[name])
                            for name in times
                        },
                    })
            if idle > 0:
                net.set_rtt(0.0)
                await modes[0].timed(1)
                net.reset_counts()
                await asyncio.sleep(idle)
                await modes[0].timed(1)
                idle_counts = {"idle_s": idle, **net.counts()}
        finally:
            for mode in reversed(modes[:3]):
                try:
                    await mode.close()
                except Exception:
                    pass
            if worker is not None:
                worker.close()
            emu.set_answer_mode("sse")
    return {
        "runs": runs,
        "idle": idle_counts,
        "calls": calls,
        "rounds": rounds,
        "mcp2": {"ran": worker is not None, "why_not": why_not if worker is None else "",
                 **mcp2_info},
    }


def _summary(times: list[float], cpu: float, wire: Counter[str]) -> dict[str, Any]:
    n = len(times)
    per100 = 100.0 / n if n else float("nan")
    return {
        "calls": n,
        "median_ms": ms(median(times)),
        "p95_ms": ms(pct(times, 95)),
        "client_cpu_ms_per_call": ms(cpu / n) if n else float("nan"),
        "connections_per_100": wire["connections"] * per100,
        "handshakes_per_100": wire["handshakes"] * per100,
        "resumed_per_100": wire["resumed"] * per100,
        "requests_per_call": wire["requests"] / n if n else float("nan"),
        "connections": wire["connections"],
        "handshakes": wire["handshakes"],
        "requests": wire["requests"],
    }
