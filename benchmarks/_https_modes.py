"""Clients of the HTTPS benchmark that exist on both MCP stacks: our toolkit and a bare session.

Stack-neutral on purpose: the mcp 2 worker (``_mcp2_worker.py``, run by the mcp 2 venv)
imports this file as a top-level module, the benchmark (mcp 1 venv) as
``benchmarks._https_modes``. Each mode is opened once, called many times, closed in the task
that opened it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ssl
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool

from scalekit_langchain import AsyncScalekitClient, _mcp_stack
from scalekit_langchain._session_opener import SessionOpener
from scalekit_langchain.toolkit import ScalekitMCPToolkit

CONFIG = "bench-gmail"
CONNECTION = "MY_GMAIL"
TOOL = "gmail_fetch_mails"
ARGS: dict[str, Any] = {"max_results": 1}


def through(url: str, port: int) -> str:
    """``url`` (the emulator's plain-HTTP URL) as reached through the network on ``port``."""
    parts = urlsplit(url)
    return urlunsplit(("https", f"127.0.0.1:{port}", parts.path, parts.query, ""))


def trust(ca_pem: str) -> ssl.SSLContext:
    """A client TLS context that trusts only the benchmark's certificate."""
    return ssl.create_default_context(cadata=ca_pem)


def tool_call(tool: BaseTool, i: int) -> dict[str, Any]:
    """A ``ToolCall`` as a chat model (and LangGraph's ToolNode) hands it to a tool."""
    return {"type": "tool_call", "id": f"call_{i}", "name": tool.name, "args": dict(ARGS)}


async def invoke(tool: BaseTool, i: int) -> None:
    """Invoke ``tool`` like an agent does; a ToolMessage with status error raises."""
    message = await tool.ainvoke(tool_call(tool, i))
    if not isinstance(message, ToolMessage) or message.status == "error":
        raise RuntimeError(f"tool call failed: {message!r}"[:300])


class Mode:
    """One client under test: :meth:`open` once, :meth:`call` many times, :meth:`close`."""

    name = "mode"

    def __init__(self) -> None:
        self.stack = contextlib.AsyncExitStack()

    async def open(self) -> None:
        raise NotImplementedError

    async def call(self, i: int) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        await self.stack.aclose()

    async def timed(self, n: int) -> dict[str, Any]:
        """``n`` calls: each call's seconds, and the CPU seconds of this process for all."""
        times = []
        c0 = time.process_time()
        for i in range(n):
            t0 = time.perf_counter()
            await self.call(i)
            times.append(time.perf_counter() - t0)
        return {"times": times, "cpu": time.process_time() - c0}


class Ours(Mode):
    """Our toolkit (instance mode), its MCP session pointed at the network.

    The instance URL Scalekit hands out is rewritten to the network's HTTPS port and the
    benchmark's certificate is trusted, at the one place connect parameters are made; REST
    calls go to the emulator directly (warm calls make none).
    """

    name = "ours"

    def __init__(
        self, client: AsyncScalekitClient, user: str, port: int, verify: ssl.SSLContext
    ) -> None:
        super().__init__()
        self.toolkit = ScalekitMCPToolkit(client=client, config_name=CONFIG, user_identifier=user)
        self.port = port
        self.verify = verify
        self.tool: BaseTool | None = None

    async def open(self) -> None:
        opener = self.toolkit.session_pool.factory
        assert isinstance(opener, SessionOpener)
        made: Callable[[str], Any] = opener.params_for

        async def connect_params(user: str) -> Any:
            params = await made(user)
            return dataclasses.replace(
                params, url=through(params.url, self.port), verify=self.verify
            )

        opener.params_for = connect_params
        self.stack.push_async_callback(self.toolkit.aclose)
        self.tool = (await self.toolkit.aget_tools())[0]

    async def call(self, i: int) -> None:
        assert self.tool is not None
        await invoke(self.tool, i)


class Bare(Mode):
    """A bare ``mcp`` ``ClientSession`` over the SDK's streamable HTTP client: the floor."""

    name = "bare_sdk"

    def __init__(self, url: str, verify: ssl.SSLContext | None) -> None:
        super().__init__()
        self.url = url
        self.verify = verify
        self.session: Any = None

    async def open(self) -> None:
        client = _mcp_stack.http.AsyncClient(
            verify=self.verify if self.verify is not None else True,
            timeout=_mcp_stack.http.Timeout(30.0, read=300.0),
        )
        await self.stack.enter_async_context(client)
        streams = _mcp_stack.open_streams(self.url, client)
        read, write = await self.stack.enter_async_context(streams)
        self.session = await self.stack.enter_async_context(_mcp_stack.new_session(read, write))
        await self.session.initialize()

    async def call(self, i: int) -> None:
        result = await self.session.call_tool(TOOL, dict(ARGS))
        if getattr(result, "isError", None) or getattr(result, "is_error", None):
            raise RuntimeError("bare call failed")
