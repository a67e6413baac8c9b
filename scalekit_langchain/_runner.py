"""One background event loop that owns every MCP session of the process.

An MCP session (anyio task groups, an httpx client, an SSE stream) belongs to the loop that
opened it. Callers come from everywhere: ``asyncio.run`` scripts, Jupyter's running loop, sync
``invoke`` from worker threads, LangGraph's sync and async paths, a second event loop. Rather than
tie a session to whichever loop happened to open it (and lose it when that loop closes), every
session lives on this loop, in a daemon thread, and callers are marshalled to it:

* async callers on another loop await a ``concurrent.futures.Future`` wrapped for their loop
  (cancelling the caller cancels the work on the session loop);
* sync callers block on the future (never from the session loop itself);
* code already on the session loop awaits directly.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def _serve(loop: asyncio.AbstractEventLoop, started: threading.Event) -> None:
    asyncio.set_event_loop(loop)
    loop.call_soon(started.set)
    loop.run_forever()


def session_loop() -> asyncio.AbstractEventLoop:
    """The process-wide session loop, started on first use."""
    global _loop, _thread
    with _lock:
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
    """Schedule ``coro`` on the session loop from any thread."""
    return asyncio.run_coroutine_threadsafe(coro, session_loop())


async def run(coro: Coroutine[Any, Any, T]) -> T:
    """Await ``coro`` on the session loop, from any event loop."""
    if on_session_loop():
        return await coro
    return await asyncio.wrap_future(submit(coro))


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


def _shutdown() -> None:
    """At interpreter exit: cancel what still runs on the session loop, stop it, close it."""
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
