"""What every scenario shares: names, small statistics, clients, process figures."""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_mcp_adapters.client import MultiServerMCPClient

from benchmarks._emulator import EmulatorProcess
from benchmarks._https_modes import ARGS, CONFIG, CONNECTION, TOOL, invoke, tool_call
from scalekit_langchain import AsyncScalekitClient, McpConfigConnectionToolMapping
from scalekit_langchain.toolkit import ScalekitMCPToolkit

__all__ = [
    "ARGS", "CONFIG", "CONNECTION", "REST_PREFIXES", "SERVER", "TOOL", "adapters_client",
    "invoke", "median", "ms", "new_client", "new_toolkit", "pct", "rss_bytes",
    "server_cpu_seconds", "session_of", "setup", "split_counts", "tool_call", "trim_heap",
]


def session_of(toolkit: ScalekitMCPToolkit, user: str) -> Any:
    """The user's open MCP session inside a toolkit."""
    session = toolkit.session_pool.peek(user)
    assert session is not None
    return session

SERVER = "scalekit"
REST_PREFIXES = ("oauth.", "configs.", "instances.")


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
