"""The emulator's provider registry: which demo tools exist and how to run and render them.

Each tool is a :class:`ProviderTool` whose name and JSON input schema follow Scalekit's
catalogue; its handler acts on one user's in-memory :class:`UserData`. The tools themselves
live in one module per provider (:mod:`~scalekit_langchain.testing._gmail`,
:mod:`~scalekit_langchain.testing._google_calendar`, :mod:`~scalekit_langchain.testing._slack`);
this module gathers them into :data:`PROVIDER_TOOLS` and is the one entry point the rest of
the emulator uses. Nothing here does I/O: the emulator's server decides how to expose the
tools and maps the two exception types to MCP tool errors.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scalekit_langchain.testing import _gmail, _google_calendar, _slack
from scalekit_langchain.testing._tool_inputs import (
    ToolArgumentError,
    ToolExecutionError,
    ToolSpec,
)
from scalekit_langchain.testing._user_data import JSON, UserData

__all__ = [
    "PROVIDER_TOOLS",
    "ProviderTool",
    "ToolArgumentError",
    "ToolExecutionError",
    "UserData",
    "call_tool",
    "render_text",
    "tools_for_provider",
]

_SPECS: list[ToolSpec] = [*_gmail.TOOL_SPECS, *_google_calendar.TOOL_SPECS, *_slack.TOOL_SPECS]
_RENDERERS = (_gmail.render, _google_calendar.render, _slack.render)


@dataclass(frozen=True)
class ProviderTool:
    """One emulated tool.

    Attributes:
        name: Exact Scalekit tool name, e.g. ``"gmail_fetch_mails"``.
        provider: Lowercase connector slug: ``"gmail"``, ``"googlecalendar"`` or ``"slack"``.
        description: What the tool does, written for a language model.
        input_schema: JSON Schema object describing the arguments.
        read_only: True when the tool never changes the user's data.
        handler: Runs the tool on a user's data and returns a JSON-serialisable result.
    """

    name: str
    provider: str
    description: str
    input_schema: JSON
    read_only: bool
    handler: Callable[[UserData, JSON], JSON]


PROVIDER_TOOLS: dict[str, ProviderTool] = {
    name: ProviderTool(name=name, provider=name.split("_", 1)[0], description=description,
                       input_schema=schema, read_only=read_only, handler=handler)
    for name, description, read_only, handler, schema in _SPECS
}


def tools_for_provider(provider: str) -> list[ProviderTool]:
    """Returns the tools of one connector.

    Args:
        provider: Connector slug such as ``"gmail"``; case-insensitive.

    Returns:
        The provider's tools in catalogue order; an empty list for an unknown provider.
    """
    slug = provider.strip().lower()
    return [tool for tool in PROVIDER_TOOLS.values() if tool.provider == slug]


def call_tool(tool_name: str, data: UserData, arguments: dict[str, Any]) -> dict[str, Any]:
    """Runs a tool on one user's data.

    Args:
        tool_name: Exact tool name, e.g. ``"gmail_fetch_mails"``.
        data: The user's store.
        arguments: The tool arguments (``None`` is treated as no arguments).

    Returns:
        The tool's structured, JSON-serialisable result.

    Raises:
        KeyError: The tool does not exist.
        ToolArgumentError: An argument is missing or invalid.
        ToolExecutionError: The tool ran but could not complete.
    """
    tool = PROVIDER_TOOLS.get(tool_name)
    if tool is None:
        raise KeyError(f"unknown tool: {tool_name!r}")
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise ToolArgumentError("tool arguments must be a JSON object")
    return tool.handler(data, arguments)


def render_text(tool_name: str, result: dict[str, Any]) -> str:
    """Renders a tool result as short text for a person or a model.

    Args:
        tool_name: The tool that produced ``result``.
        result: The structured result returned by :func:`call_tool`.

    Returns:
        A few lines of text; JSON for tools this module does not know.
    """
    for render in _RENDERERS:
        text = render(tool_name, result)
        if text is not None:
            return text
    return json.dumps(result, sort_keys=True, default=str)
