"""2026-07-28 ``input_required`` results (SEP-2322) through the toolkit: a URL elicitation the
server asks for becomes the same ``mcp_elicitation`` pause as in the handshake era, and the
resumed call carries the user's answer and the server's opaque ``requestState`` (the emulator
refuses to run the tool otherwise). mcp 2 only: mcp 1.x cannot speak that era."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import BaseModel

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


class Confirm(BaseModel):
    ok: bool


def ask_to_confirm() -> Any:
    """The SDK server's resolver: ask the user (form elicitation)."""
    from mcp.server.mcpserver.resolve import Elicit  # type: ignore[import-not-found, unused-ignore]

    return Elicit("Proceed?", Confirm)


try:  # mcp 2's server resolves a tool parameter by asking the user (input_required in 2026)
    from mcp.server.mcpserver.resolve import Resolve  # type: ignore[import-not-found, unused-ignore]
except ImportError:  # mcp 1.x: the test using it is skipped
    Resolve = None


def guarded(answer: Annotated[Confirm, Resolve(ask_to_confirm)]) -> str:
    """The SDK server's tool: runs after the user confirms."""
    return f"ran ok={answer.ok}"


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


async def test_the_sdk_servers_form_elicitation_pauses_and_resumes_with_the_content() -> None:
    """Against mcp 2.3's own server (a ``Resolve``/``Elicit`` tool, which asks with
    ``input_required`` in the 2026-07-28 era): the form request pauses the run, and the answer's
    content reaches the tool."""
    from langgraph.types import Command
    from mcp.server.mcpserver import MCPServer  # type: ignore[import-not-found, unused-ignore]

    from scalekit_langchain import ScalekitMCPToolkit
    from tests.integration._net_support import Served

    server: Any = MCPServer("input-rounds")
    server.tool()(guarded)

    model = ScriptedChatModel(steps=[tool_call("guarded", {}, "c1"), AIMessage("ok")])
    with Served(server.streamable_http_app(), lifespan="on") as served:
        url = f"http://127.0.0.1:{served.port}/mcp"
        async with ScalekitMCPToolkit(url=url, user_identifier="u") as toolkit:
            tools = await toolkit.aget_tools()
            assert toolkit.session_pool.peek("u").protocol_version == "2026-07-28"
            agent = make_agent(model, tools, checkpointer=InMemorySaver())
            run = {"configurable": {"thread_id": "sdk"}}
            paused = await agent.ainvoke({"messages": [("user", "go")]}, run)
            (pause,) = paused["__interrupt__"]
            [request] = pause.value["requests"]
            assert request["mode"] == "form" and request["message"] == "Proceed?"
            answer = {"action": "accept", "content": {"ok": True}}
            resume = Command(resume={pause.id: {"responses": {request["key"]: answer}}})
            done = await agent.ainvoke(resume, run)
    [message] = tool_messages(done["messages"])
    assert (message.status, message.content) == ("success", "ran ok=True")
