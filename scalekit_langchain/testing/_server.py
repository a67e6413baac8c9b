"""One run of the emulator's HTTP app: the ASGI stack between a start and a stop.

From the outside in: :class:`~scalekit_langchain.testing._guard.GuardMiddleware` (Host, Origin,
control token), :class:`~scalekit_langchain.testing._middleware.EmulatorMiddleware` (request
ids, counts, latency, faults), then ``/mcp/...`` to the MCP host and everything else to the
starlette app (REST API, auth pages, control routes).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import threading
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from scalekit_langchain.testing._control import control_routes
from scalekit_langchain.testing._errors import ApiError
from scalekit_langchain.testing._guard import GuardMiddleware, allowed_hosts
from scalekit_langchain.testing._mcp_host import McpHost
from scalekit_langchain.testing._middleware import EmulatorMiddleware
from scalekit_langchain.testing._rest import RestApi, error_response

if TYPE_CHECKING:
    from scalekit_langchain.testing.emulator import ScalekitEmulator

__all__ = ["ServerRun", "is_loopback"]


class ServerRun:
    """One run of the HTTP server (between a start and a stop)."""

    def __init__(self, emulator: ScalekitEmulator) -> None:
        self.host = McpHost(emulator._state, emulator._key, emulator._mcp_settings)
        self.stopping = asyncio.Event()
        rest = RestApi(emulator._state, emulator._key)

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            async with self.host.lifespan():
                yield

        async def not_found(request: Request, exc: Exception) -> Response:
            status = exc.status_code if isinstance(exc, HTTPException) else 404
            message = "Not Found" if status == 404 else "Method Not Allowed"
            return error_response(request, ApiError(status, message))

        starlette = Starlette(
            routes=[*rest.routes(), *control_routes(emulator, self.host)],
            lifespan=lifespan,
            exception_handlers={404: not_found, 405: not_found},
        )
        hosts = None if emulator._allow_remote else allowed_hosts(emulator._host, emulator._port)
        self.app: ASGIApp = GuardMiddleware(
            EmulatorMiddleware(_Dispatch(starlette, self.host), emulator._faults, self),
            hosts,
            emulator._control_token,
        )
        self.loop: asyncio.AbstractEventLoop | None = None
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    async def begin_shutdown(self) -> None:
        """Release hung requests and end every MCP session, so uvicorn can drain quickly."""
        self.stopping.set()
        self.host.shutdown()


class _Dispatch:
    """Sends ``/mcp/...`` to the MCP host and everything else to starlette."""

    def __init__(self, app: ASGIApp, host: McpHost) -> None:
        self.app = app
        self.host = host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/mcp/"):
            await self.host(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def is_loopback(host: str) -> bool:
    """Return whether ``host`` names the loopback interface (``localhost``, 127.x, ``::1``)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
