"""One MCP request raced against what can end it first: its session dying, its answer's
connection breaking, a timeout.

On every request's path, so cheap: the request runs in the caller's task (no task of its own and
no ``asyncio.wait``); whatever ends first cancels that task once, and the cancellation becomes
the reason (:class:`~scalekit_langchain._failure_policy.SessionDied`,
:class:`~scalekit_langchain._failure_policy.CallBroken`,
:class:`~scalekit_langchain.errors.ScalekitTimeoutError`). A request that ends in the same loop
turn as its rival wins: a rival's callback that runs after the request ended does nothing.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from typing import Any

from scalekit_langchain._failure_policy import CallBroken, SessionDied
from scalekit_langchain.errors import ScalekitTimeoutError

__all__ = ["race_request"]


class _Race:
    """What ended a request first; cancels the request's task once."""

    __slots__ = ("_finished", "_task", "reason")

    def __init__(self, task: asyncio.Task[Any] | None) -> None:
        assert task is not None, "a request runs in a task"
        self._task = task
        self._finished = False
        self.reason: type[Exception] | None = None

    def _stop(self, reason: type[Exception]) -> None:
        if self._finished or self.reason is not None:
            return  # the request ended first (this callback was already scheduled)
        self.reason = reason
        self._task.cancel()

    def on_dead(self, _: Any) -> None:
        self._stop(SessionDied)

    def on_broken(self, _: Any) -> None:
        self._stop(CallBroken)

    def on_timeout(self) -> None:
        self._stop(ScalekitTimeoutError)

    def finish(self) -> None:
        self._finished = True
        if self.reason is not None and sys.version_info >= (3, 11):
            self._task.uncancel()  # the cancellation was ours, and it was consumed


async def race_request(
    request: Awaitable[Any],
    *,
    dead: asyncio.Future[Any],
    broken: asyncio.Future[Any] | None,
    timeout: float | None,
    label: str,
) -> Any:
    """Await ``request`` in this task unless ``dead`` or ``broken`` completes or ``timeout``
    seconds pass first.

    Raises:
        SessionDied: ``dead`` completed first.
        CallBroken: ``broken`` completed first.
        ScalekitTimeoutError: ``timeout`` passed first (names ``label``, never a URL).
    """
    race = _Race(asyncio.current_task())
    dead.add_done_callback(race.on_dead)
    if broken is not None:
        broken.add_done_callback(race.on_broken)
    timer = (
        asyncio.get_running_loop().call_later(timeout, race.on_timeout)
        if timeout is not None
        else None
    )
    try:
        return await request
    except BaseException:
        if race.reason is None:
            raise
    finally:
        race.finish()
        dead.remove_done_callback(race.on_dead)
        if broken is not None:
            broken.remove_done_callback(race.on_broken)
        if timer is not None:
            timer.cancel()
    if race.reason is ScalekitTimeoutError:
        raise ScalekitTimeoutError(f"MCP server {label!r} did not answer in time")
    raise race.reason()
