"""Quickstart: an agent that reads John's latest email and adds a calendar reminder about it.

Runs offline against the local Scalekit emulator unless SCALEKIT_ENV_URL, SCALEKIT_CLIENT_ID and
SCALEKIT_CLIENT_SECRET are set. Uses a scripted offline model unless you name a real one:

    python examples/quickstart.py                       # offline
    python examples/quickstart.py openai:gpt-4.1-mini    # needs langchain-openai and OPENAI_API_KEY
"""

from __future__ import annotations

import asyncio
import sys

from _offline import chat_model, scalekit_environment
from langchain.agents import create_agent

from scalekit_langchain import ScalekitMCPToolkit
from scalekit_langchain.testing.scripted import ScriptedReminderModel

USER = "john-doe"
MAPPINGS = [
    {"connection_name": "MY_GMAIL", "tools": ["gmail_fetch_mails"]},
    {"connection_name": "MY_CALENDAR", "tools": ["googlecalendar_create_event"]},
]
TASK = (
    "Read my latest email and create a calendar reminder about it starting 15 minutes from now, "
    "lasting 15 minutes."
)


async def main(model_name: str | None = None) -> None:
    # The model first: a missing package or key is one line, before anything else runs.
    model = chat_model(model_name) if model_name else ScriptedReminderModel()  # offline, no LLM
    with scalekit_environment() as emulator:
        async with ScalekitMCPToolkit(
            config_name="email-calendar-assistant",
            user_identifier=USER,
            connection_tool_mappings=MAPPINGS,  # creates the config if it does not exist
            description="Reads email and creates calendar reminders",
        ) as toolkit:
            # 1. Each connection the user has not authorized yet comes with a link for them.
            for conn in await toolkit.aauth_state(include_links=True):
                link = conn.authentication_link or ""
                print(f"{conn.connection_name:12} {conn.status:13} {link}")

            # 2. The user opens the links. Offline, the emulator plays the user.
            if emulator is not None:
                for conn in toolkit.pending_connections:
                    emulator.authorize(USER, conn.connection_name)
            await toolkit.await_authorization(timeout=300)

            # 3. The tools, and an agent that uses them.
            tools = await toolkit.aget_tools()
            print("tools:", [t.name for t in tools])
            agent = create_agent(model, tools)
            result = await agent.ainvoke({"messages": [("user", TASK)]})
            print(result["messages"][-1].text)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else None))
