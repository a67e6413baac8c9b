"""The agent the LangGraph server serves (``langgraph.json`` → ``make_graph``).

One toolkit for every user (no ``user_identifier``): each run acts for the server's
authenticated user (``auth.py``), which ``AuthorizationMiddleware`` and the tools read from
``runtime.server_info.user``. The server brings the checkpointer (in memory under ``langgraph
dev``, Postgres on LangGraph Platform), so a paused run resumes wherever it is picked up.

    cd examples/langgraph_server && langgraph dev --no-browser     # offline: see below

``SCALEKIT_ENV_URL`` / ``SCALEKIT_CLIENT_ID`` / ``SCALEKIT_CLIENT_SECRET`` name the Scalekit
environment (or a local emulator: ``scalekit-langchain emulator``); ``AGENT_MODEL`` a real model
(``provider:name``), else the scripted offline model.
"""

from __future__ import annotations

import os
from typing import Any

from langchain.agents import create_agent
from langchain_core.runnables import RunnableConfig

from scalekit_langchain import AuthorizationMiddleware, ScalekitMCPToolkit
from scalekit_langchain.langgraph import run_user

toolkit = ScalekitMCPToolkit(
    config_name="email-calendar-assistant",
    connection_tool_mappings=[
        {"connection_name": "MY_GMAIL", "tools": ["gmail_fetch_mails"]},
        {"connection_name": "MY_CALENDAR", "tools": ["googlecalendar_create_event"]},
    ],
)


def _model() -> Any:
    if name := os.environ.get("AGENT_MODEL"):
        from langchain.chat_models import init_chat_model

        return init_chat_model(name)
    from scalekit_langchain.testing.scripted import ScriptedReminderModel

    return ScriptedReminderModel()


async def make_graph(config: RunnableConfig) -> Any:
    """Called by the server for each run (and to read the graph's schema, without a user)."""
    # Every user of a config sees the same tools; the first caller's session lists them.
    user = run_user(config) or os.environ.get("SCALEKIT_DISCOVERY_USER", "langgraph-server")
    tools = await toolkit.aget_tools(user_identifier=str(user))
    return create_agent(_model(), tools, middleware=[AuthorizationMiddleware(toolkit)])
