"""One session pool per event loop: an async caller's sessions live on its own loop.

An MCP session (anyio task groups, an HTTP client, maybe an SSE stream) belongs to the loop that
opened it. Routing every call of an async caller to the background session loop would cost a
thread hop each way per call; instead each running loop that makes calls gets its own
:class:`~scalekit_langchain._session_pool.SessionPool` (same factory and limits), made on its
first call. Sync callers and foreign threads use the background loop's pool
(:attr:`LoopPools.base`).

A loop that ends (an ``asyncio.run`` that returned) cancels its sessions' tasks with it; its pool
is dropped the next time a pool is looked up. Closing reaches every pool on its own loop: now
when that loop runs, else by a task left there for when it runs again.
"""

from __future__ import annotations

import asyncio
import threading
import warnings
from typing import Any

from scalekit_langchain import _session_loop
from scalekit_langchain._session_pool import SessionPool

__all__ = ["LoopPools"]

#: Closing tasks left on loops that were not running (a reference keeps each alive).
_closing: set[asyncio.Task[None]] = set()


def _close_later(pool: SessionPool) -> None:
    """Runs on the pool's own loop once it runs (a callback): close the pool there."""
    task = asyncio.get_running_loop().create_task(pool.aclose())
    _closing.add(task)
    task.add_done_callback(_closing.discard)


class LoopPools:
    """The session pools of a toolkit, one per event loop.

    Args:
        base: The background session loop's pool (sync callers, foreign threads); the pools of
            other loops are its siblings (:meth:`SessionPool.sibling`).
    """

    def __init__(self, base: SessionPool) -> None:
        self.base = base
        self._pools: dict[asyncio.AbstractEventLoop, SessionPool] = {}
        self._lock = threading.Lock()

    def here(self) -> SessionPool:
        """The pool of the running loop (the base pool outside any loop or on the session loop)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return self.base
        pool = self._pools.get(loop)
        if pool is not None:
            return pool
        if _session_loop.on_session_loop():
            return self.base
        with self._lock:
            for gone in [lp for lp in self._pools if lp.is_closed()]:
                del self._pools[gone]
            pool = self._pools.get(loop)
            if pool is None:
                pool = self._pools[loop] = self.base.sibling(loop)
        return pool

    def all(self) -> list[SessionPool]:
        """Every pool: the base pool first, then those of loops still open."""
        with self._lock:
            return [self.base, *(p for lp, p in self._pools.items() if not lp.is_closed())]

    async def aclose(self) -> None:
        """Close every pool, each on its loop (a loop not running now closes its pool's sessions
        when it runs again: a task is left there)."""
        with self._lock:
            pools, self._pools = self._pools, {}
        for loop, pool in pools.items():
            if loop.is_running():
                await _session_loop.run_on(loop, pool.aclose())
            elif not loop.is_closed():
                loop.call_soon_threadsafe(_close_later, pool)
        await _session_loop.run(self.base.aclose())

    def close_here_later(self) -> None:
        """Before a blocking close from a thread that runs an event loop (a sync call in a
        Jupyter cell): that loop's pool closes once the loop runs again (it cannot now)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        with self._lock:
            pool = self._pools.pop(loop, None)
        if pool is not None:
            loop.call_soon(_close_later, pool)

    def close_soon(self) -> None:
        """Close every pool without waiting (from any thread, e.g. a finalizer)."""
        with self._lock:
            pools, self._pools = self._pools, {}
        for loop, pool in [*pools.items(), (None, self.base)]:
            try:
                if loop is None:
                    _session_loop.submit(pool.aclose())
                elif not loop.is_closed():
                    loop.call_soon_threadsafe(_close_later, pool)
            except RuntimeError:  # the loop closed meanwhile, or the interpreter is exiting
                pass

    def close_abandoned(self, owner: Any) -> None:
        """``owner`` was dropped unclosed: when sessions are open, warn (``ResourceWarning``)
        and close them without waiting (an abandoned toolkit must not keep sockets open)."""
        if not any(len(pool) for pool in self.all()):
            return
        warnings.warn(
            f"{owner!r} was not closed; closing its MCP sessions now (use `async with` or "
            "aclose())",
            ResourceWarning,
            stacklevel=3,
        )
        self.close_soon()
