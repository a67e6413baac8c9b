"""``create_agent`` with ``AuthorizationMiddleware``: one pause for every pending connection.

Ana has authorized neither Gmail nor Calendar. Before the model runs, the middleware pauses the
run once, listing both connections with their links (they go to the app, never to the model).
She authorizes Gmail only; resuming checks again and pauses with what is left (Calendar, with a
fresh link). Once both are ACTIVE the run continues: the model reads her latest email and books
a reminder.

    python examples/middleware_agent.py
"""

from __future__ import annotations

import asyncio

from _offline import scalekit_environment
from langchain.agents import create_agent
from langgraph.checkpoint.memory import InMemorySaver

from scalekit_langchain import (
    AUTHORIZATION_INTERRUPT_TYPE,
    AuthorizationMiddleware,
    ScalekitMCPToolkit,
    resume_authorization,
)
from scalekit_langchain.testing.scripted import ScriptedReminderModel

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
            agent = create_agent(
                ScriptedReminderModel(),  # or "openai:gpt-4.1-mini" (needs langchain-openai)
                await toolkit.aget_tools(),
                middleware=[AuthorizationMiddleware(toolkit)],
                checkpointer=InMemorySaver(),  # a pause needs one to resume from
            )
            run = {"configurable": {"thread_id": "ana-1"}}
            request = {"messages": [("user", "Remind me about my latest email in 15 minutes.")]}

            result = await agent.ainvoke(request, run)
            pauses = 0
            while "__interrupt__" in result:
                pauses += 1
                for pause in result["__interrupt__"]:
                    payload = pause.value
                    assert payload["type"] == AUTHORIZATION_INTERRUPT_TYPE
                    print(f"Pause {pauses}: {payload['user_identifier']} must authorize:")
                    for conn in payload["connections"]:
                        print(f"  {conn['connection_name']} ({conn['status']}): "
                              f"{conn['authentication_link']}")
                if emulator is None:
                    await toolkit.await_authorization(timeout=300)  # polls Scalekit
                else:  # offline, the emulator plays the user: Gmail now, Calendar next pause
                    first = result["__interrupt__"][0].value["connections"][0]
                    emulator.authorize(USER, first["connection_name"])
                result = await agent.ainvoke(resume_authorization(result), run)

            print(f"Resumed after {pauses} pause(s).")
            print(result["messages"][-1].text)


if __name__ == "__main__":
    asyncio.run(main())
