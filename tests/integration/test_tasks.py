"""Long-running tool calls (the 2026-07-28 tasks extension) through the toolkit: a task handle
is polled with ``tasks/get`` to its end and never answered by calling the tool again; the task
id is recorded with the call, so a retried node polls the same task. mcp 2 only."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver

from scalekit_langchain import AsyncScalekitClient, ScalekitError, _mcp_stack
from scalekit_langchain.testing import ScalekitEmulator
from tests.integration._toolkit_support import (
    USER,
    ScriptedChatModel,
    authorize_all,
    by_name,
    mail,
    mail_toolkit,
    make_agent,
    tool_call,
    tool_messages,
)

pytestmark = pytest.mark.skipif(
    _mcp_stack.MCP_MAJOR < 2, reason="mcp 1.x speaks only the handshake era"
)


def _tasks(emu: ScalekitEmulator) -> None:
    emu.set_mcp_era("new")
    emu.mcp_settings.task_tools = frozenset({"gmail_send_message"})
    authorize_all(emu)


async def test_a_task_handle_is_polled_to_its_end(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    _tasks(emulator)
    async with mail_toolkit(aclient) as toolkit:
        send = by_name(await toolkit.aget_tools())["gmail_send_message"]
        emulator.reset_counts()
        message = await send.ainvoke(
            {"type": "tool_call", "id": "c1", "name": "gmail_send_message", "args": mail("Task")}
        )
    assert message.status == "success" and "Email sent" in str(message.content)
    counts = emulator.counts()
    assert counts["mcp.tools/call"] == 1
    assert counts["mcp.tasks/get"] == 2  # working, then completed
    assert counts["mcp.tasks/result"] == 1
    assert [m["subject"] for m in emulator.user_data(USER).sent] == ["Task"]


async def test_a_retried_node_polls_the_recorded_task_and_never_calls_again(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    """The first poll fails (a 500): the node errors; run again on the same thread, it finds the
    task id in the checkpoint and polls that task; the tool was called once."""
    _tasks(emulator)
    model = ScriptedChatModel(
        steps=[tool_call("gmail_send_message", mail("Once"), "call_send"), AIMessage("sent")]
    )
    async with mail_toolkit(aclient) as toolkit:
        agent = make_agent(model, await toolkit.aget_tools(), checkpointer=InMemorySaver())
        run = {"configurable": {"thread_id": "t-task"}}
        emulator.fail_next(500, kind="mcp.tasks/get")
        with pytest.raises(ScalekitError):
            await agent.ainvoke({"messages": [("user", "send it")]}, run)
        assert emulator.count("mcp.tools/call") == 1
        done = await agent.ainvoke(None, run)  # LangGraph re-runs the failed node
    [answer] = tool_messages(done["messages"])
    assert answer.status == "success"
    assert emulator.count("mcp.tools/call") == 1
    assert [m["subject"] for m in emulator.user_data(USER).sent] == ["Once"]


async def test_without_the_extension_or_in_the_handshake_era_the_tool_answers_directly(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    emulator.mcp_settings.task_tools = frozenset({"gmail_send_message"})
    authorize_all(emulator)  # handshake era: no tasks extension there
    async with mail_toolkit(aclient) as toolkit:
        send = by_name(await toolkit.aget_tools())["gmail_send_message"]
        await send.ainvoke(mail("Direct"))
    assert "mcp.tasks/get" not in emulator.counts()
    assert [m["subject"] for m in emulator.user_data(USER).sent] == ["Direct"]
