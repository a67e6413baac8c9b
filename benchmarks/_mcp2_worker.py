"""The mcp 2 side of the HTTPS benchmark, run by the mcp 2 venv (``.venv``) as a child process.

langchain-mcp-adapters (mcp 1.x) and ``langchain.mcp`` (mcp 2.x) cannot share an environment,
so the benchmark (mcp 1 venv) drives this script over a pipe (see ``_child.py``): it opens our
toolkit, ``langchain.mcp``'s ``MCPAdapter`` (inside ``async with adapter:``) and a bare mcp 2
session, all through the same network as the parent's clients, and times the calls it is
asked for. Usage: ``python _mcp2_worker.py '<json settings>'``.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import sys
import warnings
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _https_modes as hm  # this file's directory, not the benchmarks package
from _child import answer_calls_async, package_versions


class LangchainMcp(hm.Mode):
    """``langchain.mcp``'s ``MCPAdapter`` held open (``async with adapter:``), its tool called."""

    name = "langchain_mcp"

    def __init__(self, url: str, verify: ssl.SSLContext) -> None:
        super().__init__()
        self.url = url
        self.verify = verify
        self.tool: Any = None

    async def open(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # langchain.mcp is beta and says so on import
            from fastmcp import Client
            from fastmcp.client.transports import StreamableHttpTransport
            from langchain.mcp import MCPAdapter

        adapter = MCPAdapter(Client(StreamableHttpTransport(self.url, verify=self.verify)))
        await self.stack.enter_async_context(adapter)
        tools = await adapter.list_tools()
        self.tool = next(t for t in tools if t.name == hm.TOOL)

    async def call(self, i: int) -> None:
        await hm.invoke(self.tool, i)


async def _main(settings: dict[str, Any]) -> None:
    from scalekit_langchain import AsyncScalekitClient

    verify = hm.trust(settings["ca_pem"])
    url = hm.through(settings["url"], settings["port"])
    client = AsyncScalekitClient(
        env_url=settings["env_url"], client_id=settings["client_id"],
        client_secret=settings["client_secret"],
    )
    modes: dict[str, hm.Mode] = {
        "ours": hm.Ours(client, settings["user"], settings["port"], verify),
        "langchain_mcp": LangchainMcp(url, verify),
        "bare_sdk": hm.Bare(url, verify),
    }
    try:
        for mode in modes.values():
            await mode.open()
            await mode.call(0)
        versions = package_versions(("mcp", "fastmcp", "langchain", "httpx2"))
        out = sys.stdout
        out.write(json.dumps({"modes": list(modes), "versions": versions}) + "\n")
        out.flush()

        async def calls(name: str, n: int) -> Any:
            return await modes[name].timed(int(n))

        await answer_calls_async({"calls": calls})
    finally:
        for mode in reversed(list(modes.values())):
            try:
                await mode.close()
            except Exception:
                pass
        await client.aclose()


if __name__ == "__main__":  # pragma: no cover
    asyncio.run(_main(json.loads(sys.argv[1])))
