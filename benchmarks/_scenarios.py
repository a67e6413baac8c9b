"""The measurements. Each scenario returns plain data (dicts, lists, numbers) for the report.

Every scenario talks to the emulator (a child process on 127.0.0.1, see ``_emulator.py``)
and opens and closes its own clients, toolkits and sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import os
import statistics
import time
import tracemalloc
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from langchain_mcp_adapters.client import MultiServerMCPClient
from langchain_mcp_adapters.tools import load_mcp_tools

from benchmarks._emulator import EmulatorProcess
from scalekit_langchain import AsyncScalekitClient, McpConfigConnectionToolMapping, _runner
from scalekit_langchain.toolkit import ScalekitMCPToolkit


def _session_of(toolkit: ScalekitMCPToolkit, user: str) -> Any:
    """The user's open MCP session inside a toolkit (benchmarks reach past the public API)."""
    assert toolkit._runner is not None
    session = toolkit._runner.pool.peek(user)
    assert session is not None
    return session

CONFIG = "bench-gmail"
CONNECTION = "MY_GMAIL"
TOOL = "gmail_fetch_mails"
ARGS: dict[str, Any] = {"max_results": 1}
SERVER = "scalekit"
REST_PREFIXES = ("oauth.", "configs.", "instances.")


# --------------------------------------------------------------------------- helpers


def ms(seconds: float) -> float:
    """Seconds to milliseconds."""
    return seconds * 1000.0


