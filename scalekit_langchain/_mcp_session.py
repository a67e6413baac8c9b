"""One persistent MCP session per user: connect, reuse, re-initialize, close.

The protocol is the official ``mcp`` SDK's (either major, through
:mod:`scalekit_langchain._mcp_stack`); this module only decides *when* to open, reopen and give
up, and reads what the wire did (:mod:`scalekit_langchain._mcp_transport`) so a tool call is
never sent twice when it may have run.

All coroutines here run on the loop the session lives on (the loop that opened it: the caller's,
or the session loop of :mod:`scalekit_langchain._session_loop`); the public entry points marshal
to it, so a session can be used from any loop or thread.

How a ``tools/call`` ends:

* a result (``isError`` or not): returned as a :class:`~scalekit_langchain._mcp_content.ToolResult`;
* HTTP 401/403: :class:`~scalekit_langchain.errors.ToolCallRejected` with ``status_code`` (with
  expiring credentials, after one reconnect with fresh ones and one re-send: a 401 first means
  "mint a new token");
* a JSON-RPC error answer: :class:`~scalekit_langchain.errors.ToolCallRejected` with ``code``
  and ``detail``; another 4xx: the same with ``status_code`` (and the body's JSON-RPC error);
* provably not run (the session was gone: 404 on its id; rate-limited: 429, after its
  ``Retry-After`` up to 5 s; the connection never opened): re-sent once (on a fresh session when
  the old one is gone), then a typed error (:class:`~scalekit_langchain.errors.RateLimitError`
  for a second 429);
* anything else after the request left (cut, 5xx, unreadable answer, timeout):
  :class:`~scalekit_langchain.errors.ToolCallOutcomeUnknown`, never re-sent.

Callers only ever see :class:`~scalekit_langchain.errors.ScalekitError` subclasses, raised
without a chained cause: the SDK's and the HTTP library's exceptions carry the endpoint URL
(for an instance URL, the credential) in messages and request objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from scalekit_langchain import _mcp_stack, _redact, _session_loop
from scalekit_langchain._failure_policy import (
    REFUSED,
    SessionDied,
    Verdict,
    describe,
    judge_call,
    judge_list,
    open_error,
)
from scalekit_langchain._http2 import use_http2
from scalekit_langchain._mcp_content import ToolResult, ToolSpec, to_tool_result, to_tool_spec
from scalekit_langchain._mcp_features import SessionHooks
from scalekit_langchain._mcp_stack import http
from scalekit_langchain._mcp_transport import (
    CALL_ID_META,
    CallTracker,
    Exchange,
    shared_ssl_context,
)
from scalekit_langchain._request_race import race_request
from scalekit_langchain._tool_listings import ToolListing
from scalekit_langchain.errors import ScalekitError, ScalekitTimeoutError

__all__ = ["CALL_ID_META", "KEEPALIVE_EXPIRY", "ConnectParams", "McpSession"]

logger = logging.getLogger("scalekit_langchain")

T = TypeVar("T")

#: Our ids of tool calls (they find a call's exchange on the wire): unique in this process
#: without a ``uuid4`` per call.
_CALL_ID_PREFIX = f"{uuid.uuid4().hex[:12]}-"
_call_serial = itertools.count(1)

#: At most this long (seconds) is waited, after the handshake, for the SDK's GET stream request.
_STREAM_WAIT = 0.5

#: Seconds an idle connection to an MCP server is kept (httpx's default is 5 s, shorter than a
#: model's turn between two tool calls, so the next call would pay TCP + TLS again). 50 s stays
#: under the most common idle timeout in front of HTTP servers (60 s: AWS ALB, many proxies), so
#: the client lets go first. A server that closes sooner costs a new connection, never a call:
#: the HTTP pool discards a pooled connection whose socket the server closed (it is readable)
#: before writing to it; only a close that crosses our request on the wire leaves its outcome
#: unknown, which a keep-alive below the server's timeout avoids (the doctor measures it).
KEEPALIVE_EXPIRY = 50.0


@dataclass(frozen=True)
class ConnectParams:
    """Where and how to open an MCP session. ``url`` and ``headers`` are credentials.

    Attributes:
        url: The MCP endpoint (an instance URL or a virtual server URL).
        headers: Extra headers (``Authorization: Bearer <session token>``).
        expires_at: ``time.monotonic()`` after which the credentials stop working, if they do.
            When set, the credentials are minted on demand, and a 401/403 is first answered by
            reconnecting once with fresh ones.
        label: A non-secret name for logs and errors.
        verify: TLS trust for this endpoint (``None``: the system's CA bundle).
    """

    url: str = field(repr=False)
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    expires_at: float | None = None
    label: str = "mcp"
    verify: ssl.SSLContext | None = field(default=None, repr=False, compare=False)


ParamsFactory = Callable[[], Awaitable[ConnectParams]]


class _Sealed:
    """Holds an exception without showing it: a traceback's captured locals print ``repr``s,
    and the SDK's exceptions print the endpoint URL."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException | None = None) -> None:
        self.exc = exc

    def __repr__(self) -> str:
        return "<sealed>"


class _Live:
    """One opened MCP session and the task that holds its context open."""

    def __init__(self, params: ConnectParams) -> None:
        self.params = params
        self.session: Any = None
        self.ready = asyncio.Event()
        self.dead: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closing = asyncio.Event()
        self.failure = _Sealed()
        self.tracker: CallTracker | None = None
        self.task: asyncio.Task[None] | None = None
        self.version = ""

    def is_dead(self) -> bool:
        return self.dead.done()

    def __repr__(self) -> str:
        return f"<live MCP session {self.params.label!r}>"


class McpSession:
    """A persistent MCP client session to one endpoint, reopened when it dies.

    Args:
        params: Coroutine factory giving the URL and headers to connect with; called again on
            every (re)connect, so a session token can be re-minted.
        label: A non-secret name for logs and errors.
        call_timeout: Seconds to wait for a tool's result before giving up (outcome unknown).
        connect_timeout: Seconds for connecting and for the MCP handshake.
        refresh_margin: Reconnect with fresh params this many seconds before they expire.
        hooks: Handle what the server sends besides answers (logs, ``list_changed``,
            sampling, elicitation); see :mod:`scalekit_langchain._mcp_features`.
        handshake_only: Always ``initialize`` (the handshake era), never ``server/discover``.
        keepalive_expiry: Seconds an idle HTTP connection is kept for the next request (see
            :data:`KEEPALIVE_EXPIRY`).
        http2: Offer HTTP/2 on https (None: when ``h2`` is installed); see :mod:`._http2`.
    """

    def __init__(
        self,
        params: ParamsFactory,
        *,
        label: str = "mcp",
        call_timeout: float = 60.0,
        connect_timeout: float = 30.0,
        refresh_margin: float = 30.0,
        hooks: SessionHooks | None = None,
        handshake_only: bool = False,
        keepalive_expiry: float = KEEPALIVE_EXPIRY,
        http2: bool | None = None,
    ) -> None:
        self._params = params
        self._http2 = http2
        self._hooks = hooks or SessionHooks(label)
        self.label = label
        self._keepalive_expiry = keepalive_expiry
        self._call_timeout = call_timeout
        self._connect_timeout = connect_timeout
        self._refresh_margin = refresh_margin
        self._live: _Live | None = None
        #: The loop the session lives on, once opened (``None``: the session loop).
        self._home: asyncio.AbstractEventLoop | None = None
        self._open_lock: asyncio.Lock | None = None
        self._closed = False
        #: How many times an MCP session was initialized (1 + reconnects).
        self.initializations = 0
        #: HTTP requests sent by sessions of this object (all generations).
        self.http_requests = 0
        #: The last complete ``tools/list`` answer, with its ``ttlMs`` / ``cacheScope``.
        self.listing: ToolListing | None = None
        # The server's era, remembered across reconnects (see _mcp_stack.open_protocol).
        self._first: Any = _mcp_stack.HANDSHAKE if handshake_only else None
        self._prior: Any = self._first

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._is_usable(self._live) else "idle"
        return f"McpSession(label={self.label!r}, {state}, initializations={self.initializations})"

    @property
    def protocol_version(self) -> str | None:
        """The protocol version of the session open right now (``"2026-07-28"`` in the
        sessionless era), or ``None``."""
        live = self._live
        return live.version if live is not None and self._is_usable(live) else None

    @property
    def sdk_session(self) -> Any | None:
        """The SDK's ``ClientSession`` open right now, or ``None`` (benchmarks compare against
        it; calls through it bypass every guarantee of this class)."""
        live = self._live
        return live.session if self._is_usable(live) and live is not None else None

    # ------------------------------------------------------------------ public (any loop)

    async def call_tool(self, name: str, arguments: dict[str, Any] | None) -> ToolResult:
        """Call an MCP tool on the persistent session (marshalled to its loop).

        Raises:
            ToolCallRejected: The server refused the call (401/403, JSON-RPC error); it did not run.
            ToolCallOutcomeUnknown: The call may have run; it was not re-sent.
            ScalekitError: Any other failure (connection, credentials, rate limit...).
        """
        return await self._at_home(self.call_tool_on_loop(name, arguments))

    async def list_tools(self) -> list[ToolSpec]:
        """List the server's tools (all pages), opening the session if needed."""
        return await self._at_home(self.list_tools_on_loop())

    async def connect(self) -> None:
        """Open the session now instead of on first use."""
        await self._at_home(self._ensure_open())

    async def aclose(self) -> None:
        """Close the session for good."""
        if self._home is not None and self._home.is_closed():
            self._closed, self._live = True, None  # its loop ended, and its task with it
            return
        await self._at_home(self._close(final=True))

    def close(self) -> None:
        """Sync :meth:`aclose`."""
        if self._live is None or self._home is None or self._home.is_closed():
            self._closed, self._live = True, None
            return
        _session_loop.run_sync_on(self._home, self._close(final=True))

    async def reset(self) -> None:
        """Drop the current MCP session; the next call opens a new one."""
        await self._at_home(self._close(final=False))

    async def _at_home(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the loop the session lives on (the session loop until opened)."""
        if self._home is None:
            return await _session_loop.run(coro)
        return await _session_loop.run_on(self._home, coro)

    # ------------------------------------------------------------------ opening (session loop)

    def _is_usable(self, live: _Live | None) -> bool:
        if live is None or live.is_dead() or live.session is None:
            return False
        expires = live.params.expires_at
        return expires is None or time.monotonic() < expires - self._refresh_margin

    async def _ensure_open(self) -> tuple[_Live, Any]:
        if self._closed:
            raise ScalekitError(f"MCP session {self.label!r} is closed")
        live = self._live
        if self._is_usable(live):
            assert live is not None
            return live, live.session
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            live = self._live
            if self._is_usable(live):
                assert live is not None
                return live, live.session
            if live is not None:
                await self._stop(live)
            for attempt in (0, 1):
                opened = await self._open_once()
                if isinstance(opened, _Live):
                    return opened, opened.session
                error, renewable = opened
                if not (renewable and attempt == 0):
                    raise error
                logger.info("MCP server %s refused the credentials; minting new ones", self.label)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _open_once(self) -> _Live | tuple[ScalekitError, bool]:
        """Open one session: the live session, or the error to raise and whether fresh
        credentials may cure it."""
        params = await self._params()
        live = _Live(params)
        _redact.register_endpoint_secrets(params.url, params.headers, owner=live)
        self._live = live
        self._home = asyncio.get_running_loop()
        live.task = asyncio.get_running_loop().create_task(
            self._hold(live), name=f"scalekit-mcp-{params.label}"
        )
        try:
            await asyncio.wait_for(self._wait_ready(live), self._connect_timeout)
        except asyncio.TimeoutError:
            await self._stop(live)
            return (
                ScalekitTimeoutError(
                    f"MCP server {params.label!r} did not complete the handshake within "
                    f"{self._connect_timeout:g}s"
                ),
                False,
            )
        if live.session is None:
            await self._stop(live)
            self._prior = self._first  # the server may have changed eras: negotiate afresh
            if self._live is live:
                self._live = None
            error = self._open_error(live)
            status = getattr(error, "status_code", None)
            return error, status in REFUSED and params.expires_at is not None
        self.initializations += 1
        logger.debug("MCP session %s initialized (#%d)", params.label, self.initializations)
        return live

    @staticmethod
    async def _wait_ready(live: _Live) -> None:
        ready: asyncio.Future[Any] = asyncio.ensure_future(live.ready.wait())
        waiting: set[asyncio.Future[Any]] = {ready, live.dead}
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()

    async def _hold(self, live: _Live) -> None:
        """Open the session and keep its context alive until asked to close or it fails."""
        params = live.params
        http2 = use_http2(self._http2, params.url)
        tracker = CallTracker(
            http.AsyncHTTPTransport(
                verify=params.verify or shared_ssl_context(),
                http2=http2,  # ALPN: h2 where the server offers it
                # httpx's default limits, with our keep-alive.
                limits=http.Limits(
                    max_connections=100,
                    max_keepalive_connections=20,
                    keepalive_expiry=self._keepalive_expiry,
                ),
            ),
            http2=http2,
        )
        live.tracker = tracker
        client = http.AsyncClient(
            headers=dict(params.headers),
            # The GET stream may idle; tool calls have their own timeout.
            timeout=http.Timeout(self._connect_timeout, read=max(300.0, self._call_timeout * 2)),
            transport=tracker,
        )
        try:
            async with (
                client,
                _mcp_stack.open_streams(params.url, client) as (read, write),
                _mcp_stack.new_session(read, write, **self._hooks.session_kwargs()) as session,
            ):
                # The newest era the server offers (mcp 2); the remembered one on a reconnect.
                live.version, self._prior = await _mcp_stack.open_protocol(session, self._prior)
                # A handshake-era SDK opens its standing GET stream right after the handshake, in
                # the background. Waiting (briefly) for that request makes the session's traffic
                # deterministic: nothing but the calls themselves follows "ready".
                tracker = live.tracker
                if tracker is not None and self._prior == _mcp_stack.HANDSHAKE:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(tracker.stream_requested.wait(), _STREAM_WAIT)
                live.session = session
                live.ready.set()
                await live.closing.wait()
        except asyncio.CancelledError:
            pass
        except BaseException as exc:
            live.failure = _Sealed(exc)
            logger.debug("MCP session %s ended: %s", params.label, describe(exc))
        finally:
            self.http_requests += tracker.requests
            if not live.dead.done():
                live.dead.set_result(None)
            live.ready.set()

    @staticmethod
    def _open_error(live: _Live) -> ScalekitError:
        methods = live.tracker.methods if live.tracker else {}
        init = methods.get("initialize") or methods.get("server/discover")
        return open_error(live.params.label, init, live.failure.exc)

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

    async def _drop(self, live: _Live) -> None:
        """Close ``live`` if it is still the current session."""
        if self._live is live:
            await self._close(final=False)
        else:
            await self._stop(live)

    # ------------------------------------------------------------------ requests (session loop)

    async def list_tools_on_loop(self) -> list[ToolSpec]:
        """:meth:`list_tools` for a caller already on the session loop (no hop)."""
        for attempt in (0, 1):
            live, session = await self._ensure_open()
            error: ScalekitError | None = None
            retry = False
            try:
                tools: list[ToolSpec] = []
                cursor: str | None = None
                first: tuple[int, str] | None = None  # the first page's ttlMs / cacheScope
                for page_no in range(1000):
                    page, cursor, terms = await self._race(
                        live, _mcp_stack.list_tools_page(session, cursor), None, self._call_timeout
                    )
                    tools.extend(to_tool_spec(t) for t in page)
                    first = terms if page_no == 0 else first
                    if not cursor:
                        break
                self.listing = ToolListing.of(tools, first)
                return tools
            except Exception as exc:
                # Listing is a read: safe to repeat once on a fresh session.
                error, retry = judge_list(
                    exc,
                    label=live.params.label,
                    exchange=live.tracker.methods.get("tools/list") if live.tracker else None,
                    renewable=live.params.expires_at is not None,
                    ended=self._open_error(live),
                )
            if attempt == 0 and self._era_refused(error):
                retry, self._prior = True, self._first
            if retry or live.is_dead():
                await self._drop(live)
            if not (retry and attempt == 0):
                assert error is not None
                raise error
        raise AssertionError("unreachable")  # pragma: no cover

    async def call_tool_on_loop(
        self,
        name: str,
        arguments: dict[str, Any] | None,
        *,
        progress: Callable[..., Any] | None = None,
        **answers: Any,
    ) -> ToolResult:
        """:meth:`call_tool` for a caller already on the session loop (no hop); ``progress``
        receives the server's progress notifications; ``answers`` (``input_responses``,
        ``request_state``) answer an ``input_required`` result. Raises what :meth:`call_tool`
        raises."""
        resent = renewed = reprobed = False
        while True:
            live, session = await self._ensure_open()
            call_id = f"{_CALL_ID_PREFIX}{next(_call_serial)}"
            tracker = live.tracker
            assert tracker is not None
            exchange = tracker.watch(call_id)
            verdict: Verdict
            try:
                raw = await self._race(
                    live,
                    _mcp_stack.call_tool(
                        session,
                        name,
                        arguments or {},
                        timeout=self._call_timeout,
                        meta={CALL_ID_META: call_id},
                        progress=progress,
                        **answers,
                    ),
                    exchange,
                    None,
                )
                verdict = Verdict(result=to_tool_result(raw))
            except Exception as exc:  # cancellation and interrupts propagate as they are
                verdict = judge_call(
                    name,
                    exc,
                    label=live.params.label,
                    exchange=exchange,
                    call_timeout=self._call_timeout,
                    failure=live.failure.exc,
                )
            finally:
                tracker.forget(call_id)
            # Decided outside the ``except`` block: the error raised below has no context.
            if verdict.result is not None:
                return verdict.result
            era_refused = not reprobed and self._era_refused(verdict.error)
            if verdict.drop or live.is_dead() or era_refused:
                await self._drop(live)
            if era_refused:
                reprobed, self._prior = True, self._first
                continue
            if verdict.renew and not renewed and live.params.expires_at is not None:
                renewed = True
                await self._drop(live)
                logger.info(
                    "MCP server %s refused %s; reconnecting with fresh credentials",
                    live.params.label,
                    name,
                )
                continue
            if verdict.resend and not resent:
                resent = True
                if verdict.wait:
                    await asyncio.sleep(verdict.wait)
                logger.info(
                    "MCP server %s did not run %s; re-sending once", live.params.label, name
                )
                continue
            assert verdict.error is not None
            raise verdict.error

    def _era_refused(self, error: BaseException | None) -> bool:
        """Whether, in the sessionless era, the server refused a request for its protocol
        (it stopped speaking 2026-07-28): it did not run; forget the remembered era, negotiate
        again and send once more."""
        if self._prior in (None, _mcp_stack.HANDSHAKE):
            return False
        code, status = getattr(error, "code", None), getattr(error, "status_code", None)
        if code in _mcp_stack.ERA_REFUSAL_CODES or status == 400:
            logger.info("MCP server %s refused the 2026-07-28 era; negotiating again", self.label)
            return True
        return False

    async def _race(
        self,
        live: _Live,
        coro: Awaitable[Any],
        exchange: Exchange | None,
        timeout: float | None,
    ) -> Any:
        """Await ``coro`` unless the session dies first (then raise :class:`SessionDied`), the
        answer's connection breaks (:class:`CallBroken`) or ``timeout`` passes."""
        if live.is_dead():
            if asyncio.iscoroutine(coro):
                coro.close()
            raise SessionDied
        broken = exchange.broken if exchange is not None else None
        return await race_request(
            coro, dead=live.dead, broken=broken, timeout=timeout, label=live.params.label
        )
