"""Long-running tool calls (the 2026-07-28 tasks extension): a task handle polled to its end.

A ``tools/call`` may answer with a task handle (``resultType: "task"``, ``task.taskId``)
instead of a result: the tool runs on at the server. The handle is polled with ``tasks/get``
(a read, safe to repeat) until the task is ``completed`` (its ``CallToolResult`` then comes
inline or from ``tasks/result``), ``failed`` or ``cancelled``. A task handle is never answered
by calling the tool again: :mod:`scalekit_langchain._calls` records the task id with the call
in the ledger before polling, so a resumed or retried node polls the same task.

Wire readings (the extension is not in the installed SDK, only its ``resultType`` is reserved):
the task object has the 2025-11-25 ``Task`` fields (``taskId``, ``status``, ``statusMessage``,
``pollInterval`` in milliseconds); a ``tasks/get`` answer that carries ``result`` is used as is,
else ``tasks/result`` is asked.
"""

from __future__ import annotations

import asyncio
from typing import Any

from scalekit_langchain import _mcp_stack
from scalekit_langchain._mcp_content import ToolResult, to_tool_result
from scalekit_langchain._mcp_session import McpSession
from scalekit_langchain.errors import ScalekitError

__all__ = ["TERMINAL", "TaskStarted", "poll_task", "task_id_of"]

#: Task statuses after which nothing changes.
TERMINAL = frozenset({"completed", "failed", "cancelled"})
_MIN_WAIT, _MAX_WAIT = 0.01, 2.0


class TaskStarted(Exception):
    """A ``tools/call`` was answered with a task handle: the tool runs on at the server.

    Attributes:
        task_id: The task to poll (never a reason to call the tool again).
    """

    def __init__(self, task_id: str) -> None:
        super().__init__(f"task {task_id}")
        self.task_id = task_id


def task_id_of(task: dict[str, Any]) -> str:
    """The id of a task handle's task.

    Raises:
        ScalekitError: The handle names no task (nothing can be polled).
    """
    task_id = task.get("taskId")
    if not isinstance(task_id, str) or not task_id:
        raise ScalekitError("the MCP server answered with a task handle that names no task")
    return task_id


async def poll_task(session: McpSession, task_id: str, *, timeout: float = 60.0) -> ToolResult:
    """Poll ``task_id`` on ``session`` (on the session loop) until it ends.

    Returns:
        The task's result; a failed or cancelled task as an ``isError`` result with its status
        message.

    Raises:
        ScalekitError: The session could not be opened, or a poll failed (the task id stays
            recorded: polling again is safe).
    """
    await session.connect()
    sdk = session.sdk_session
    if sdk is None:
        raise ScalekitError(f"MCP session {session.label!r} closed while polling a task")
    while True:
        failure: ScalekitError | None = None
        try:
            state = await _mcp_stack.get_task(sdk, task_id, timeout)
            status = state.get("status")
            if status == "completed":
                raw = await _mcp_stack.task_result(sdk, task_id, timeout, state)
                return to_tool_result(raw)
        except Exception as exc:  # the SDK's and HTTP errors carry the endpoint URL
            error = _mcp_stack.mcp_error(exc)
            detail = f"JSON-RPC error {error[0]}" if error else type(exc).__name__
            failure = ScalekitError(f"Polling the task {task_id} failed ({detail}); poll again")
        if failure is not None:  # raised outside the except block: no chained SDK error
            raise failure
        if status in TERMINAL:
            text = f"The task {status}: {state.get('statusMessage') or 'no detail'}"
            return ToolResult(True, {}, None, text, None)
        interval = state.get("pollInterval")
        wait = interval / 1000 if isinstance(interval, (int, float)) else 0.05
        await asyncio.sleep(min(max(wait, _MIN_WAIT), _MAX_WAIT))
