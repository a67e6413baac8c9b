"""Shared helpers of the toolkit integration tests (``test_toolkit*.py``).

A scripted chat model for real LangGraph agents without an LLM, the seed configs, and a few
small builders. Nothing here starts servers: the tests use the ``emulator`` / ``aclient``
fixtures of ``conftest.py``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import PrivateAttr

from scalekit_langchain import (
    AsyncScalekitClient,
    McpConfigConnectionToolMapping,
    ScalekitMCPToolkit,
)
from scalekit_langchain.testing import ScalekitEmulator

USER = "john-doe"
SEED_CONFIG = "email-calendar-assistant"
SEED_MAPPINGS = [
    McpConfigConnectionToolMapping(connection_name="MY_GMAIL", tools=["gmail_fetch_mails"]),
    McpConfigConnectionToolMapping(
        connection_name="MY_CALENDAR", tools=["googlecalendar_create_event"]
    ),
]
#: A config that can also send mail (for the "never sent twice" tests).
MAIL_CONFIG = "mail-assistant"
MAIL_MAPPINGS = [
    McpConfigConnectionToolMapping(
        connection_name="MY_GMAIL", tools=["gmail_fetch_mails", "gmail_send_message"]
    ),
    McpConfigConnectionToolMapping(
        connection_name="MY_CALENDAR", tools=["googlecalendar_create_event"]
    ),
]
SEED_EVENT_IDS = frozenset({"evt_0001", "evt_0002"})

Step = AIMessage | Callable[[Sequence[BaseMessage]], AIMessage]


class ScriptedChatModel(BaseChatModel):
    """A chat model that plays a fixed script: each turn returns the next step.

    A step is an ``AIMessage`` (with ``tool_calls`` or a final text) or a callable that builds
    one from the conversation so far (to use what a tool returned). ``bind_tools`` returns the
    model itself, so ``create_agent`` accepts it.
    """

    steps: list[Any]
    _turn: int = PrivateAttr(default=0)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _seen: list[list[BaseMessage]] = PrivateAttr(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    @property
    def turns(self) -> int:
        return self._turn

    @property
    def seen(self) -> list[list[BaseMessage]]:
        """The messages the model was given, per turn."""
        return self._seen

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChatModel:  # type: ignore[override]
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with self._lock:
            if self._turn >= len(self.steps):
                raise AssertionError(f"the script has only {len(self.steps)} turns")
            step = self.steps[self._turn]
            self._turn += 1
            self._seen.append(list(messages))
        message = step(messages) if callable(step) else step
        return ChatResult(generations=[ChatGeneration(message=message)])


def tool_call(name: str, args: dict[str, Any], call_id: str) -> AIMessage:
    """An AI turn calling one tool."""
    return AIMessage(
        content="", tool_calls=[{"name": name, "args": args, "id": call_id, "type": "tool_call"}]
    )


def make_agent(model: BaseChatModel, tools: Sequence[Any], **kwargs: Any) -> Any:
    """``langchain.agents.create_agent`` with the given model and tools."""
    from langchain.agents import create_agent

    return create_agent(model, list(tools), **kwargs)


def tool_messages(messages: Sequence[BaseMessage]) -> list[ToolMessage]:
    return [m for m in messages if isinstance(m, ToolMessage)]


def rfc3339(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_dt(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def reminder_in_15_minutes(messages: Sequence[BaseMessage]) -> AIMessage:
    """The seed story's second turn: a 15-minute reminder, 15 minutes from now, about the
    latest mail (read from the previous tool result, as a model would)."""
    fetched = tool_messages(messages)[-1]
    assert isinstance(fetched.artifact, dict), fetched
    latest = fetched.artifact["structured_content"]["messages"][0]
    start = utcnow() + timedelta(minutes=15)
    return tool_call(
        "googlecalendar_create_event",
        {
            "summary": f"Reminder: {latest['subject']}",
            "start_datetime": rfc3339(start),
            "event_duration_minutes": 15,
            "description": f"From the mail {latest['id']} by {latest['from']}",
        },
        "call_create",
    )


def new_events(emu: ScalekitEmulator, user: str = USER) -> list[dict[str, Any]]:
    return [e for e in emu.user_data(user).events if e["id"] not in SEED_EVENT_IDS]


def authorize_all(emu: ScalekitEmulator, user: str = USER) -> None:
    emu.authorize(user, "MY_GMAIL")
    emu.authorize(user, "MY_CALENDAR")


def seed_toolkit(client: AsyncScalekitClient | None, **kwargs: Any) -> ScalekitMCPToolkit:
    """The seed story's toolkit (creates the config when missing)."""
    options: dict[str, Any] = {
        "config_name": SEED_CONFIG,
        "user_identifier": USER,
        "connection_tool_mappings": SEED_MAPPINGS,
        "description": "Reads mail and schedules reminders",
    }
    options.update(kwargs)
    return ScalekitMCPToolkit(client=client, **options)


def mail_toolkit(client: AsyncScalekitClient | None, **kwargs: Any) -> ScalekitMCPToolkit:
    """A toolkit whose config also has ``gmail_send_message``."""
    options: dict[str, Any] = {
        "config_name": MAIL_CONFIG,
        "user_identifier": USER,
        "connection_tool_mappings": MAIL_MAPPINGS,
    }
    options.update(kwargs)
    return ScalekitMCPToolkit(client=client, **options)


def by_name(tools: Sequence[Any]) -> dict[str, Any]:
    return {t.name: t for t in tools}


def mail(subject: str) -> dict[str, Any]:
    """Arguments of ``gmail_send_message``."""
    return {"to": "finance@acme.example", "subject": subject, "body": f"Body of {subject}"}


async def session_loop_tasks() -> set[asyncio.Task[Any]]:
    """Unfinished tasks on the library's session loop (run on that loop)."""
    current = asyncio.current_task()
    return {t for t in asyncio.all_tasks() if not t.done() and t is not current}
