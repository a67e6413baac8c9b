"""Runs one step of an agent in its own process, with a SQLite checkpointer (see the test).

    python _resume_worker.py start|resume CHECKPOINT_DB
Prints one JSON line: {"interrupted": bool, "payload": ..., "last": "..."}.
"""

from __future__ import annotations

import asyncio
import json
import sys

from langchain.agents import create_agent
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.types import Command

from scalekit_langchain import ScalekitMCPToolkit
from scalekit_langchain.testing.scripted import ScriptedReminderModel


async def main(step: str, db: str) -> None:
    async with AsyncSqliteSaver.from_conn_string(db) as saver, ScalekitMCPToolkit(
        config_name="email-calendar-assistant",
        user_identifier="proc-user",
        connection_tool_mappings=[
            {"connection_name": "MY_GMAIL", "tools": ["gmail_fetch_mails"]},
            {"connection_name": "MY_CALENDAR", "tools": ["googlecalendar_create_event"]},
        ],
    ) as toolkit:
        agent = create_agent(ScriptedReminderModel(), await toolkit.aget_tools(), checkpointer=saver)
        run = {"configurable": {"thread_id": "cross-process"}}
        if step == "start":
            result = await agent.ainvoke({"messages": [("user", "Remind me in 15 minutes.")]}, run)
        else:
            result = await agent.ainvoke(Command(resume="authorized"), run)
        interrupts = result.get("__interrupt__") or []
        print(
            json.dumps(
                {
                    "interrupted": bool(interrupts),
                    "payload": interrupts[0].value if interrupts else None,
                    "last": result["messages"][-1].text,
                }
            )
        )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
