"""Your own ``StateGraph``: authorization gate, model node, ``ToolNode``, ``tools_condition``.

When you build the graph yourself instead of using ``create_agent``, put
``authorization_gate(toolkit)`` first: it checks every connection of the config for the run's user
and pauses once, listing all that are pending. Resuming with ``resume_authorization(result)``
checks again. Tools still pause by themselves if an account expires later in the run, and a
resumed ``ToolNode`` never sends a call twice.

    python examples/custom_graph.py
"""

from __future__ import annotations

import asyncio
from typing import Any

from _offline import scalekit_environment
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition

from scalekit_langchain import ScalekitMCPToolkit, authorization_gate, resume_authorization
from scalekit_langchain.testing.scripted import ScriptedReminderModel

USER = "raj-patel"


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
            tools = await toolkit.aget_tools()
            model = ScriptedReminderModel().bind_tools(tools)  # any chat model with bind_tools

            async def agent(state: MessagesState) -> dict[str, Any]:
                return {"messages": [await model.ainvoke(state["messages"])]}

            builder = StateGraph(MessagesState)
            builder.add_node("authorize", authorization_gate(toolkit))
            builder.add_node("agent", agent)
            builder.add_node("tools", ToolNode(tools))
            builder.add_edge(START, "authorize")
            builder.add_edge("authorize", "agent")
            builder.add_conditional_edges("agent", tools_condition)  # tools, or the end
            builder.add_edge("tools", "agent")
            graph = builder.compile(checkpointer=InMemorySaver())

            run = {"configurable": {"thread_id": "raj-1"}}
            result = await graph.ainvoke(
                {"messages": [("user", "Remind me about my latest email.")]}, run
            )
            while "__interrupt__" in result:
                for pause in result["__interrupt__"]:
                    names = [c["connection_name"] for c in pause.value["connections"]]
                    print(f"Paused before the model: {USER} must authorize {', '.join(names)}")
                    if emulator is None:
                        for conn in pause.value["connections"]:
                            print(f"  {conn['connection_name']}: {conn['authentication_link']}")
                        await toolkit.await_authorization(timeout=300)  # polls Scalekit
                    else:  # offline, the emulator plays the user opening every link
                        for name in names:
                            emulator.authorize(USER, name)
                result = await graph.ainvoke(resume_authorization(result), run)

            calls = [c["name"] for m in result["messages"] for c in getattr(m, "tool_calls", [])]
            print("tool calls:", calls)
            print(result["messages"][-1].text)


if __name__ == "__main__":
    asyncio.run(main())
