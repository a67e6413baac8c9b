"""What an MCP server sends the client besides answers, handled the same on both SDK stacks.

* **Log messages** (``notifications/message``) go to Python logging, on the logger
  ``scalekit_langchain.server``, at the matching level, with credentials redacted.
* **``notifications/tools/list_changed``** marks the tool list stale; the toolkit lists the tools
  again (:meth:`ScalekitMCPToolkit.aget_tools` returns the new list; tools already built get their
  new description and schema in place).
* **Progress** of a tool call goes to LangChain callbacks as the custom event ``mcp_progress``
  and, inside a LangGraph run, to the stream writer (``stream_mode="custom"``), as
  ``{"type": "mcp_progress", "tool", "progress", "total", "message"}``.
* **Sampling** (``sampling/createMessage``) is answered by an optional chat model; without one,
  it is refused.
* **Elicitation** (``elicitation/create``) is answered by an optional handler; without one it is
  declined (a LangGraph run cannot wait for a person in the middle of a tool call; a server that
  refuses a call until the user acts answers with an error, which goes through the
  authorization checks like any refusal).

Every callback reads the SDK's objects through their wire form (camelCase on both majors) and
builds answers from wire dicts, so nothing here depends on the stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import logging
import weakref
from collections.abc import Callable
from typing import Any

from langchain_core.runnables import RunnableConfig
from mcp import types as mcp_types

from scalekit_langchain import _redact

__all__ = ["ElicitationHandler", "ProgressRelay", "SessionHooks", "weak_callback"]

server_logger = logging.getLogger("scalekit_langchain.server")

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "notice": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "alert": logging.CRITICAL,
    "emergency": logging.CRITICAL,
}

#: ``(request) -> {"action": "accept" | "decline" | "cancel", "content"?: {...}}``, sync or
#: async; ``request`` is the elicitation's wire form (``message``, ``mode``, ``url`` or
#: ``requestedSchema``).
ElicitationHandler = Callable[[dict[str, Any]], Any]


def _wire(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        return obj
    dump = getattr(obj, "model_dump", None)
    if dump is None:
        return {}
    value = dump(by_alias=True, mode="json", exclude_none=True)
    return value if isinstance(value, dict) else {}


def _text_of(content: Any) -> str:
    blocks = content if isinstance(content, list) else [content]
    return "\n".join(str(b.get("text", "")) for b in blocks if isinstance(b, dict))


class SessionHooks:
    """The server-to-client callbacks of one MCP session.

    Args:
        label: A non-secret name of the session, for logs.
        on_tools_changed: Called when the server says its tool list changed.
        sampling_model: A LangChain chat model that answers sampling requests.
        elicitation_handler: Answers elicitation requests (see :data:`ElicitationHandler`).
    """

    def __init__(
        self,
        label: str,
        *,
        on_tools_changed: Callable[[], None] | None = None,
        sampling_model: Any | None = None,
        elicitation_handler: ElicitationHandler | None = None,
    ) -> None:
        self.label = label
        self.on_tools_changed = on_tools_changed
        self.sampling_model = sampling_model
        self.elicitation_handler = elicitation_handler

    def session_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for the SDK's ``ClientSession``."""
        kwargs: dict[str, Any] = {
            "logging_callback": self.logging_callback,
            "message_handler": self.message_handler,
        }
        if self.sampling_model is not None:
            kwargs["sampling_callback"] = self.sampling_callback
        kwargs["elicitation_callback"] = self.elicitation_callback
        return kwargs

    async def logging_callback(self, params: Any) -> None:
        """A server log message, to Python logging."""
        wire = _wire(params)
        level = _LEVELS.get(str(wire.get("level", "info")).lower(), logging.INFO)
        source = wire.get("logger")
        data = _redact.redact(str(wire.get("data", "")))
        server_logger.log(level, "%s%s: %s", self.label, f" [{source}]" if source else "", data)

    async def message_handler(self, message: Any) -> None:
        """Server notifications (and transport errors the SDK surfaces)."""
        if isinstance(message, Exception):
            server_logger.debug("%s: transport error %s", self.label, type(message).__name__)
            return
        method = getattr(getattr(message, "root", message), "method", None)
        if method == "notifications/tools/list_changed" and self.on_tools_changed is not None:
            self.on_tools_changed()
        await asyncio.sleep(0)

    async def sampling_callback(self, context: Any, params: Any) -> Any:
        """Answer ``sampling/createMessage`` with the configured chat model."""
        if self.sampling_model is None:
            return mcp_types.ErrorData(code=-32600, message="Sampling is not supported")
        wire = _wire(params)
        messages: list[tuple[str, str]] = []
        if wire.get("systemPrompt"):
            messages.append(("system", str(wire["systemPrompt"])))
        for message in wire.get("messages") or []:
            role = "ai" if message.get("role") == "assistant" else "human"
            messages.append((role, _text_of(message.get("content"))))
        try:
            reply = await self.sampling_model.ainvoke(messages)
        except Exception as exc:  # the server gets an error answer, not our traceback
            failure = f"Sampling failed: {type(exc).__name__}"
            return mcp_types.ErrorData(code=-32603, message=failure)
        text = getattr(reply, "text", None)  # a property on LangChain 1.x messages
        model = getattr(self.sampling_model, "model_name", None) or getattr(
            self.sampling_model, "model", None
        )
        return mcp_types.CreateMessageResult.model_validate(
            {
                "role": "assistant",
                "content": {"type": "text", "text": str(text if text is not None else reply)},
                "model": str(model or type(self.sampling_model).__name__),
                "stopReason": "endTurn",
            }
        )

    async def elicitation_callback(self, context: Any, params: Any) -> Any:
        """Answer ``elicitation/create`` with the handler, or decline."""
        request = _wire(params)
        answer: Any = {"action": "decline"}
        if self.elicitation_handler is not None:
            answer = self.elicitation_handler(request)
            if inspect.isawaitable(answer):
                answer = await answer
        else:
            server_logger.info(
                "%s: declined an elicitation (%s): no elicitation_handler configured",
                self.label,
                request.get("mode", "form"),
            )
        actions = ("accept", "decline", "cancel")
        if not isinstance(answer, dict) or answer.get("action") not in actions:
            answer = {"action": "decline"}
        return mcp_types.ElicitResult.model_validate(answer)


