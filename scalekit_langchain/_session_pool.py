"""Per-user MCP sessions: a pool that lends them out and never closes one under a call.

* A call takes a *lease* on its user's session and gives it back when the answer is in.
* At most ``max_sessions`` sessions are open. A new user's first call closes the least
  recently used session that no call holds; when every session is busy, it waits until one
  is given back (like an HTTP connection pool waiting for a free slot).
* Sessions idle longer than ``idle_ttl`` are closed by a timer, not only on the next call.

A pool and its sessions belong to one event loop (:attr:`SessionPool.loop`; ``None``: the
background session loop of :mod:`scalekit_langchain._session_loop`); everything here runs on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from scalekit_langchain import _session_loop
from scalekit_langchain._mcp_session import McpSession
from scalekit_langchain._tool_listings import ToolListing
from scalekit_langchain.errors import ScalekitError

__all__ = ["SessionPool"]

logger = logging.getLogger("scalekit_langchain")

SessionFactory = Callable[[str], Awaitable[McpSession]]


class _Entry:
    def __init__(self, session: McpSession) -> None:
        self.session = session
        self.leases = 0
        self.last_used = time.monotonic()


class SessionPool:
    """Open MCP sessions by user, lent out per call.

    Args:
        factory: Builds a (not yet connected) session for a user (kept as :attr:`factory`).
        max_sessions: Sessions kept open at most.
        idle_ttl: Seconds after which a session nobody uses is closed.
        loop: The event loop the pool and its sessions live on (``None``: the session loop).
    """

    def __init__(
        self,
        factory: SessionFactory,
        *,
        max_sessions: int,
        idle_ttl: float,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.factory = factory
        self.loop = loop
        self._max = max_sessions
        self._idle_ttl = idle_ttl
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._opening: dict[str, asyncio.Future[_Entry]] = {}
        self._freed: asyncio.Condition | None = None
        #: Callers waiting for a session to be given back (the pool was full).
        self._waiting = 0
        self._reaper: asyncio.Task[None] | None = None
        self._closed = False
        #: Sessions closed because they idled or made room (for tests and benchmarks).
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, user: object) -> bool:
        return user in self._entries

    def _condition(self) -> asyncio.Condition:
        if self._freed is None:
            self._freed = asyncio.Condition()
        return self._freed

    def lease(self, user: str) -> _Lease:
        """Lend ``user``'s session (opened lazily) for the duration of one call
        (``async with pool.lease(user) as session``)."""
        return _Lease(self, user)

    async def _lent(self, user: str) -> _Entry:
        entry = await self._acquire(user)
        entry.leases += 1
        return entry

    async def _given_back(self, entry: _Entry) -> None:
        entry.leases -= 1
        entry.last_used = time.monotonic()
        if entry.leases == 0 and self._waiting:
            async with self._condition():
                self._condition().notify_all()

    def sibling(self, loop: asyncio.AbstractEventLoop) -> SessionPool:
        """An empty pool like this one (factory, limits) for the sessions of ``loop``."""
        return SessionPool(self.factory, max_sessions=self._max, idle_ttl=self._idle_ttl, loop=loop)

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    async def listing(self, user: str) -> ToolListing:
        """List the tools through ``user``'s session, on the pool's loop (from any loop), with
        the answer's ``ttlMs`` / ``cacheScope`` (2026-07-28 era)."""

        async def listed() -> ToolListing:
            async with self.lease(user) as session:
                specs = await session.list_tools_on_loop()
                return session.listing or ToolListing.of(specs, None)

        if self.loop is None:
            return await _session_loop.run(listed())
        return await _session_loop.run_on(self.loop, listed())

    def peek(self, user: str) -> McpSession | None:
        """The user's open session, if any (no lease, no side effect)."""
        entry = self._entries.get(user)
        return entry.session if entry else None

    async def _acquire(self, user: str) -> _Entry:
        while True:
            if self._closed:
                raise ScalekitError("This toolkit is closed; create a new one")
            entry = self._entries.get(user)
            if entry is not None:
                self._entries.move_to_end(user)
                return entry
            pending = self._opening.get(user)
            if pending is not None:
                await asyncio.shield(pending)
                continue
            if len(self._entries) + len(self._opening) < self._max:
                return await self._open(user)
            victim = next((u for u, e in self._entries.items() if e.leases == 0), None)
            if victim is not None:
                await self._evict(victim, why="to make room")
                continue
            self._waiting += 1
            try:
                async with self._condition():
                    await self._condition().wait()
            finally:
                self._waiting -= 1

    async def _open(self, user: str) -> _Entry:
        future: asyncio.Future[_Entry] = asyncio.get_running_loop().create_future()
        self._opening[user] = future
        try:
            entry = _Entry(await self.factory(user))
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # waiters re-raise it; nobody else needs to see it
            raise
        finally:
            self._opening.pop(user, None)
        self._entries[user] = entry
        if not future.done():
            future.set_result(entry)
        self._start_reaper()
        return entry

    async def _evict(self, user: str, *, why: str) -> None:
        entry = self._entries.pop(user, None)
        if entry is None:
            return
        self.evictions += 1
        logger.debug("Closing the MCP session of %r %s", user, why)
        try:
            await entry.session.aclose()
        except Exception:  # a session that fails to close is gone all the same
            logger.debug("Closing the MCP session of %r failed", user, exc_info=True)

    async def discard(self, user: str) -> None:
        """Close ``user``'s session now if no call holds it (e.g. its URL changed)."""
        entry = self._entries.get(user)
        if entry is not None and entry.leases == 0:
            await self._evict(user, why="on request")

    async def reap(self) -> int:
        """Close sessions idle longer than ``idle_ttl``; return how many were closed."""
        cutoff = time.monotonic() - self._idle_ttl
        idle = [u for u, e in self._entries.items() if e.leases == 0 and e.last_used < cutoff]
        for user in idle:
            await self._evict(user, why=f"after {self._idle_ttl:g}s idle")
        return len(idle)

    def _start_reaper(self) -> None:
        if self._reaper is not None and not self._reaper.done():
            return
        interval = max(0.05, min(self._idle_ttl / 2, 30.0))
        self._reaper = asyncio.get_running_loop().create_task(
            _reap_forever(weakref.ref(self), interval), name="scalekit-session-reaper"
        )

    async def aclose(self) -> None:
        """Close every session and stop the timer."""
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(BaseException):
                await self._reaper
            self._reaper = None
        entries, self._entries = self._entries, OrderedDict()
        await asyncio.gather(
            *(e.session.aclose() for e in entries.values()), return_exceptions=True
        )
        if self._freed is not None:
            async with self._freed:
                self._freed.notify_all()


async def _reap_forever(pool_ref: weakref.ref[SessionPool], interval: float) -> None:
    """The idle timer; holds the pool only weakly, so an abandoned pool can be collected."""
    while True:
        await asyncio.sleep(interval)
        pool = pool_ref()
        if pool is None or pool._closed:
            return
        await pool.reap()
        if not pool._entries:
            pool._reaper = None
            return
        del pool


class _Lease:
    """``async with pool.lease(user) as session``: one call's hold on a user's session (a
    class, not a generator-based context manager: this is on every call's path)."""

    __slots__ = ("_entry", "_pool", "_user")

    def __init__(self, pool: SessionPool, user: str) -> None:
        self._pool = pool
        self._user = user
        self._entry: _Entry | None = None

    async def __aenter__(self) -> McpSession:
        self._entry = await self._pool._lent(self._user)
        return self._entry.session

    async def __aexit__(self, *exc: object) -> None:
        entry, self._entry = self._entry, None
        if entry is not None:
            await self._pool._given_back(entry)
