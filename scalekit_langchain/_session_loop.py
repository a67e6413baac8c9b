"""One background event loop for sync callers and foreign threads, and hops between loops.

An MCP session (anyio task groups, an httpx client, an SSE stream) belongs to the loop that
opened it. An async caller's sessions live on its own loop (no hop per call, see
:mod:`scalekit_langchain._calls`); sync ``invoke`` from any thread, and the REST work every
toolkit shares (access, auth state), run on this loop, in a daemon thread; callers are
marshalled to it (and, with :func:`run_on`, to any other running loop):

* async callers on another loop await a future of their own loop that the session loop settles
  (cancelling the caller cancels the work on the session loop); one wake-up each way and no
  ``concurrent.futures`` machinery, since this hop is paid by every tool call;
* sync callers block on the future (never from the session loop itself);
* code already on the session loop awaits directly.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import sys
import threading
from collections.abc import Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_stopped = False  # set at interpreter exit: no new session loop after that


def _serve(loop: asyncio.AbstractEventLoop, started: threading.Event) -> None:
    asyncio.set_event_loop(loop)
    loop.call_soon(started.set)
    loop.run_forever()


def session_loop() -> asyncio.AbstractEventLoop:
    """The process-wide session loop, started on first use.

    Raises:
        RuntimeError: The interpreter is shutting down (a new thread would never start, and
            a finalizer waiting for it would hang the exit).
    """
    global _loop, _thread
    with _lock:
        if _stopped or sys.is_finalizing():
            raise RuntimeError("scalekit-langchain's session loop is shut down")
        if _loop is None or _loop.is_closed() or _thread is None or not _thread.is_alive():
            loop = asyncio.new_event_loop()
            started = threading.Event()
            thread = threading.Thread(
                target=_serve, args=(loop, started), name="scalekit-langchain-sessions", daemon=True
            )
            thread.start()
            started.wait()
            _loop, _thread = loop, thread
        return _loop


def on_session_loop() -> bool:
    """Whether the caller runs on the session loop."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        return False
    return running is _loop


def submit(coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
    """Schedule ``coro`` on the session loop from any thread.

    Raises:
        RuntimeError: The interpreter is shutting down (``coro`` is closed, never run).
    """
    try:
        loop = session_loop()
    except RuntimeError:
        coro.close()
        raise
    return asyncio.run_coroutine_threadsafe(coro, loop)


async def run(coro: Coroutine[Any, Any, T], *, shielded: bool = False) -> T:
    """Await ``coro`` on the session loop, from any event loop.

    Cancelling the caller cancels ``coro`` on the session loop (without waiting for it), unless
    ``shielded``: then ``coro`` runs to its end whatever happens to the caller (from another
    loop; on the session loop itself ``shielded`` has no effect, callers shield there).
    """
    if on_session_loop():
        return await coro
    return await run_on(session_loop(), coro, shielded=shielded)


async def run_on(
    loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T], *, shielded: bool = False
) -> T:
    """Await ``coro`` on ``loop`` (a running loop), from any event loop; as :func:`run`.

    Raises:
        RuntimeError: ``loop`` is closed (``coro`` is closed, never run).
    """
    caller = asyncio.get_running_loop()
    if caller is loop:
        return await coro
    if loop.is_closed():
        coro.close()
        raise RuntimeError("the event loop of these sessions is closed")
    hop: _Hop[T] = _Hop(coro, caller, loop)
    try:
        return await hop.waiter
    except asyncio.CancelledError:
        if not shielded:
            hop.cancel()
        raise


class _Hop(Generic[T]):
    """One coroutine sent to the session loop, its outcome sent back to the caller's loop.

    What ``run_coroutine_threadsafe`` + ``wrap_future`` do, with one ``call_soon_threadsafe``
    each way and nothing else: the task is created in a copy of the caller's context (as
    ``call_soon_threadsafe`` copies it), so context variables travel with the call.
    """

    __slots__ = ("_caller", "_coro", "_target", "_task", "cancelled", "waiter")

    def __init__(
        self,
        coro: Coroutine[Any, Any, T],
        caller: asyncio.AbstractEventLoop,
        target: asyncio.AbstractEventLoop,
    ) -> None:
        self._coro: Coroutine[Any, Any, T] | None = coro
        self._caller = caller
        self._target = target
        self._task: asyncio.Task[T] | None = None
        self.cancelled = False
        self.waiter: asyncio.Future[T] = caller.create_future()
        target.call_soon_threadsafe(self._start)

    def _start(self) -> None:  # on the session loop
        coro, self._coro = self._coro, None
        assert coro is not None
        if self.cancelled:
            coro.close()
            return
        self._task = self._target.create_task(coro)
        self._task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[T]) -> None:  # on the session loop
        if task.cancelled():
            outcome: tuple[str, Any] = ("cancel", None)
        else:
            error = task.exception()  # retrieved here, so never reported as unretrieved
            outcome = ("error", error) if error is not None else ("result", task.result())
        try:
            self._caller.call_soon_threadsafe(self._settle, outcome)
        except RuntimeError:  # the caller's loop is closed: nobody is waiting any more
            pass

    def _settle(self, outcome: tuple[str, Any]) -> None:  # on the caller's loop
        waiter = self.waiter
        if waiter.done():
            return
        kind, value = outcome
        if kind == "result":
            waiter.set_result(value)
        elif kind == "error":
            waiter.set_exception(value)
        else:
            waiter.cancel()

    def cancel(self) -> None:
        """From the caller's loop: stop the work on the session loop (or keep it from starting)."""
        try:
            self._target.call_soon_threadsafe(self._cancel)
        except RuntimeError:  # the session loop is closed
            pass

    def _cancel(self) -> None:  # on the session loop
        self.cancelled = True
        if self._task is not None:
            self._task.cancel()


def run_sync(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coro`` on the session loop and block until it finishes.

    Raises:
        RuntimeError: When called from the session loop itself (it would deadlock).
    """
    if on_session_loop():
        coro.close()
        raise RuntimeError(
            "A sync scalekit-langchain call was made from the session loop; use the async API."
        )
    future = submit(coro)
    try:
        return future.result(timeout)
    except BaseException:
        future.cancel()
        raise


def run_sync_on(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on ``loop`` (running in another thread) and block until it finishes.

    Raises:
        RuntimeError: ``loop`` runs in this thread (it would deadlock), or is closed.
    """
    if loop is session_loop():
        return run_sync(coro)
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop or loop.is_closed():
        coro.close()
        raise RuntimeError("cannot block on the event loop of this thread, or a closed one")
    future = asyncio.run_coroutine_threadsafe(coro, loop)
    try:
        return future.result()
    except BaseException:
        future.cancel()
        raise


def _shutdown() -> None:
    """At interpreter exit: cancel what still runs on the session loop, stop it, close it."""
    global _stopped
    with _lock:
        _stopped = True
    loop, thread = _loop, _thread
    if loop is None or loop.is_closed() or thread is None or not thread.is_alive():
        return

    async def _cancel_all() -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    try:
        asyncio.run_coroutine_threadsafe(_cancel_all(), loop).result(5)
    except BaseException:
        pass
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    if not loop.is_running():
        loop.close()


atexit.register(_shutdown)