class ProgressRelay:
    """Forwards one call's progress notifications from the session's loop to the caller.

    Created in the caller's context (where the run's callbacks and LangGraph's stream writer
    live); its :meth:`callback` runs on the session's loop and hands each update back.

    Args:
        tool: The tool's name.
        config: The run's config (its callbacks receive ``mcp_progress`` events).
    """

    def __init__(self, tool: str, config: RunnableConfig | None) -> None:
        self.tool = tool
        self.updates = 0
        self._given = config
        # Where updates go (the run's callbacks, LangGraph's stream writer) is read from the
        # caller's context: captured here, which is cheap, and looked up on the first update
        # (most calls have none; the look-up cost every call ~10 us).
        self._context = contextvars.copy_context()
        self._targets: tuple[RunnableConfig | None, Callable[[Any], None] | None] | None = None
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None

    def _find_targets(self) -> tuple[RunnableConfig | None, Callable[[Any], None] | None]:
        # Inside the tool's run, LangChain keeps the run's child config (whose callbacks know
        # the tool run as their parent) in a context variable; events must hang off that run.
        from langchain_core.runnables.config import var_child_runnable_config

        writer: Callable[[Any], None] | None = None
        with contextlib.suppress(Exception):  # outside a graph there is no stream writer
            from langgraph.config import get_stream_writer

            writer = get_stream_writer()
        return var_child_runnable_config.get() or self._given, writer

    def _deliver(self, payload: dict[str, Any]) -> None:
        self.updates += 1
        if self._targets is None:
            self._targets = self._context.run(self._find_targets)
        config, writer = self._targets
        if writer is not None:
            with contextlib.suppress(Exception):
                writer(payload)
        if config is not None:
            from langchain_core.callbacks import dispatch_custom_event

            with contextlib.suppress(Exception):
                dispatch_custom_event("mcp_progress", payload, config=config)

    async def callback(self, progress: float, total: float | None, message: str | None) -> None:
        """The SDK's progress callback (on the session loop)."""
        payload = {
            "type": "mcp_progress",
            "tool": self.tool,
            "progress": progress,
            "total": total,
            "message": _redact.redact(message) if message else message,
        }
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._deliver, payload)
        else:
            self._deliver(payload)


def weak_callback(callback: Callable[[], None] | None) -> Callable[[], None] | None:
    """``callback`` (a bound method) held weakly: calling it after its object died is a no-op
    (live sessions and caches must not keep a toolkit alive)."""
    if callback is None or not hasattr(callback, "__self__"):
        return callback
    ref = weakref.WeakMethod(callback)

    def call() -> None:
        method = ref()
        if method is not None:
            method()

    return call
