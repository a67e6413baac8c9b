"""The same toolkit from plain synchronous code: no event loop of your own needed.

First the tools on their own, called from several threads over one MCP session; then a sync
``create_agent`` run with ``AuthorizationMiddleware``, paused and resumed with ``agent.invoke``.

    python examples/sync_usage.py
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from _offline import scalekit_environment
from langchain.agents import create_agent
from langgraph.checkpoint.memory import InMemorySaver

from scalekit_langchain import AuthorizationMiddleware, ScalekitMCPToolkit, resume_authorization
from scalekit_langchain.testing import ScalekitEmulator
from scalekit_langchain.testing.scripted import ScriptedReminderModel


def tools_from_threads(emulator: ScalekitEmulator | None) -> None:
    user = "jane-roe"
    with ScalekitMCPToolkit(
        config_name="sync-example",
        user_identifier=user,
        connection_tool_mappings=[{"connection_name": "MY_GMAIL", "tools": []}],  # all Gmail tools
        tools=["gmail_fetch_mails", "gmail_get_message_by_id"],  # ...but expose only these
    ) as toolkit:
        if emulator is not None:
            emulator.authorize(user, "MY_GMAIL")
        toolkit.ensure_authorized()  # raises AuthorizationRequired (with links) otherwise

        fetch, get_by_id = toolkit.get_tools()
        listing = fetch.invoke({"max_results": 3})
        print(listing)

        # Sync calls from many threads share the user's one MCP session.
        ids = ["msg_0005", "msg_0004", "msg_0003"] if emulator is not None else []
        with ThreadPoolExecutor(max_workers=3) as pool:
            for text in pool.map(lambda i: get_by_id.invoke({"message_id": i}), ids):
                print(text.splitlines()[0])


def sync_agent(emulator: ScalekitEmulator | None) -> None:
    user = "sam-ng"
    with ScalekitMCPToolkit(
        config_name="email-calendar-assistant",
        user_identifier=user,
        connection_tool_mappings=[
            {"connection_name": "MY_GMAIL", "tools": ["gmail_fetch_mails"]},
            {"connection_name": "MY_CALENDAR", "tools": ["googlecalendar_create_event"]},
        ],
    ) as toolkit:
        agent = create_agent(
            ScriptedReminderModel(),
            toolkit.get_tools(),
            middleware=[AuthorizationMiddleware(toolkit)],
            checkpointer=InMemorySaver(),
        )
        run = {"configurable": {"thread_id": "sam-1"}}
        result = agent.invoke({"messages": [("user", "Remind me about my latest email.")]}, run)
        while "__interrupt__" in result:
            for pause in result["__interrupt__"]:
                for conn in pause.value["connections"]:
                    print(f"{user} must authorize {conn['connection_name']}: "
                          f"{conn['authentication_link']}")
                    if emulator is not None:  # offline, the emulator plays the user
                        emulator.authorize(user, conn["connection_name"])
            toolkit.wait_for_authorization(timeout=300)  # polls Scalekit until all are ACTIVE
            result = agent.invoke(resume_authorization(result), run)
        print(result["messages"][-1].text)


def main() -> None:
    with scalekit_environment() as emulator:
        tools_from_threads(emulator)
        sync_agent(emulator)


if __name__ == "__main__":
    main()