def pct(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile ``q`` (0..100) of ``values``."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    """The median, or NaN for no values."""
    return statistics.median(values) if values else math.nan


def split_counts(counts: Mapping[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """(REST counts, MCP counts) of an emulator counts dict, zero entries dropped."""
    rest = {k: v for k, v in counts.items() if v and k.startswith(REST_PREFIXES)}
    mcp = {k: v for k, v in counts.items() if v and k.startswith("mcp.")}
    return rest, mcp


def tool_call(tool: BaseTool, i: int) -> dict[str, Any]:
    """A ``ToolCall`` as a chat model (and LangGraph's ToolNode) hands it to a tool."""
    return {"type": "tool_call", "id": f"call_{i}", "name": tool.name, "args": dict(ARGS)}


async def invoke(tool: BaseTool, i: int) -> None:
    """Invoke ``tool`` like an agent does; a ToolMessage with status error raises."""
    message = await tool.ainvoke(tool_call(tool, i))
    if not isinstance(message, ToolMessage) or message.status == "error":
        raise RuntimeError(f"tool call failed: {message!r}"[:300])


def new_client(emu: EmulatorProcess) -> AsyncScalekitClient:
    """A fresh client of the emulator (no access token yet)."""
    return AsyncScalekitClient(
        env_url=emu.env_url, client_id=emu.client_id, client_secret=emu.client_secret
    )


def new_toolkit(client: AsyncScalekitClient, user: str) -> ScalekitMCPToolkit:
    """The toolkit for one user, the way an app makes one per user (or per request)."""
    return ScalekitMCPToolkit(client=client, config_name=CONFIG, user_identifier=user)


def adapters_client(url: str) -> MultiServerMCPClient:
    """``MultiServerMCPClient`` wired by hand to a user's instance URL."""
    return MultiServerMCPClient({SERVER: {"transport": "streamable_http", "url": url}})


def server_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` (Linux ``/proc``)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return math.nan


def trim_heap() -> None:
    """Give freed heap memory back to the OS (glibc), so that RSS growth shows new memory."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def rss_bytes() -> int:
    """Resident set size of this process (Linux ``/proc``), 0 when unknown."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


async def setup(emu: EmulatorProcess, client: AsyncScalekitClient) -> None:
    """Create the benchmark's config (one Gmail tool) if it does not exist."""
    if await client.mcp.get_config_by_name(CONFIG) is None:
        await client.mcp.create_config(
            CONFIG,
            description="scalekit-langchain benchmark",
            connection_tool_mappings=[
                McpConfigConnectionToolMapping(connection_name=CONNECTION, tools=[TOOL])
            ],
        )


# --------------------------------------------------------------------------- warm calls


async def warm_calls(
    emu: EmulatorProcess, client: AsyncScalekitClient, *, calls: int, rounds: int, latency: float
) -> dict[str, Any]:
    """Per-call requests and latency of a warm tool, for ours and the adapters' two modes.

    The three modes run interleaved (``rounds`` rounds of ``calls // rounds`` calls each), so
    drift affects all alike. Requests are counted per mode from the emulator's counts.
    """
    user = "warm-user"
    emu.authorize(user, CONNECTION)
    url = (await client.mcp.ensure_instance(CONFIG, user)).url
    assert url
    toolkit = new_toolkit(client, user)
    try:
        ours = (await toolkit.aget_tools())[0]
        default_tool = (await adapters_client(url).get_tools())[0]
        async with adapters_client(url).session(SERVER) as session:
            session_tool = (await load_mcp_tools(session))[0]
            modes: dict[str, BaseTool] = {
                "ours": ours,
                "adapters_default": default_tool,
                "adapters_session": session_tool,
            }
            for tool in modes.values():  # warm-up: first-call costs are not steady state
                await invoke(tool, 0)
            emu.set_latency(latency)
            per_round = max(1, calls // rounds)
            times: dict[str, list[float]] = {m: [] for m in modes}
            counts: dict[str, Counter[str]] = {m: Counter() for m in modes}
            cpu: dict[str, float] = dict.fromkeys(modes, 0.0)
            try:
                for _ in range(rounds):
                    for mode, tool in modes.items():
                        emu.reset_counts()
                        c0 = time.process_time()
                        for i in range(per_round):
                            t0 = time.perf_counter()
                            await invoke(tool, i)
                            times[mode].append(time.perf_counter() - t0)
                        cpu[mode] += time.process_time() - c0
                        counts[mode].update(emu.counts())
            finally:
                emu.set_latency(0)
    finally:
        await toolkit.aclose()
    out: dict[str, Any] = {}
    for mode in modes:
        n = len(times[mode])
        total = sum(counts[mode].values())
        out[mode] = {
            "calls": n,
            "requests_per_call": total / n,
            "requests_by_kind": {k: v / n for k, v in sorted(counts[mode].items()) if v},
            "counts": dict(counts[mode]),
            "median_ms": ms(median(times[mode])),
            "p95_ms": ms(pct(times[mode], 95)),
            "client_cpu_ms_per_call": ms(cpu[mode] / n),
        }
    return out


# --------------------------------------------------------------------------- startup


async def _startups(
    emu: EmulatorProcess,
    prepare: Callable[[str], Awaitable[Any]],
    start: Callable[[str, Any], Awaitable[Callable[[], Awaitable[None]]]],
    *,
    tag: str,
    reps: int,
    latency: float,
    probe: float,
    breakdown: bool = True,
) -> dict[str, Any]:
    """Time ``start`` (tools ready) for fresh users under several latency settings.

    ``prepare(user)`` runs untimed without latency; ``start(user, prepared)`` is timed and
    returns a cleanup coroutine function. Sequential round trips are estimated as
    ``(median time with probe latency - median time without) / probe``, with the probe latency
    on every request, only on REST requests, and only on MCP requests.
    """
    settings: dict[str, list[tuple[float, str | None]]] = {
        "zero": [],
        "all": [(probe, None)],
        "rest": [(probe, p) for p in REST_PREFIXES],
        "mcp": [(probe, "mcp.")],
        "configured": [(latency, None)] if latency > 0 else [],
    }
    if not breakdown:
        del settings["rest"], settings["mcp"]
    times: dict[str, list[float]] = {k: [] for k in settings}
    cpu: list[float] = []
    counts: Counter[str] = Counter()
    n = 0
    for rep in range(reps):
        for name, lat in settings.items():
            n += 1
            user = f"{tag}-{name}-{rep}"
            emu.clear_faults()
            prepared = await prepare(user)
            for seconds, kind in lat:
                emu.set_latency(seconds, kind=kind)
            emu.reset_counts()
            c0, t0 = time.process_time(), time.perf_counter()
            cleanup = await start(user, prepared)
            times[name].append(time.perf_counter() - t0)
            if name == "zero":
                cpu.append(time.process_time() - c0)
            if name == "configured":
                counts.update(emu.counts())
            emu.clear_faults()
            await cleanup()
    base = median(times["zero"])

    def rounds(name: str) -> float:
        if name not in times:
            return math.nan
        return (median(times[name]) - base) / probe

    per = {k: v / reps for k, v in counts.items()}
    rest, mcp = split_counts(per)
    return {
        "reps": reps,
        "rest": rest,
        "mcp": mcp,
        "rest_calls": sum(rest.values()),
        "mcp_requests": sum(mcp.values()),
        "round_trips": rounds("all"),
        "rest_round_trips": rounds("rest"),
        "mcp_round_trips": rounds("mcp"),
        "median_ms": ms(median(times["configured"])),
        "zero_latency_ms": ms(base),
        "client_cpu_ms": ms(median(cpu)),
        "probe_ms": ms(probe),
    }


async def startup(
    emu: EmulatorProcess,
    client: AsyncScalekitClient,
    *,
    reps: int,
    latency: float,
    probe: float,
    breakdown: bool = True,
) -> dict[str, Any]:
    """New user (cold), returning user (within the cache TTL), and the adapters by hand.

    ``breakdown=False`` skips the REST-only and MCP-only latency settings.
    """

    async def authorize(user: str) -> None:
        emu.authorize(user, CONNECTION)

    async def cold(user: str, _: Any) -> Callable[[], Awaitable[None]]:
        toolkit = new_toolkit(client, user)
        await toolkit.aget_tools()
        return toolkit.aclose

    async def returning_prepare(user: str) -> None:
        emu.authorize(user, CONNECTION)
        first = new_toolkit(client, user)
        try:
            await invoke((await first.aget_tools())[0], 0)
        finally:
            await first.aclose()

    async def returning(user: str, _: Any) -> Callable[[], Awaitable[None]]:
        toolkit = new_toolkit(client, user)  # same client, same config and user
        await toolkit.aget_tools()
        return toolkit.aclose

    async def by_hand(user: str, _: Any) -> Callable[[], Awaitable[None]]:
        url = (await client.mcp.ensure_instance(CONFIG, user)).url
        assert url
        await adapters_client(url).get_tools()

        async def nothing() -> None:
            return None

        return nothing

    common = {"reps": reps, "latency": latency, "probe": probe, "breakdown": breakdown}
    return {
        "cold": await _startups(emu, authorize, cold, tag="cold", **common),
        "returning": await _startups(emu, returning_prepare, returning, tag="back", **common),
        "adapters": await _startups(emu, authorize, by_hand, tag="hand", **common),
    }


# --------------------------------------------------------------------------- many users


async def concurrent_users(
    emu: EmulatorProcess,
    pid: int,
    *,
    users: int,
    calls: int,
    latency: float,
    tag: str,
    multi_user: bool = True,
) -> dict[str, Any]:
    """``users`` new users at once on one fresh client, ``calls`` sequential calls each.

    ``multi_user=True``: one toolkit with ``user_identifier=None``; its tools route each call
    to ``config={"configurable": {"user_id": ...}}`` and a user's session opens on the user's
    first call. ``multi_user=False``: one toolkit per user, each connecting (``aget_tools``)
    before its calls. Everything from a fresh client: OAuth token requests count from zero.
    The first call of a user (multi-user) or its connect (per-user toolkits) is timed apart
    from the warm calls.
    """
    names = [f"{tag}-{i}" for i in range(users)]
    for name in names:
        emu.authorize(name, CONNECTION)
    client = new_client(emu)
    if multi_user:
        shared = ScalekitMCPToolkit(client=client, config_name=CONFIG)
        toolkits = [shared]
    else:
        toolkits = [new_toolkit(client, name) for name in names]
    errors: list[str] = []
    first_times: list[float] = []
    call_times: list[float] = []
    done_calls = 0

    async def user_run(i: int) -> None:
        nonlocal done_calls
        name = names[i]
        tool: BaseTool | None = None
        t0 = time.perf_counter()
        try:
            if multi_user:
                tool = (await shared.aget_tools(user_identifier=name))[0]
            else:
                tool = (await toolkits[i].aget_tools())[0]
        except Exception as exc:
            errors.append(f"connect: {type(exc).__name__}: {exc}"[:200])
            return
        config = {"configurable": {"user_id": name}} if multi_user else None
        for j in range(calls):
            try:
                message = await tool.ainvoke(tool_call(tool, j), config=config)  # type: ignore[arg-type]
                if not isinstance(message, ToolMessage) or message.status == "error":
                    raise RuntimeError(f"tool call failed: {message!r}"[:200])
            except Exception as exc:
                errors.append(f"call: {type(exc).__name__}: {exc}"[:200])
                t0 = time.perf_counter()
                continue
            now = time.perf_counter()
            # Multi-user: the first call opens the user's session; per-user: the connect.
            (first_times if j == 0 else call_times).append(now - t0)
            done_calls += 1
            t0 = now

    try:
        emu.reset_counts()
        emu.set_latency(latency)
        gc.collect()
        s0, c0 = server_cpu_seconds(pid), time.process_time()
        t0 = time.perf_counter()
        await asyncio.gather(*(user_run(i) for i in range(users)))
        t1 = time.perf_counter()
        s1, c1 = server_cpu_seconds(pid), time.process_time()
        counts = emu.counts()
    finally:
        emu.set_latency(0)
        await asyncio.gather(*(t.aclose() for t in toolkits), return_exceptions=True)
        await client.aclose()
    rest, mcp = split_counts(counts)
    wall = t1 - t0
    return {
        "users": users,
        "calls_per_user": calls,
        "multi_user": multi_user,
        "total_s": wall,
        "calls": done_calls,
        "calls_per_second": done_calls / wall if wall > 0 else math.nan,
        "first_p50_ms": ms(median(first_times)),
        "first_p95_ms": ms(pct(first_times, 95)),
        "call_p50_ms": ms(median(call_times)),
        "call_p95_ms": ms(pct(call_times, 95)),
        "oauth_tokens": counts.get("oauth.token", 0),
        "rest": rest,
        "mcp": mcp,
        "tool_calls": counts.get("mcp.tools/call", 0),
        "errors": len(errors),
        "error_samples": errors[:3],
        "client_cpu_ms_per_call": ms((c1 - c0) / done_calls) if done_calls else math.nan,
        "server_cpu_ms_per_call": ms((s1 - s0) / done_calls) if done_calls else math.nan,
        "client_cpu_s": c1 - c0,
        "server_cpu_s": s1 - s0,
    }


# --------------------------------------------------------------------------- overhead


async def overhead(
    emu: EmulatorProcess, client: AsyncScalekitClient, *, calls: int, rounds: int
) -> dict[str, Any]:
    """Our tool against a bare ``ClientSession.call_tool`` on the same session, latency 0.

    Layers, all on the toolkit's own MCP session (the first four) or on one adapters session:

    * ``bare``: ``ClientSession.call_tool`` on the session loop (where the session lives);
    * ``session``: our ``McpSession._call_tool`` on the session loop (re-send bookkeeping);
    * ``tool_on_session_loop``: our tool's ``ainvoke`` on the session loop (no thread hop);
    * ``tool``: our tool's ``ainvoke`` from the caller's loop: what users get;
    * ``adapters_bare`` / ``adapters_tool``: ``ClientSession.call_tool`` and the adapters'
      session-mode tool on one adapters session, from the caller's loop (the cost of a
      LangChain tool around an MCP call that anyone pays).
    """
    user = "overhead-user"
    emu.authorize(user, CONNECTION)
    emu.clear_faults()
    url = (await client.mcp.ensure_instance(CONFIG, user)).url
    assert url
    toolkit = new_toolkit(client, user)
    try:
        tool = (await toolkit.aget_tools())[0]
        await invoke(tool, 0)
        mcp_session = _session_of(toolkit, user)
        live = mcp_session._live
        assert live is not None and live.session is not None
        cs = live.session
        async with adapters_client(url).session(SERVER) as a_session:
            a_tool = (await load_mcp_tools(a_session))[0]

            async def timed(fn: Callable[[int], Awaitable[Any]], n: int) -> list[float]:
                out = []
                for i in range(n):
                    t0 = time.perf_counter()
                    await fn(i)
                    out.append(time.perf_counter() - t0)
                return out

            async def on_loop(fn: Callable[[int], Awaitable[Any]], n: int) -> list[float]:
                return await _runner.run(timed(fn, n))

            async def bare(i: int) -> Any:
                result = await cs.call_tool(TOOL, dict(ARGS))
                if result.isError:
                    raise RuntimeError("bare call failed")

            async def session(i: int) -> Any:
                result = await mcp_session._call_tool(TOOL, dict(ARGS))
                if result.is_error:
                    raise RuntimeError("session call failed")

            async def ours(i: int) -> None:
                await invoke(tool, i)

            async def a_bare(i: int) -> Any:
                result = await a_session.call_tool(TOOL, dict(ARGS))
                if result.isError:
                    raise RuntimeError("adapters bare call failed")

            async def a_tool_call(i: int) -> None:
                await invoke(a_tool, i)

            layers: dict[str, Callable[[int], Awaitable[list[float]]]] = {
                "bare": lambda n: on_loop(bare, n),
                "session": lambda n: on_loop(session, n),
                "tool_on_session_loop": lambda n: on_loop(ours, n),
                "tool": lambda n: timed(ours, n),
                "adapters_bare": lambda n: timed(a_bare, n),
                "adapters_tool": lambda n: timed(a_tool_call, n),
            }
            for run in layers.values():  # warm-up
                await run(3)
            per_round = max(1, calls // rounds)
            times: dict[str, list[float]] = {k: [] for k in layers}
            emu.reset_counts()
            for _ in range(rounds):
                for name, run in layers.items():
                    times[name].extend(await run(per_round))
            counts = emu.counts()
    finally:
        await toolkit.aclose()
    med = {k: median(v) for k, v in times.items()}
    out: dict[str, Any] = {
        name: {"median_ms": ms(med[name]), "p95_ms": ms(pct(v, 95)), "calls": len(v)}
        for name, v in times.items()
    }
    out["overhead"] = med["tool"] / med["bare"] - 1.0
    out["adapters_overhead"] = med["adapters_tool"] / med["adapters_bare"] - 1.0
    out["counts"] = counts
    return out


# --------------------------------------------------------------------------- wrapper CPU


async def wrapper_cpu(
    emu: EmulatorProcess, client: AsyncScalekitClient, *, calls: int, reps: int = 3
) -> dict[str, float]:
    """CPU cost of each layer per call with the network taken out (microseconds).

    The live ``ClientSession.call_tool`` of the toolkit's session (and of one adapters session)
    is replaced by a fake that yields once and returns a recorded result, so what is left is
    the cost of the code around it. Each layer runs ``calls`` times, ``reps`` times; the
    minimum is kept (the usual estimator for CPU micro-benchmarks).
    """
    user = "cpu-user"
    emu.authorize(user, CONNECTION)
    url = (await client.mcp.ensure_instance(CONFIG, user)).url
    assert url
    toolkit = new_toolkit(client, user)
    try:
        tool = (await toolkit.aget_tools())[0]
        mcp_session = _session_of(toolkit, user)
        live = mcp_session._live
        assert live is not None and live.session is not None
        cs = live.session
        canned = await _runner.run(cs.call_tool(TOOL, dict(ARGS)))

        async def fake_call_tool(*args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(0)
            return canned

        async with adapters_client(url).session(SERVER) as a_session:
            a_tool = (await load_mcp_tools(a_session))[0]
            cs.call_tool = fake_call_tool  # type: ignore[method-assign]
            a_session.call_tool = fake_call_tool  # type: ignore[method-assign]
            try:

                async def loop(fn: Callable[[int], Awaitable[Any]], n: int) -> float:
                    for i in range(min(50, n)):
                        await fn(i)
                    t0 = time.perf_counter()
                    for i in range(n):
                        await fn(i)
                    return (time.perf_counter() - t0) / n * 1e6

                async def noop() -> None:
                    await asyncio.sleep(0)

                on_session_loop = {
                    "fake": lambda i: cs.call_tool(TOOL, dict(ARGS)),
                    "session": lambda i: mcp_session._call_tool(TOOL, dict(ARGS)),
                    "toolkit": lambda i: toolkit.arun_tool(TOOL, dict(ARGS), None, None),
                    "tool_on_session_loop": lambda i: tool.ainvoke(tool_call(tool, i)),
                }
                on_caller_loop = {
                    "tool": lambda i: tool.ainvoke(tool_call(tool, i)),
                    "hop": lambda i: _runner.run(noop()),
                    "adapters_tool": lambda i: a_tool.ainvoke(tool_call(a_tool, i)),
                }
                best: dict[str, float] = {}
                for _ in range(reps):
                    for name, fn in on_session_loop.items():
                        t = await _runner.run(loop(fn, calls))
                        best[name] = min(best.get(name, math.inf), t)
                    for name, fn in on_caller_loop.items():
                        t = await loop(fn, calls)
                        best[name] = min(best.get(name, math.inf), t)
            finally:
                del cs.call_tool
                del a_session.call_tool
    finally:
        await toolkit.aclose()
    return best


# --------------------------------------------------------------------------- memory


_BUCKETS = (
    ("scalekit_langchain", "scalekit_langchain (ours)"),
    ("langchain_mcp_adapters", "langchain-mcp-adapters"),
    ("langchain_core", "langchain-core"),
    ("/mcp/", "mcp SDK"),
    ("httpx", "httpx / httpcore"),
    ("httpcore", "httpx / httpcore"),
    ("anyio", "anyio"),
    ("pydantic", "pydantic"),
    ("asyncio", "asyncio (stdlib)"),
    ("ssl", "ssl (stdlib)"),
)


def _bucket(filename: str) -> str:
    for needle, name in _BUCKETS:
        if needle in filename:
            return name
    return "other"


class _HeldSession:
    """An adapters explicit session held open by its own task (contexts are task-bound)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ready: asyncio.Future[BaseTool] = asyncio.get_running_loop().create_future()
        self.done = asyncio.Event()
        self.task = asyncio.ensure_future(self._hold())

    async def _hold(self) -> None:
        try:
            async with adapters_client(self.url).session(SERVER) as session:
                tool = (await load_mcp_tools(session))[0]
                await invoke(tool, 0)
                self.ready.set_result(tool)
                await self.done.wait()
        except BaseException as exc:
            if not self.ready.done():
                self.ready.set_exception(exc)
            raise

    async def close(self) -> None:
        self.done.set()
        with contextlib.suppress(Exception):
            await self.task


async def memory(
    emu: EmulatorProcess, *, sizes: Sequence[int], tag: str, adapters: bool = False
) -> list[dict[str, Any]]:
    """Memory per open user session: ``tracemalloc`` delta / open sessions, at each size.

    Sessions are opened in stages up to each size in ``sizes`` (concurrently within a stage)
    and kept open. One user is opened (and called) before the measurement starts, so one-time
    costs (the client's HTTP pool and token, import-time caches, the session loop) are
    excluded. Each measured user gets a connected toolkit and makes one call (its session
    fully open). With ``adapters=True`` the same is done with the adapters' explicit sessions
    (``client.session(name)`` + ``load_mcp_tools``), for reference.
    """
    total = max(sizes)
    names = [f"{tag}-{i}" for i in range(total + 1)]
    for name in names:
        emu.authorize(name, CONNECTION)
    emu.clear_faults()
    client = new_client(emu)
    toolkits: list[ScalekitMCPToolkit] = []
    held: list[_HeldSession] = []
    rows: list[dict[str, Any]] = []
    try:
        urls: list[str] = []
        if adapters:
            for name in names:
                url = (await client.mcp.ensure_instance(CONFIG, name)).url
                assert url
                urls.append(url)

        async def open_one(i: int) -> None:
            if adapters:
                h = _HeldSession(urls[i])
                held.append(h)
                await h.ready
            else:
                toolkit = new_toolkit(client, names[i])
                toolkits.append(toolkit)
                await invoke((await toolkit.aget_tools())[0], 0)

        await open_one(0)
        gc.collect()
        tracemalloc.start(1)
        try:
            before = tracemalloc.get_traced_memory()[0]
            snap0 = tracemalloc.take_snapshot()
            opened = 0
            for size in sorted(sizes):
                await asyncio.gather(*(open_one(i) for i in range(opened + 1, size + 1)))
                opened = size
                await asyncio.sleep(0.05)
                gc.collect()
                rows.append({
                    "users": size,
                    "bytes_per_session": (tracemalloc.get_traced_memory()[0] - before) / size,
                })
            snap1 = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        by_bucket: Counter[str] = Counter()
        for stat in snap1.compare_to(snap0, "filename"):
            by_bucket[_bucket(stat.traceback[0].filename)] += stat.size_diff
        rows[-1]["by_bucket"] = {k: v / opened for k, v in by_bucket.most_common()}
    finally:
        await asyncio.gather(*(h.close() for h in held), return_exceptions=True)
        await asyncio.gather(*(t.aclose() for t in toolkits), return_exceptions=True)
        await client.aclose()
    return rows


async def rss_per_session(emu: EmulatorProcess, *, users: int, tag: str) -> dict[str, Any]:
    """Resident memory per open user session (no tracemalloc), to show what tracemalloc cannot
    see (memory allocated by C libraries, e.g. OpenSSL contexts). Run first: freed memory
    that the allocator reuses would hide growth. A rough figure."""
    names = [f"{tag}-{i}" for i in range(users + 1)]
    for name in names:
        emu.authorize(name, CONNECTION)
    client = new_client(emu)
    toolkits = [new_toolkit(client, n) for n in names]
    try:
        await invoke((await toolkits[0].aget_tools())[0], 0)
        gc.collect()
        trim_heap()
        before = rss_bytes()

        async def open_one(t: ScalekitMCPToolkit) -> None:
            await invoke((await t.aget_tools())[0], 0)

        await asyncio.gather(*(open_one(t) for t in toolkits[1:]))
        gc.collect()
        after = rss_bytes()
    finally:
        await asyncio.gather(*(t.aclose() for t in toolkits), return_exceptions=True)
        await client.aclose()
    return {"users": users, "bytes_per_session": (after - before) / users}


def transport_cost(n: int) -> dict[str, float]:
    """CPU and resident memory of one ``httpx.AsyncHTTPTransport()`` (a new SSL context with
    the CA bundle loaded), which ``session.py`` creates for every MCP session it opens."""
    import httpx

    httpx.AsyncHTTPTransport()  # imports and caches warmed
    gc.collect()
    trim_heap()
    r0, c0 = rss_bytes(), time.process_time()
    keep = [httpx.AsyncHTTPTransport() for _ in range(n)]
    c1, r1 = time.process_time(), rss_bytes()
    del keep
    return {"cpu_ms": ms((c1 - c0) / n), "rss_bytes": (r1 - r0) / n}
