"""The tool calls of one model turn, so that one pause for authorization names what all need.

LangGraph runs the calls of one AI message in different ways: all in one task (a ``ToolNode`` in
a custom ``StateGraph``, ``create_react_agent`` v1), one task each (``create_agent``,
``create_react_agent`` v2, any ``Send``), or one ``@task`` each (the functional API). When a call
pauses because its connection is not ACTIVE, the pause must list every connection that the
turn's calls need: in one task only the first interrupt gets out, and the functional API shows
only the interrupt of the future it awaited first, so a pause that named only its own call's
connection would ask the user again for the next one after the resume.

Two sources say which calls make the turn:

* the graph state (:func:`turn_tool_names`): the AI message holding the call's id lists its
  siblings, exactly, whatever their timing. Every shape whose state keeps the conversation in
  ``messages`` (``ToolNode``, ``create_agent``, ``create_react_agent``, ``MessagesState``);
* the calls of the same step running now (:class:`TurnRegistry`), for shapes whose state does not
  hold the message (the functional API, a loop of your own): siblings started together (futures
  created before the first is awaited) have entered the registry long before a sibling's
  auth-state request has come back.

Only names are kept here: which connections a tool needs is the config's business
(:class:`~scalekit_langchain._connection_auth.ConnectionMap`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_core.runnables import RunnableConfig

__all__ = ["StepKey", "TurnRegistry", "step_key", "turn_tool_names"]

#: (thread_id, namespace of the parent graph, checkpoint the step started from).
StepKey = tuple[str, str, str]

#: LangGraph puts a reader of the running step's channels here (its own ``ToolNode`` reads the
#: state through it when a ``Send`` carries only the tool calls).
_READ_KEY = "__pregel_read"
_MESSAGES = "messages"


def _configurable(config: RunnableConfig | None) -> Mapping[str, Any]:
    return (config or {}).get("configurable") or {}


def step_key(config: RunnableConfig | None) -> StepKey | None:
    """The step of a graph run a call belongs to, or ``None`` outside a graph.

    Tasks of one step share the parent namespace (``""`` for the root graph) and the checkpoint
    the step started from; sibling calls of a turn run in one step.
    """
    configurable = _configurable(config)
    namespace = configurable.get("checkpoint_ns")
    if not isinstance(namespace, str) or not namespace:
        return None
    parent = namespace.rpartition("|")[0]
    checkpoints = configurable.get("checkpoint_map")
    started = checkpoints.get(parent) if isinstance(checkpoints, Mapping) else None
    return (str(configurable.get("thread_id") or ""), parent, str(started or ""))


def _tool_calls(message: Any) -> list[Any]:
    calls = message.get("tool_calls") if isinstance(message, Mapping) else None
    if calls is None:
        calls = getattr(message, "tool_calls", None)
    return list(calls) if isinstance(calls, (list, tuple)) else []


def _field(call: Any, name: str) -> Any:
    return call.get(name) if isinstance(call, Mapping) else getattr(call, name, None)


def turn_tool_names(config: RunnableConfig | None, tool_call_id: str | None) -> list[str]:
    """The tool names of the AI message that holds ``tool_call_id``, from the graph's
    ``messages`` (in the model's order); ``[]`` when the state does not hold it."""
    read = _configurable(config).get(_READ_KEY)
    if not tool_call_id or not callable(read):
        return []
    try:
        messages = read(_MESSAGES, False)
    except Exception:  # no "messages" channel: this graph keeps its conversation elsewhere
        return []
    if not isinstance(messages, (list, tuple)):
        return []
    for message in reversed(messages):
        calls = _tool_calls(message)
        if any(_field(call, "id") == tool_call_id for call in calls):
            return [str(_field(call, "name")) for call in calls if _field(call, "name")]
    return []


@dataclass
class _Step:
    running: int = 0
    tools: dict[str, None] = field(default_factory=dict)  # insertion-ordered set


class TurnRegistry:
    """The tools called in each graph step that has calls running (thread-safe).

    A step is kept while any of its calls runs, with every tool called in it meanwhile (a call
    that already paused still counts for a sibling that pauses after it), and dropped when its
    last call ends, so nothing outlives the step.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._steps: dict[StepKey, _Step] = {}

    def enter(self, step: StepKey, tool: str) -> None:
        """A call of ``tool`` starts in ``step``."""
        with self._lock:
            entry = self._steps.setdefault(step, _Step())
            entry.running += 1
            entry.tools[tool] = None

    def leave(self, step: StepKey) -> None:
        """A call of ``step`` ended (answered, failed or paused)."""
        with self._lock:
            entry = self._steps.get(step)
            if entry is None:
                return
            entry.running -= 1
            if entry.running <= 0:
                del self._steps[step]

    def tools(self, step: StepKey) -> list[str]:
        """The tools called in ``step`` while it has had calls running."""
        with self._lock:
            entry = self._steps.get(step)
            return list(entry.tools) if entry is not None else []

    def __len__(self) -> int:
        with self._lock:
            return len(self._steps)
