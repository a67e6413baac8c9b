"""A scripted, offline chat model for demos and tests: no LLM, no network, no API key.

Both models work wherever a tool-calling chat model is expected: ``create_agent`` (which calls
``bind_tools`` before each model call), a model node of your own ``StateGraph`` and
``init_chat_model``-free examples.

:class:`ScriptedReminderModel` plays the seed story's agent deterministically: it asks for the
latest email, then creates a calendar reminder about it starting ``lead_minutes`` from now for
``duration_minutes``, then answers. It reads its own conversation (the tool results), so the
reminder's title really comes from the mail the tool returned.

:class:`ScriptedToolCallModel` replays a fixed list of tool calls, one per turn, then answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from pydantic import Field

__all__ = ["ScriptedReminderModel", "ScriptedToolCallModel"]


class _ToolAwareModel(BaseChatModel):
    bound_tool_names: list[str] = Field(default_factory=list)

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        # create_agent binds the tools on every model call; remember their names so the script
        # can call them by name, whatever prefix the toolkit gave them.
        return self.model_copy(update={"bound_tool_names": [_tool_name(t) for t in tools]})

    def _tool(self, suffix: str) -> str:
        for name in self.bound_tool_names:
            if name == suffix or name.endswith("_" + suffix):
                return name
        raise ValueError(
            f"the scripted model needs a tool named like {suffix!r}; bound: {self.bound_tool_names}"
        )

    @staticmethod
    def _result(message: AIMessage) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=message)])


def _tool_name(tool: dict[str, Any] | type | Callable[..., Any] | BaseTool) -> str:
    if isinstance(tool, BaseTool):
        return tool.name
    if isinstance(tool, dict):  # {"name": ...} or OpenAI's {"type": "function", "function": {...}}
        function = tool.get("function")
        return str(function.get("name") if isinstance(function, dict) else tool.get("name"))
    return str(getattr(tool, "__name__", tool))


class ScriptedReminderModel(_ToolAwareModel):
    """Reads the latest email, creates a reminder event for it, then reports what it did.

    Args:
        lead_minutes: The reminder starts this many minutes after "now".
        duration_minutes: How long the reminder lasts.
        now: Clock (UTC) for reproducible runs; defaults to the real time.
    """

    lead_minutes: int = 15
    duration_minutes: int = 15
    now: Callable[[], datetime] = Field(default=lambda: datetime.now(timezone.utc), exclude=True)

    @property
    def _llm_type(self) -> str:
        return "scripted-reminder (offline, no LLM)"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        tool_messages = [m for m in messages if isinstance(m, ToolMessage)]
        fetch = self._tool("gmail_fetch_mails")
        create = self._tool("googlecalendar_create_event")
        fetched = [m for m in tool_messages if m.name == fetch]
        created = [m for m in tool_messages if m.name == create]
        if not fetched:
            return self._result(
                AIMessage(
                    content="",
                    tool_calls=[{"name": fetch, "args": {"max_results": 1}, "id": "call_fetch_1"}],
                )
            )
        if not created:
            subject = _latest_subject(fetched[-1])
            start = (self.now() + timedelta(minutes=self.lead_minutes)).replace(microsecond=0)
            args = {
                "summary": subject
                if subject.lower().startswith("reminder")
                else f"Reminder: {subject}",
                "start_datetime": start.isoformat().replace("+00:00", "Z"),
                "event_duration_hour": 0,
                "event_duration_minutes": self.duration_minutes,
                "description": f"Created from the email '{subject}'.",
            }
            return self._result(
                AIMessage(
                    content="",
                    tool_calls=[{"name": create, "args": args, "id": "call_create_1"}],
                )
            )
        last = created[-1]
        if last.status == "error":
            return self._result(AIMessage(content=f"I could not create the reminder: {last.text}"))
        return self._result(
            AIMessage(
                content=f"Done. I read your latest email and created a reminder.\n{last.text}"
            )
        )


def _latest_subject(message: ToolMessage) -> str:
    artifact = message.artifact
    if isinstance(artifact, dict) and isinstance(artifact.get("structured_content"), dict):
        artifact = artifact["structured_content"]
    if isinstance(artifact, dict):
        mails = artifact.get("messages") or []
        if mails and isinstance(mails[0], dict) and mails[0].get("subject"):
            return str(mails[0]["subject"])
    text = message.text
    match = re.search(r"subject[\"']?\s*[:=]\s*[\"']?([^\"'\n|]+)", text, re.IGNORECASE)
    if match:
        return match.group(1).strip()
    return "latest email"


class ScriptedToolCallModel(_ToolAwareModel):
    """Replays ``calls`` (``(tool_name_suffix, args)`` pairs), one per turn, then ``final``."""

    calls: list[tuple[str, dict[str, Any]]] = Field(default_factory=list)
    final: str = "Done."

    @property
    def _llm_type(self) -> str:
        return "scripted-tool-calls (offline, no LLM)"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        done = sum(1 for m in messages if isinstance(m, ToolMessage))
        if done < len(self.calls):
            suffix, args = self.calls[done]
            call = {
                "name": self._tool(suffix),
                "args": json.loads(json.dumps(args)),
                "id": f"call_{done + 1}",
            }
            return self._result(AIMessage(content="", tool_calls=[call]))
        return self._result(AIMessage(content=self.final))
