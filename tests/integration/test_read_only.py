"""Read-only session tokens (SDK 2.21 ``access_level``), tool annotations and approval before
destructive tools with LangChain's ``HumanInTheLoopMiddleware``, against the emulator."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from scalekit_langchain import AsyncScalekitClient, ScalekitError, ScalekitMCPToolkit
from scalekit_langchain.testing import ScalekitEmulator
from tests.integration._toolkit_support import (
    MAIL_CONFIG,
    MAIL_MAPPINGS,
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


@pytest.mark.parametrize("mode", ["session_token", "connection"])
async def test_read_only_toolkit_lists_only_read_only_tools(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient, mode: str
) -> None:
    authorize_all(emulator)
    await aclient.mcp.create_config(MAIL_CONFIG, connection_tool_mappings=MAIL_MAPPINGS)
    extra = {"connection_name": "MY_GMAIL"} if mode == "connection" else {}
    async with mail_toolkit(aclient, mode=mode, access_level="READ_ONLY", **extra) as toolkit:
        tools = by_name(await toolkit.aget_tools())
        # A connection's server serves all its provider's tools; a config's, the mapped ones.
        read_only = ["gmail_fetch_mails"]
        if mode == "connection":
            read_only.append("gmail_get_message_by_id")
        assert sorted(tools) == read_only
        assert tools["gmail_fetch_mails"].metadata["read_only"] is True
        message = await tools["gmail_fetch_mails"].ainvoke(
            {"type": "tool_call", "id": "c1", "name": "gmail_fetch_mails", "args": {}}
        )
        assert message.status == "success"
    assert emulator.count("connections.tokens" if mode == "connection" else "configs.tokens") == 1


async def test_read_only_token_refuses_a_writing_tool(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    authorize_all(emulator)
    config = await aclient.mcp.create_config(MAIL_CONFIG, connection_tool_mappings=MAIL_MAPPINGS)
    token = await aclient.mcp.create_session_token(config.id, USER, access_level="READ_ONLY")
    async with ScalekitMCPToolkit(
        url=config.mcp_server_url, bearer_token=token.token, user_identifier=USER
    ) as toolkit:
        assert [t.name for t in await toolkit.aget_tools()] == ["gmail_fetch_mails"]
        content, _, is_error = await toolkit.arun_tool(
            "gmail_send_message", mail("Refused"), None, "c1"
        )
    assert is_error is True and "gmail_send_message" in str(content)
    assert emulator.user_data(USER).sent == []
    assert emulator.count("mcp.tools/call") == 1


def test_access_level_needs_a_session_token_mode(aclient: AsyncScalekitClient) -> None:
    with pytest.raises(ValueError, match="access_level"):
        ScalekitMCPToolkit(client=aclient, config_name=MAIL_CONFIG, access_level="READ_ONLY")
    with pytest.raises(ValueError, match="access_level"):
        ScalekitMCPToolkit(url="https://x.test/mcp", access_level="READ_ONLY")
    with pytest.raises(ValueError):
        ScalekitMCPToolkit(
            client=aclient, config_name=MAIL_CONFIG, mode="session_token", access_level="read"
        )


async def test_every_tool_carries_its_annotations(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    authorize_all(emulator)
    with pytest.raises(ScalekitError, match="aget_tools"):
        mail_toolkit(aclient).approval_policy()
    async with mail_toolkit(aclient) as toolkit:
        tools = by_name(await toolkit.aget_tools())
        for tool in tools.values():
            annotations = tool.metadata["mcp"]["tool"]["annotations"]
            assert set(annotations) >= {"readOnlyHint", "destructiveHint"}
            assert tool.metadata["read_only"] is annotations["readOnlyHint"]
        assert toolkit.approval_policy() == {
            "gmail_fetch_mails": False,
            "gmail_send_message": True,
            "googlecalendar_create_event": True,
        }


async def test_approval_policy_pauses_create_agent_before_sending_mail(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    from langchain.agents.middleware import HumanInTheLoopMiddleware

    authorize_all(emulator)
    model = ScriptedChatModel(
        steps=[
            tool_call("gmail_fetch_mails", {}, "call_read"),
            tool_call("gmail_send_message", mail("Approved"), "call_send"),
            AIMessage(content="done"),
        ]
    )
    async with mail_toolkit(aclient) as toolkit:
        tools = await toolkit.aget_tools()
        agent = make_agent(
            model,
            tools,
            middleware=[HumanInTheLoopMiddleware(interrupt_on=toolkit.approval_policy())],
            checkpointer=InMemorySaver(),
        )
        config = {"configurable": {"thread_id": "t1"}}
        first = await agent.ainvoke({"messages": [("user", "reply to my last mail")]}, config)
        (pause,) = first["__interrupt__"]
        assert [r["name"] for r in pause.value["action_requests"]] == ["gmail_send_message"]
        assert emulator.count("mcp.tools/call") == 1  # the read ran unasked; the send waits
        assert emulator.user_data(USER).sent == []
        done = await agent.ainvoke(
            Command(resume={"decisions": [{"type": "approve"}]}), config
        )
    assert [m.name for m in tool_messages(done["messages"])] == [
        "gmail_fetch_mails",
        "gmail_send_message",
    ]
    assert [m["subject"] for m in emulator.user_data(USER).sent] == ["Approved"]
    assert emulator.count("mcp.tools/call") == 2
