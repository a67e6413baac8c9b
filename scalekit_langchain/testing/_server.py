"""One run of the emulator's HTTP app: the ASGI stack between a start and a stop.

From the outside in: :class:`~scalekit_langchain.testing._guard.GuardMiddleware` (Host, Origin,
control token), :class:`~scalekit_langchain.testing._traffic.EmulatorMiddleware` (request
ids, counts, latency, faults), then ``/mcp/...`` to the MCP host and everything else to the
starlette app (REST API, auth pages, control routes).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from scalekit_langchain.testing._control import Controls, control_routes
from scalekit_langchain.testing._errors import ApiError
from scalekit_langchain.testing._guard import GuardMiddleware, allowed_hosts
from scalekit_langchain.testing._mcp_host import McpHost
from scalekit_langchain.testing._rest import RestApi, error_response
from scalekit_langchain.testing._traffic import EmulatorMiddleware

if TYPE_CHECKING:
    from scalekit_langchain.testing._faults import FaultBoard
    from scalekit_langchain.testing._mcp_protocol import McpSettings
    from scalekit_langchain.testing._session_jwts import SigningKey
    from scalekit_langchain.testing._state import EmulatorState

__all__ = ["ServerParts", "ServerRun", "is_loopback"]


@dataclass(frozen=True)
class ServerParts:
    """What one server run is made of (owned by the emulator, shared across its runs)."""

    state: EmulatorState
    key: SigningKey
    mcp_settings: McpSettings
    faults: FaultBoard
    host: str
    port: int
    control_token: str
    allow_remote: bool


class ServerRun:
    """One run of the HTTP server (between a start and a stop).

    Args:
        parts: The emulator's state, keys, settings and bind address.
        controls: What the ``/_emulator/*`` routes drive (the emulator itself).
    """

    def __init__(self, parts: ServerParts, controls: Controls) -> None:
        self.host = McpHost(parts.state, parts.key, parts.mcp_settings)
        self.stopping = asyncio.Event()
        rest = RestApi(parts.state, parts.key)

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            async with self.host.lifespan():
                yield

        async def not_found(request: Request, exc: Exception) -> Response:
            status = exc.status_code if isinstance(exc, HTTPException) else 404
            message = "Not Found" if status == 404 else "Method Not Allowed"
            return error_response(request, ApiError(status, message))

        starlette = Starlette(
            routes=[*rest.routes(), *control_routes(controls, self.host)],
            lifespan=lifespan,
            exception_handlers={404: not_found, 405: not_found},
        )
        hosts = None if parts.allow_remote else allowed_hosts(parts.host, parts.port)
        self.app: ASGIApp = GuardMiddleware(
            EmulatorMiddleware(_Dispatch(starlette, self.host), parts.faults, self),
            hosts,
            parts.control_token,
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
