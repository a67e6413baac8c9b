"""LangChain's standard tool test suites, run on real toolkit tools against the emulator.

``langchain_tests`` builds the tool from ``tool_constructor``; here that is the tool a
``ScalekitMCPToolkit`` built on an emulator started once for this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from langchain_core.tools import BaseTool
from langchain_tests.integration_tests import ToolsIntegrationTests
from langchain_tests.unit_tests import ToolsUnitTests

from scalekit_langchain import AsyncScalekitClient, ScalekitMCPToolkit, _session_loop
from scalekit_langchain.testing import ScalekitEmulator

USER = "standard-user"
_TOOLS: dict[str, BaseTool] = {}


@pytest.fixture(scope="module", autouse=True)
def _toolkit_tools() -> Iterator[None]:
    with ScalekitEmulator() as emu:
        emu.authorize(USER, "MY_GMAIL")
        emu.authorize(USER, "MY_CALENDAR")
        client = AsyncScalekitClient(emu.env_url, emu.client_id, emu.client_secret)
        toolkit = ScalekitMCPToolkit(
            client=client,
            config_name="standard-assistant",
            user_identifier=USER,
            connection_tool_mappings=[
                {"connection_name": "MY_GMAIL", "tools": ["gmail_fetch_mails"]},
                {"connection_name": "MY_CALENDAR", "tools": ["googlecalendar_create_event"]},
            ],
            call_timeout=10.0,
        )
        try:
            with toolkit:
                _TOOLS.update({t.name: t for t in toolkit.get_tools()})
                yield
        finally:
            _TOOLS.clear()
            _session_loop.run_sync(client.aclose())


def _event_args() -> dict[str, Any]:
    start = datetime.now(timezone.utc) + timedelta(minutes=15)
    return {
        "summary": "Reminder: standard tests",
        "start_datetime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "event_duration_minutes": 15,
    }


class _FetchMails:
    @property
    def tool_constructor(self) -> BaseTool:
        return _TOOLS["gmail_fetch_mails"]

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"max_results": 2, "query": "is:unread"}


class _CreateEvent:
    @property
    def tool_constructor(self) -> BaseTool:
        return _TOOLS["googlecalendar_create_event"]

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return _event_args()


class TestFetchMailsUnit(_FetchMails, ToolsUnitTests):
    pass


class TestFetchMailsIntegration(_FetchMails, ToolsIntegrationTests):
    pass


class TestCreateEventUnit(_CreateEvent, ToolsUnitTests):
    pass


class TestCreateEventIntegration(_CreateEvent, ToolsIntegrationTests):
    pass
