"""One persistent MCP session per user: connect, reuse, re-initialize, close.

The protocol is the official ``mcp`` SDK's, opened through langchain-mcp-adapters'
``create_session``; this module only decides *when* to open, reopen and give up, and keeps
track of what the wire did so a tool call is never sent twice when it may have run.

All coroutines here run on the session loop (:mod:`scalekit_langchain._runner`); the public
entry points marshal to it, so a session can be used from any loop or thread.

Re-send rule: a ``tools/call`` is re-sent (once, on a fresh session) only when the server
provably did not run it: the session was already gone (HTTP 404 on the session id), the server
refused the credentials (401) or rate-limited (429), or the TCP connection never opened. Any
other failure after the request left raises
:class:`~scalekit_langchain.errors.ToolCallOutcomeUnknown`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import ssl
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from langchain_mcp_adapters.sessions import create_session
from mcp import ClientSession
from mcp.shared.exceptions import McpError
from mcp.types import CallToolResult, Tool

from scalekit_langchain import _redact, _runner
from scalekit_langchain.errors import (
    ScalekitConnectionError,
    ScalekitError,
    ScalekitProtocolError,
    ScalekitTimeoutError,
    ToolCallOutcomeUnknown,
)

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found,unused-ignore]

__all__ = ["ConnectParams", "McpSession"]

logger = logging.getLogger("scalekit_langchain")

CALL_ID_META = "scalekit_langchain/call_id"
_SESSION_TERMINATED = 32600  # what the SDK reports when the server answers 404 to our session id
_NOT_RUN_STATUSES = frozenset({401, 404, 429})
_MCP_CONTENT_TYPES = ("application/json", "text/event-stream")


@dataclass(frozen=True)
class ConnectParams:
    """Where and how to open an MCP session. ``url`` and ``headers`` are credentials.

    Attributes:
        url: The MCP endpoint (an instance URL or a virtual server URL).
        headers: Extra headers (``Authorization: Bearer <session token>``).
        expires_at: ``time.monotonic()`` after which the credentials stop working, if they do.
        label: A non-secret name for logs and errors.
    """

    url: str = field(repr=False)
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    expires_at: float | None = None
    label: str = "mcp"


ParamsFactory = Callable[[], Awaitable[ConnectParams]]


class _WatchedStream(httpx.AsyncByteStream):
    """A response body that reports a transport error while it is being read."""

    def __init__(
        self,
        inner: httpx.AsyncByteStream,
        on_error: Callable[[BaseException], None],
        *,
        check_json: bool = False,
    ):
        self._inner = inner
        self._on_error = on_error
        self._check_json = check_json

    async def __aiter__(self) -> AsyncIterator[bytes]:
        body = bytearray()
        try:
            async for chunk in self._inner:
                if self._check_json:
                    body.extend(chunk)
                yield chunk
        except httpx.TransportError as exc:
            self._on_error(exc)
            raise
        if self._check_json:
            try:
                json.loads(body)
            except ValueError:
                # The SDK drops an unparsable answer and would wait for the call's timeout.
                self._on_error(ScalekitProtocolError("the tool call's answer is not valid JSON"))

    async def aclose(self) -> None:
        await self._inner.aclose()


class _CallTracker(httpx.AsyncBaseTransport):
    """Wraps the MCP HTTP transport and records, per tool call, what reached the server.

    It also watches each tool call's response body: the MCP SDK swallows a connection that
    breaks mid-body (the call would then wait for its timeout), so a break is reported here,
    through ``broken``, and the call fails at once with an unknown outcome.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self.outcomes: dict[str, str] = {}  # call id -> "not_sent" | "not_run" | "sent"
        self.broken: dict[str, asyncio.Future[BaseException]] = {}
        self.requests = 0

    def _mark_broken(self, call_id: str, exc: BaseException) -> None:
        future = self.broken.get(call_id)
        if future is not None and not future.done():
            future.set_result(exc)

    @staticmethod
    def _call_id(request: httpx.Request) -> str | None:
        if request.method != "POST" or b'"tools/call"' not in request.content:
            return None
        try:
            meta = json.loads(request.content)["params"]["_meta"]
            value = meta.get(CALL_ID_META)
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        return value if isinstance(value, str) else None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        call_id = self._call_id(request)
        if call_id is None:
            return await self._inner.handle_async_request(request)
        try:
            response = await self._inner.handle_async_request(request)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            self.outcomes[call_id] = "not_sent"
            raise
        except BaseException:
            self.outcomes[call_id] = "sent"
            raise
        self.outcomes[call_id] = "not_run" if response.status_code in _NOT_RUN_STATUSES else "sent"
        if not isinstance(response.stream, httpx.AsyncByteStream):  # pragma: no cover
            return response
        ctype = response.headers.get("content-type", "").lower()
        if response.status_code == 200 and not ctype.startswith(_MCP_CONTENT_TYPES):
            # The SDK ignores an answer of another type and would wait for the timeout.
            self._mark_broken(
                call_id, ScalekitProtocolError(f"unexpected content-type {ctype or 'none'!r}")
            )
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_WatchedStream(
                response.stream,
                lambda exc: self._mark_broken(call_id, exc),
                check_json=ctype.startswith("application/json"),
            ),
            extensions=response.extensions,
            request=request,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Live:
    """One opened MCP session and the task that holds its context open."""

    def __init__(self, params: ConnectParams) -> None:
        self.params = params
        self.session: ClientSession | None = None
        self.ready = asyncio.Event()
        self.dead = asyncio.Event()
        self.closing = asyncio.Event()
        self.failure: BaseException | None = None
        self.tracker: _CallTracker | None = None
        self.task: asyncio.Task[None] | None = None


