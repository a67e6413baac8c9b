"""A LangGraph agent with a checkpointer that pauses for authorization and resumes.

The user has not authorized Gmail and Calendar yet. The first tool call interrupts the run with
the authentication links (they go to the app, never to the model); once the user authorized,
``Command(resume=...)`` continues the same call from the checkpoint.

    python examples/langgraph_agent.py
"""

from __future__ import annotations

import asyncio
import warnings

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.prebuilt import create_react_agent
from langgraph.types import Command

from scalekit_langchain import AUTHORIZATION_INTERRUPT_TYPE, ScalekitMCPToolkit
from scalekit_langchain.testing.scripted import ScriptedReminderModel
from _offline import scalekit_environment

warnings.filterwarnings("ignore", message="create_react_agent has been moved")

USER = "ana-lee"


async def main() -> None:
    with scalekit_environment() as emulator:
        async with ScalekitMCPToolkit(
            config_name="email-calendar-assistant",
            user_identifier=USER,
            connection_tool_mappings=[
                {"connection_name": "MY_GMAIL", "tools": ["gmail_fetch_mails"]},
                {"connection_name": "MY_CALENDAR", "tools": ["googlecalendar_create_event"]},
            ],
        ) as toolkit:
            agent = create_react_agent(
                ScriptedReminderModel(), await toolkit.aget_tools(), checkpointer=InMemorySaver()
            )
            run = {"configurable": {"thread_id": "ana-1"}}
            request = {"messages": [("user", "Remind me about my latest email in 15 minutes.")]}

            result = await agent.ainvoke(request, run)
            while "__interrupt__" in result:
                payload = result["__interrupt__"][0].value
                assert payload["type"] == AUTHORIZATION_INTERRUPT_TYPE
                print(f"Paused: {payload['user_identifier']} must authorize:")
                for conn in payload["connections"]:
                    print(f"  {conn['connection_name']} ({conn['status']}): {conn['authentication_link']}")
                if emulator is not None:  # offline, the emulator plays the user opening the links
                    for conn in payload["connections"]:
                        emulator.authorize(USER, conn["connection_name"])
                else:
                    input("Authorize in your browser, then press Enter... ")
                result = await agent.ainvoke(Command(resume="authorized"), run)

            print(result["messages"][-1].text)


if __name__ == "__main__":
    asyncio.run(main())
