"""The hop to the session loop: results, errors, context, cancellation (plain and shielded)."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from scalekit_langchain import _session_loop

_var: contextvars.ContextVar[str] = contextvars.ContextVar("test_runner_var", default="unset")


async def test_runs_on_the_session_loop_and_returns_its_result() -> None:
    async def where() -> tuple[str, bool]:
        await asyncio.sleep(0)
        return threading.current_thread().name, _session_loop.on_session_loop()

    name, on_loop = await _session_loop.run(where())
    assert on_loop is True
    assert name == "scalekit-langchain-sessions"
    assert _session_loop.on_session_loop() is False


async def test_an_error_comes_back_as_it_was_raised() -> None:
    class Boom(Exception):
        pass

    async def fail() -> None:
        raise Boom("no")

    with pytest.raises(Boom, match="no"):
        await _session_loop.run(fail())


async def test_context_variables_travel_with_the_call() -> None:
    async def read() -> str:
        return _var.get()

    token = _var.set("caller's value")
    try:
        assert await _session_loop.run(read()) == "caller's value"
    finally:
        _var.reset(token)


@pytest.mark.parametrize("shielded", [False, True])
async def test_cancelling_the_caller_cancels_the_work_unless_shielded(shielded: bool) -> None:
    started, finished, cancelled = threading.Event(), threading.Event(), threading.Event()

    async def work() -> str:
        started.set()
        try:
            await asyncio.sleep(0.3)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        finished.set()
        return "done"

    caller = asyncio.ensure_future(_session_loop.run(work(), shielded=shielded))
    assert await asyncio.to_thread(started.wait, 5)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    if shielded:
        assert await asyncio.to_thread(finished.wait, 5)
        assert not cancelled.is_set()
    else:
        assert await asyncio.to_thread(cancelled.wait, 5)
        assert not finished.is_set()


def test_run_sync_from_a_plain_thread() -> None:
    async def add(a: int, b: int) -> int:
        await asyncio.sleep(0)
        return a + b

    assert _session_loop.run_sync(add(2, 3)) == 5


def test_no_new_session_loop_once_the_interpreter_exits(monkeypatch: pytest.MonkeyPatch) -> None:
    # A finalizer (an unclosed toolkit's __del__) must get an error, not wait for a thread
    # that can no longer start.
    monkeypatch.setattr(_session_loop, "_stopped", True)
    with pytest.raises(RuntimeError, match="shut down"):
        _session_loop.session_loop()