class McpSession:
    """A persistent MCP client session to one endpoint, reopened when it dies.

    Args:
        params: Coroutine factory giving the URL and headers to connect with; called again on
            every (re)connect, so a session token can be re-minted.
        call_timeout: Seconds to wait for a tool's result before giving up (outcome unknown).
        connect_timeout: Seconds for connecting and for the MCP handshake.
        refresh_margin: Reconnect with fresh params this many seconds before they expire.
    """

    def __init__(
        self,
        params: ParamsFactory,
        *,
        label: str = "mcp",
        call_timeout: float = 60.0,
        connect_timeout: float = 30.0,
        refresh_margin: float = 30.0,
    ) -> None:
        self._params = params
        self.label = label
        self._call_timeout = call_timeout
        self._connect_timeout = connect_timeout
        self._refresh_margin = refresh_margin
        self._live: _Live | None = None
        self._open_lock: asyncio.Lock | None = None
        self._closed = False
        #: How many times an MCP session was initialized (1 + reconnects).
        self.initializations = 0
        #: HTTP requests sent by sessions of this object (all generations).
        self.http_requests = 0
        self._tools: list[Tool] | None = None

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._is_usable(self._live) else "idle"
        return f"McpSession(label={self.label!r}, {state}, initializations={self.initializations})"

    # ------------------------------------------------------------------ public (any loop)

    async def call_tool(self, name: str, arguments: dict[str, Any] | None) -> CallToolResult:
        """Call an MCP tool on the persistent session (marshalled to the session loop)."""
        return await _runner.run(self._call_tool(name, arguments))

    async def list_tools(self) -> list[Tool]:
        """List the server's tools (all pages), opening the session if needed."""
        return await _runner.run(self._list_tools())

    async def connect(self) -> None:
        """Open the session now instead of on first use."""
        await _runner.run(self._ensure_open())

    async def aclose(self) -> None:
        """Close the session; it is reopened on next use unless closed for good."""
        await _runner.run(self._close(final=True))

    def close(self) -> None:
        """Sync :meth:`aclose`."""
        if self._live is None:
            self._closed = True
            return
        _runner.run_sync(self._close(final=True))

    async def reset(self) -> None:
        """Drop the current MCP session; the next call opens a new one."""
        await _runner.run(self._close(final=False))

    # ------------------------------------------------------------------ session loop

    def _is_usable(self, live: _Live | None) -> bool:
        if live is None or live.dead.is_set() or live.session is None:
            return False
        expires = live.params.expires_at
        return expires is None or time.monotonic() < expires - self._refresh_margin

    async def _ensure_open(self) -> tuple[_Live, ClientSession]:
        if self._closed:
            raise ScalekitError(f"MCP session {self.label!r} is closed")
        live = self._live
        if self._is_usable(live):
            assert live is not None and live.session is not None
            return live, live.session
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            live = self._live
            if self._is_usable(live):
                assert live is not None and live.session is not None
                return live, live.session
            if live is not None:
                await self._stop(live)
            params = await self._params()
            live = _Live(params)
            self._live = live
            live.task = asyncio.get_running_loop().create_task(
                self._hold(live), name=f"scalekit-mcp-{params.label}"
            )
            try:
                await asyncio.wait_for(self._wait_ready(live), self._connect_timeout)
            except asyncio.TimeoutError:
                await self._stop(live)
                raise ScalekitTimeoutError(
                    f"MCP server {params.label!r} did not complete the handshake within "
                    f"{self._connect_timeout:g}s"
                ) from None
            if live.session is None:
                failure = live.failure
                await self._stop(live)
                raise self._connect_error(params.label, failure) from failure
            self.initializations += 1
            logger.debug("MCP session %s initialized (#%d)", params.label, self.initializations)
            return live, live.session

    @staticmethod
    async def _wait_ready(live: _Live) -> None:
        ready = asyncio.ensure_future(live.ready.wait())
        dead = asyncio.ensure_future(live.dead.wait())
        try:
            await asyncio.wait({ready, dead}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
            dead.cancel()

    def _http_client_factory(self, live: _Live) -> Callable[..., httpx.AsyncClient]:
        def factory(
            headers: dict[str, str] | None = None,
            timeout: httpx.Timeout | None = None,
            auth: httpx.Auth | None = None,
        ) -> httpx.AsyncClient:
            tracker = _CallTracker(httpx.AsyncHTTPTransport(verify=_ssl_context()))
            live.tracker = tracker
            return httpx.AsyncClient(headers=headers, timeout=timeout, auth=auth, transport=tracker)

        return factory

    async def _hold(self, live: _Live) -> None:
        """Open the session and keep its context alive until asked to close or it fails."""
        params = live.params
        connection: dict[str, Any] = {
            "transport": "streamable_http",
            "url": params.url,
            "headers": dict(params.headers) or None,
            "timeout": timedelta(seconds=self._connect_timeout),
            # The GET stream may idle; tool calls have their own timeout below.
            "sse_read_timeout": timedelta(seconds=max(300.0, self._call_timeout * 2)),
            "httpx_client_factory": self._http_client_factory(live),
        }
        try:
            async with create_session(connection) as session:  # type: ignore[arg-type]
                await session.initialize()
                live.session = session
                live.ready.set()
                await live.closing.wait()
        except asyncio.CancelledError:
            pass
        except BaseException as exc:
            live.failure = exc
            logger.debug("MCP session %s ended: %s", params.label, _redact.redact(_describe(exc)))
        finally:
            if live.tracker is not None:
                self.http_requests += live.tracker.requests
            live.dead.set()
            live.ready.set()

    async def _stop(self, live: _Live) -> None:
        live.closing.set()
        task = live.task
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), 5.0)
            except (asyncio.TimeoutError, Exception):
                task.cancel()
                try:
                    await task
                except BaseException:
                    pass

    async def _close(self, *, final: bool) -> None:
        if final:
            self._closed = True
        live, self._live = self._live, None
        if live is not None:
            await self._stop(live)

    def _connect_error(self, label: str, failure: BaseException | None) -> ScalekitError:
        status = _http_status(failure)
        detail = _redact.redact(_describe(failure)) if failure else "no detail"
        if status is not None:
            from scalekit_langchain.errors import error_class_for_status

            return error_class_for_status(status)(
                f"MCP server {label!r} refused the connection: {detail}",
                status_code=status,
            )
        return ScalekitConnectionError(f"Could not open the MCP session {label!r}: {detail}")

    async def _list_tools(self) -> list[Tool]:
        for attempt in (0, 1):
            live, session = await self._ensure_open()
            try:
                tools: list[Tool] = []
                cursor: str | None = None
                for _ in range(1000):
                    page = await self._race(
                        live, session.list_tools(cursor=cursor), self._call_timeout
                    )
                    tools.extend(page.tools)
                    cursor = page.nextCursor or None
                    if not cursor:
                        break
                self._tools = tools
                return tools
            except _SessionDied:
                # Listing is a read: safe to repeat on a fresh session.
                await self._close(final=False)
                if attempt:
                    raise self._connect_error(live.params.label, live.failure) from live.failure
            except McpError as exc:
                if exc.error.code == _SESSION_TERMINATED and not attempt:
                    await self._close(final=False)
                    continue
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _call_tool(self, name: str, arguments: dict[str, Any] | None) -> CallToolResult:
        for attempt in (0, 1):
            live, session = await self._ensure_open()
            call_id = uuid.uuid4().hex
            broken: asyncio.Future[BaseException] = asyncio.get_running_loop().create_future()
            if live.tracker is not None:
                live.tracker.broken[call_id] = broken
            try:
                result: CallToolResult = await self._race(
                    live,
                    session.call_tool(
                        name,
                        arguments or {},
                        read_timeout_seconds=timedelta(seconds=self._call_timeout),
                        meta={CALL_ID_META: call_id},
                    ),
                    None,
                    broken,
                )
                return result
            except _CallBroken as exc:
                await self._close(final=False)
                raise ToolCallOutcomeUnknown(
                    name, _redact.redact(_describe(exc.__cause__))
                ) from None
            except _SessionDied:
                outcome = live.tracker.outcomes.get(call_id) if live.tracker else None
                await self._close(final=False)
                if outcome in (None, "not_sent", "not_run") and not attempt:
                    logger.info(
                        "MCP session %s was gone before %s ran; re-sending on a new session",
                        live.params.label,
                        name,
                    )
                    continue
                raise ToolCallOutcomeUnknown(
                    name, _redact.redact(_describe(live.failure)) if live.failure else None
                ) from None
            except McpError as exc:
                code = exc.error.code
                if code == _SESSION_TERMINATED:  # 404: the server no longer knows the session
                    await self._close(final=False)
                    if not attempt:
                        logger.info(
                            "MCP session %s expired server-side; re-initializing", live.params.label
                        )
                        continue
                    raise ScalekitConnectionError(
                        f"MCP server {live.params.label!r} dropped two sessions in a row"
                    ) from None
                if code == -32001 or "timed out" in (exc.error.message or "").lower():
                    # The SDK's request timeout: the call may still be running server-side.
                    await self._close(final=False)
                    raise ToolCallOutcomeUnknown(
                        name, f"no result within {self._call_timeout:g}s"
                    ) from None
                if code == -32000 and (exc.error.message or "") == "Connection closed":
                    await self._close(final=False)
                    raise ToolCallOutcomeUnknown(name, "connection closed") from None
                raise
            finally:
                if live.tracker is not None:
                    live.tracker.broken.pop(call_id, None)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _race(
        self,
        live: _Live,
        coro: Awaitable[Any],
        timeout: float | None,
        broken: asyncio.Future[BaseException] | None = None,
    ) -> Any:
        """Await ``coro`` unless the session dies first (then raise :class:`_SessionDied`)
        or the request's connection breaks (then raise :class:`_CallBroken`)."""
        call = asyncio.ensure_future(coro)
        if live.dead.is_set():
            call.cancel()
            raise _SessionDied
        dead = asyncio.ensure_future(live.dead.wait())
        waiting: set[asyncio.Future[Any]] = {call, dead}
        if broken is not None:
            waiting.add(broken)
        try:
            done, _ = await asyncio.wait(
                waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        except BaseException:
            call.cancel()
            dead.cancel()
            raise
        dead.cancel()
        if call in done:
            return call.result()
        call.cancel()
        try:
            await call
        except BaseException:
            pass
        if not done:
            raise ScalekitTimeoutError(f"MCP server {live.params.label!r} did not answer in time")
        if broken is not None and broken in done:
            raise _CallBroken from broken.result()
        raise _SessionDied


@functools.lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """One TLS context for every MCP session: building one loads the CA bundle, which costs
    ~40 ms of CPU and ~800 KB per session (measured by the benchmarks)."""
    return httpx.create_ssl_context()


class _SessionDied(Exception):
    """The session's context ended while a request was in flight."""


class _CallBroken(Exception):
    """The connection carrying a tool call's result broke (cause: the transport error)."""


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        out: list[BaseException] = []
        for inner in exc.exceptions:
            out.extend(_leaves(inner))
        return out
    return [exc]


def _http_status(exc: BaseException | None) -> int | None:
    if exc is None:
        return None
    for leaf in _leaves(exc):
        if isinstance(leaf, httpx.HTTPStatusError):
            return leaf.response.status_code
    return None


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "no detail"
    leaves = [e for e in _leaves(exc) if not isinstance(e, asyncio.CancelledError)] or [exc]
    parts = []
    for leaf in leaves[:3]:
        if isinstance(leaf, httpx.HTTPStatusError):
            parts.append(f"HTTP {leaf.response.status_code}")
        else:
            parts.append(f"{type(leaf).__name__}: {leaf}" if str(leaf) else type(leaf).__name__)
    return "; ".join(parts)
