"""The agent the LangGraph server serves (``langgraph.json`` → ``make_graph``).

One toolkit for every user (no ``user_identifier``): each run acts for the server's
authenticated user (``auth.py``), which ``AuthorizationMiddleware`` and the tools read from
``runtime.server_info.user``. The server brings the checkpointer (in memory under ``langgraph
dev``, Postgres on LangGraph Platform), so a paused run resumes wherever it is picked up.

    cd examples/langgraph_server && langgraph dev --no-browser

``SCALEKIT_ENV_URL`` / ``SCALEKIT_CLIENT_ID`` / ``SCALEKIT_CLIENT_SECRET`` name the Scalekit
environment, or a local emulator (``scalekit-langchain emulator`` prints them); ``AGENT_MODEL``
a real model (``provider:name``), else the scripted offline model.
"""

from __future__ import annotations

import os
from typing import Any

from langchain.agents import create_agent
from langchain_core.runnables import RunnableConfig

from scalekit_langchain import AuthorizationMiddleware, ScalekitMCPToolkit
from scalekit_langchain.langgraph import run_user
from scalekit_langchain.testing.scripted import ScriptedReminderModel

toolkit = ScalekitMCPToolkit(  # one toolkit for every user: each run acts for its own
    config_name="email-calendar-assistant",
    connection_tool_mappings=[
        {"connection_name": "MY_GMAIL", "tools": ["gmail_fetch_mails"]},
        {"connection_name": "MY_CALENDAR", "tools": ["googlecalendar_create_event"]},
    ],
)


async def make_graph(config: RunnableConfig) -> Any:
    """Called by the server for each run (and, without a user, to read the graph's schema)."""
    # Every user of a config sees the same tools; the first caller's session lists them.
    user = run_user(config) or os.environ.get("SCALEKIT_DISCOVERY_USER", "langgraph-server")
    return create_agent(
        os.environ.get("AGENT_MODEL") or ScriptedReminderModel(),  # AGENT_MODEL="provider:name"
        await toolkit.aget_tools(user_identifier=str(user)),
        middleware=[AuthorizationMiddleware(toolkit)],  # the user: the server's authenticated one
    )  # no checkpointer: the server brings its own
