"""One step of the never-twice scenario in its own process, with a SQLite checkpointer.

    python _never_twice_worker.py start|resume CHECKPOINT_DB USER
Credentials come from SCALEKIT_* variables. Prints one JSON line: {"interrupted": bool}.
"""

from __future__ import annotations

import asyncio
import json
import sys

from langchain_core.messages import AIMessage
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from scalekit_langchain import ScalekitMCPToolkit, resume_authorization
from tests.integration._toolkit_support import MAIL_CONFIG, MAIL_MAPPINGS, ScriptedChatModel
from tests.integration.test_never_twice import ASK, EVENT, SEND, _custom_graph


async def main(step: str, db: str, user: str) -> None:
    # The resuming process's model is asked once more, after the tools ran.
    first = [AIMessage(content="", tool_calls=[SEND, EVENT])] if step == "start" else []
    model = ScriptedChatModel(steps=[*first, AIMessage(content="All done.")])
    async with (
        AsyncSqliteSaver.from_conn_string(db) as saver,
        ScalekitMCPToolkit(
            config_name=MAIL_CONFIG, user_identifier=user, connection_tool_mappings=MAIL_MAPPINGS
        ) as toolkit,
    ):
        graph = _custom_graph(model, await toolkit.aget_tools(), saver)
        run = {"configurable": {"thread_id": "cross-process"}}
        if step == "start":
            result = await graph.ainvoke(ASK, run)
        else:
            # A new process: the model would not be asked again before the tools node resumes.
            state = await graph.aget_state(run)
            result = await graph.ainvoke(resume_authorization(state), run)
        print(json.dumps({"interrupted": bool(result.get("__interrupt__"))}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
