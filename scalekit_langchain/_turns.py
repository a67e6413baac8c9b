"""The tool calls of one model turn, so that one pause for authorization names what all need.

LangGraph runs the calls of one AI message in different ways: all in one task (a ``ToolNode`` in
a custom ``StateGraph``, ``create_react_agent`` v1), one task each (``create_agent``,
``create_react_agent`` v2, any ``Send``), or one ``@task`` each (the functional API). When a call
pauses because its connection is not ACTIVE, the pause must list every connection that the
turn's calls need: in one task only the first interrupt gets out, and the functional API shows
only the interrupt of the future it awaited first, so a pause that named only its own call's
connection would ask the user again for the next one after the resume.

The graph state says which calls make the turn: the AI message holding the call's id lists its
siblings, exactly, whatever their timing (:func:`turn_tool_names`). That covers every shape whose
state keeps the conversation in ``messages`` (``ToolNode``, ``create_agent``,
``create_react_agent``, ``MessagesState``). Where the state does not hold the message (the
functional API, a loop of your own) the turn cannot be known before its siblings start, which
is a matter of timing; the caller then lists every connection of the config that is not ACTIVE,
as :func:`~scalekit_langchain.langgraph.authorization_gate` does: one pause, perhaps for more
than the turn needs, never a second one.

Only names are read here: which connections a tool needs is the config's business
(:class:`~scalekit_langchain._connection_auth.ConnectionMap`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig

__all__ = ["turn_tool_names"]

#: LangGraph puts a reader of the running step's channels here (its own ``ToolNode`` reads the
#: state through it when a ``Send`` carries only the tool calls).
_READ_KEY = "__pregel_read"
_MESSAGES = "messages"


def _configurable(config: RunnableConfig | None) -> Mapping[str, Any]:
    return (config or {}).get("configurable") or {}


def _tool_calls(message: Any) -> list[Any]:
    calls = message.get("tool_calls") if isinstance(message, Mapping) else None
    if calls is None:
        calls = getattr(message, "tool_calls", None)
    return list(calls) if isinstance(calls, (list, tuple)) else []


def _field(call: Any, name: str) -> Any:
    return call.get(name) if isinstance(call, Mapping) else getattr(call, name, None)


def turn_tool_names(config: RunnableConfig | None, tool_call_id: str) -> list[str] | None:
    """The tool names of the AI message that holds ``tool_call_id``, from the graph's
    ``messages`` (in the model's order); ``None`` when the state does not hold it."""
    read = _configurable(config).get(_READ_KEY)
    if not callable(read):
        return None
    try:
        messages = read(_MESSAGES, False)
    except Exception:  # no "messages" channel: this graph keeps its conversation elsewhere
        return None
    if not isinstance(messages, (list, tuple)):
        return None
    for message in reversed(messages):
        calls = _tool_calls(message)
        if any(_field(call, "id") == tool_call_id for call in calls):
            return [str(_field(call, "name")) for call in calls if _field(call, "name")]
    return None
