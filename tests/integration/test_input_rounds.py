"""2026-07-28 ``input_required`` results (SEP-2322) through the toolkit: a URL elicitation the
server asks for becomes the same ``mcp_elicitation`` pause as in the handshake era, and the
resumed call carries the user's answer and the server's opaque ``requestState`` (the emulator
refuses to run the tool otherwise). mcp 2 only: mcp 1.x cannot speak that era."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver

from scalekit_langchain import (
    AsyncScalekitClient,
    ElicitationRequired,
    _mcp_stack,
    resume_elicitation,
)
from scalekit_langchain.testing import ScalekitEmulator
from tests.integration._toolkit_support import (
    USER,
    ScriptedChatModel,
    authorize_all,
    mail,
    mail_toolkit,
    make_agent,
    tool_call,
    tool_messages,
)

pytestmark = pytest.mark.skipif(
    _mcp_stack.MCP_MAJOR < 2, reason="mcp 1.x speaks only the handshake era"
)


def _needs_confirmation(emu: ScalekitEmulator) -> None:
    emu.set_mcp_era("new")
    emu.mcp_settings.url_elicitation_tools = frozenset({"gmail_send_message"})
    authorize_all(emu)


@pytest.mark.parametrize("action", ["accept", "decline"])
async def test_input_required_pauses_and_the_resumed_call_carries_the_answer(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient, action: str
) -> None:
    _needs_confirmation(emulator)
    model = ScriptedChatModel(
        steps=[tool_call("gmail_send_message", mail("Confirmed"), "call_send"), AIMessage("ok")]
    )
    async with mail_toolkit(aclient) as toolkit:
        agent = make_agent(model, await toolkit.aget_tools(), checkpointer=InMemorySaver())
        run = {"configurable": {"thread_id": "t1"}}
        paused = await agent.ainvoke({"messages": [("user", "send it")]}, run)
        (pause,) = paused["__interrupt__"]
        assert pause.value["type"] == "mcp_elicitation"
        assert pause.value["tool_name"] == "gmail_send_message"
        [request] = pause.value["requests"]
        assert request["key"] == "confirm" and request["mode"] == "url"
        assert request["url"].startswith(emulator.env_url)
        assert emulator.user_data(USER).sent == []
        assert emulator.count("mcp.tools/call") == 1
        done = await agent.ainvoke(resume_elicitation(paused, action), run)
    [answer] = tool_messages(done["messages"])
    if action == "accept":
        assert answer.status == "success"
        assert [m["subject"] for m in emulator.user_data(USER).sent] == ["Confirmed"]
        assert emulator.count("mcp.tools/call") == 2  # the first ask, then the answered call
    else:
        assert answer.status == "error" and "declined" in str(answer.content)
        assert emulator.user_data(USER).sent == []
        assert emulator.count("mcp.tools/call") == 1


async def test_outside_a_graph_input_required_is_a_typed_error(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    _needs_confirmation(emulator)
    async with mail_toolkit(aclient) as toolkit:
        with pytest.raises(ElicitationRequired) as caught:
            await toolkit.arun_tool("gmail_send_message", mail("x"), None, None)
    assert caught.value.request_state and caught.value.request_state.startswith("rs_")
    assert caught.value.requests[0]["mode"] == "url"
    assert emulator.user_data(USER).sent == []
