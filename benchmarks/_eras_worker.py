"""The mcp 2 side of the MCP-era benchmark (``_eras.py``), run by the mcp 2 venv as a child.

Straight to the emulator (plain HTTP on 127.0.0.1, no network in between), with each client's
own protocol negotiation: our toolkit (``mcp_era="auto"``), ``langchain.mcp``'s ``MCPAdapter``
on FastMCP 4 (``mode="auto"``, its default) and the SDK's own ``mcp.Client`` (``mode="auto"``)
whose ``ClientSession`` is called bare. The parent switches the emulator's era and answer mode
and counts requests; this process opens a client for a new user (a cold start: until the
first tool answer), then times warm calls on it. Usage: ``python _eras_worker.py '<json>'``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _https_modes as hm  # this file's directory, not the benchmarks package
from _child import answer_calls_async, package_versions


class EraMode(hm.Mode):
    """A client under test that can say which protocol version it negotiated."""

    def version(self) -> str:
        return ""


class Ours(EraMode):
    """A new ``ScalekitMCPToolkit`` for the user (instance mode) on a shared, warm client."""

    name = "ours"

    def __init__(self, client: Any, user: str, url: str) -> None:
        super().__init__()
        from scalekit_langchain.toolkit import ScalekitMCPToolkit

        self.toolkit = ScalekitMCPToolkit(
            client=client, config_name=hm.CONFIG, user_identifier=user
        )
        self.tool: Any = None

    async def open(self) -> None:
        self.stack.push_async_callback(self.toolkit.aclose)
        self.tool = (await self.toolkit.aget_tools())[0]

    async def call(self, i: int) -> None:
        await hm.invoke(self.tool, i)

    def version(self) -> str:
        session = self.toolkit.session_pool.peek(self.toolkit.user_identifier or "")
        return str(getattr(session, "protocol_version", "") or "")


class LangchainMcp(EraMode):
    """``MCPAdapter(fastmcp.Client(url))`` held open; its tool called like an agent does."""

    name = "langchain_mcp"

    def __init__(self, client: Any, user: str, url: str) -> None:
        super().__init__()
        self.url = url
        self.tool: Any = None
        self.fastmcp: Any = None

    async def open(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # langchain.mcp is beta and says so on import
            from fastmcp import Client
            from fastmcp.client.transports import StreamableHttpTransport
            from langchain.mcp import MCPAdapter

        adapter = MCPAdapter(Client(StreamableHttpTransport(self.url)))
        await self.stack.enter_async_context(adapter)
        self.fastmcp = adapter.client  # the adapter's own (armed) clone of the client
        self.tool = next(t for t in await adapter.list_tools() if t.name == hm.TOOL)

    async def call(self, i: int) -> None:
        await hm.invoke(self.tool, i)

    def version(self) -> str:
        try:
            return str(self.fastmcp.session.protocol_version or "")
        except (AttributeError, RuntimeError):  # not a plain fastmcp Client, or not connected
            return ""


class BareAuto(EraMode):
    """The SDK's ``mcp.Client(url)`` (``mode="auto"``: ``server/discover``, else
    ``initialize``); its ``ClientSession`` lists the tools once and calls one bare."""

    name = "bare_sdk"

    def __init__(self, client: Any, user: str, url: str) -> None:
        super().__init__()
        self.url = url
        self.session: Any = None

    async def open(self) -> None:
        import mcp

        sdk = await self.stack.enter_async_context(mcp.Client(self.url, mode="auto"))
        self.session = sdk.session
        await self.session.list_tools()  # what a caller needs to know the tool's schema

    async def call(self, i: int) -> None:
        result = await self.session.call_tool(hm.TOOL, dict(hm.ARGS))
        if result.is_error:
            raise RuntimeError("bare call failed")

    def version(self) -> str:
        return str(self.session.protocol_version or "")


#: ``ours_known``: a new toolkit for a user this client already served (its instance URL and
#: connection state cached; the parent runs ``prepare`` first, untimed).
MODES: dict[str, Callable[[Any, str, str], EraMode]] = {
    "ours": Ours, "ours_known": Ours, "langchain_mcp": LangchainMcp, "bare_sdk": BareAuto,
}


async def _main(settings: dict[str, Any]) -> None:
    from scalekit_langchain import AsyncScalekitClient

    client = AsyncScalekitClient(
        env_url=settings["env_url"], client_id=settings["client_id"],
        client_secret=settings["client_secret"],
    )
    await client.mcp.get_config_by_name(hm.CONFIG)  # a warm client: its token is cached
    open_modes: dict[str, EraMode] = {}
    versions = package_versions(("mcp", "fastmcp", "langchain", "httpx2"))
    out = sys.stdout
    out.write(json.dumps({"modes": list(MODES), "versions": versions}) + "\n")
    out.flush()

    async def close(name: str) -> None:
        mode = open_modes.pop(name, None)
        if mode is not None:
            await mode.close()

    async def cold(name: str, user: str, url: str) -> dict[str, Any]:
        """Open ``name`` for ``user`` and make the first tool call: the cold start."""
        await close(name)
        mode = MODES[name](client, user, url)
        c0, t0 = time.process_time(), time.perf_counter()
        try:
            await mode.open()
            await mode.call(0)
        except BaseException:
            await mode.close()
            raise
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        open_modes[name] = mode
        return {"wall_s": wall, "cpu_s": cpu, "version": mode.version()}

    async def prepare(user: str, url: str) -> None:
        """Serve ``user`` once with a toolkit of the shared client, then close it."""
        mode = Ours(client, user, url)
        try:
            await mode.open()
        finally:
            await mode.close()

    async def calls(name: str, n: int) -> Any:
        return await open_modes[name].timed(int(n))

    try:
        await answer_calls_async(
            {"cold": cold, "prepare": prepare, "calls": calls, "close": close}
        )
    finally:
        for name in list(open_modes):
            try:
                await close(name)
            except Exception:
                pass
        await client.aclose()


if __name__ == "__main__":  # pragma: no cover
    asyncio.run(_main(json.loads(sys.argv[1])))
