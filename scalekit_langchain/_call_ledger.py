"""A replay-safe record of tool calls that reached the server, so none is ever sent twice.

LangGraph re-runs a node from its start when the run resumes after an interrupt, and when a
``RetryPolicy`` retries it. A custom ``StateGraph`` whose ``ToolNode`` runs every call of one
AI message in one task would then send again the calls that had already completed before a
sibling paused for authorization. So every call that reached the server is recorded, keyed by
what stays the same across a resume or a retry:

    (thread_id, checkpoint_ns, tool_call_id)

``checkpoint_ns`` names the node's task (``tools:<task id>``; the task id is derived from the
checkpoint the step started from), and ``tool_call_id`` is the model's id for the call. When the
same call comes again, the recorded answer is returned instead of calling the server; a call
whose outcome was unknown raises :class:`~scalekit_langchain.errors.ToolCallOutcomeUnknown`
again instead of being sent.

The record lives in two places: in memory (the same process: retries and in-process resumes)
and, when the graph has a checkpointer, next to the checkpoint of the running step as a
pending write, so a resume in another process (SQLite, Postgres...) finds it too. LangGraph
ignores pending writes whose task id is none of its tasks, and drops them with the step.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any

from langchain_core.runnables import RunnableConfig

__all__ = ["CallKey", "CallLedger", "call_key"]

CallKey = tuple[str, str, str]

_CHANNEL = "__scalekit_langchain_call__"
_TASK_PREFIX = "scalekit-langchain-call:"
_CHECKPOINTER = "__pregel_checkpointer"
_RESUMING = "__pregel_resuming"


def call_key(config: RunnableConfig | None, tool_call_id: str | None) -> CallKey | None:
    """The replay key of a call, or ``None`` outside a graph or without a tool call id."""
    if not tool_call_id:
        return None
    configurable = (config or {}).get("configurable") or {}
    namespace = configurable.get("checkpoint_ns")
    if not isinstance(namespace, str) or not namespace:
        return None
    thread = str(configurable.get("thread_id") or "")
    return (thread, namespace, tool_call_id)


def _task_id(key: CallKey) -> str:
    digest = hashlib.sha256("\x1f".join(key).encode()).hexdigest()[:32]
    return _TASK_PREFIX + digest


def _checkpoint_config(config: RunnableConfig | None) -> tuple[Any, RunnableConfig] | None:
    configurable = (config or {}).get("configurable") or {}
    saver = configurable.get(_CHECKPOINTER)
    mapping = configurable.get("checkpoint_map")
    thread = configurable.get("thread_id")
    if saver is None or not isinstance(mapping, dict) or "" not in mapping or thread is None:
        return None
    target: RunnableConfig = {
        "configurable": {"thread_id": thread, "checkpoint_ns": "", "checkpoint_id": mapping[""]}
    }
    return saver, target


class CallLedger:
    """Answers of calls that reached the server, by :func:`call_key`.

    A record is a JSON-serializable dict: ``{"outcome": "done", "content", "artifact",
    "is_error"}`` or ``{"outcome": "unknown", "detail"}``.

    Args:
        max_entries: Records kept in memory (oldest dropped first).
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self._memory: OrderedDict[CallKey, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries

    def _remember(self, key: CallKey, record: dict[str, Any]) -> None:
        with self._lock:
            self._memory[key] = record
            self._memory.move_to_end(key)
            while len(self._memory) > self._max:
                self._memory.popitem(last=False)

    def _recall(self, key: CallKey) -> dict[str, Any] | None:
        with self._lock:
            return self._memory.get(key)

    @staticmethod
    def _resuming(config: RunnableConfig | None) -> bool:
        return bool(((config or {}).get("configurable") or {}).get(_RESUMING))

    @staticmethod
    def _from_writes(writes: Any, key: CallKey) -> dict[str, Any] | None:
        task_id = _task_id(key)
        for write in writes or ():
            if len(write) >= 3 and write[0] == task_id and write[1] == _CHANNEL:
                value = write[2]
                if isinstance(value, dict):
                    return value
        return None

    async def alookup(self, config: RunnableConfig | None, key: CallKey) -> dict[str, Any] | None:
        """The record of ``key``: memory first, then the checkpoint when the run resumes."""
        found = self._recall(key)
        if found is not None or not self._resuming(config):
            return found
        target = _checkpoint_config(config)
        if target is None:
            return None
        saver, checkpoint = target
        stored = await saver.aget_tuple(checkpoint)
        found = self._from_writes(getattr(stored, "pending_writes", None), key)
        if found is not None:
            self._remember(key, found)
        return found

    def lookup(self, config: RunnableConfig | None, key: CallKey) -> dict[str, Any] | None:
        """Sync twin of :meth:`alookup`."""
        found = self._recall(key)
        if found is not None or not self._resuming(config):
            return found
        target = _checkpoint_config(config)
        if target is None:
            return None
        saver, checkpoint = target
        stored = saver.get_tuple(checkpoint)
        found = self._from_writes(getattr(stored, "pending_writes", None), key)
        if found is not None:
            self._remember(key, found)
        return found

    async def arecord(
        self, config: RunnableConfig | None, key: CallKey, record: dict[str, Any]
    ) -> None:
        """Keep ``record`` in memory and next to the running step's checkpoint."""
        self._remember(key, record)
        target = _checkpoint_config(config)
        if target is not None:
            saver, checkpoint = target
            await saver.aput_writes(checkpoint, [(_CHANNEL, record)], _task_id(key))

    def record(self, config: RunnableConfig | None, key: CallKey, record: dict[str, Any]) -> None:
        """Sync twin of :meth:`arecord`."""
        self._remember(key, record)
        target = _checkpoint_config(config)
        if target is not None:
            saver, checkpoint = target
            saver.put_writes(checkpoint, [(_CHANNEL, record)], _task_id(key))
