"""The authorization scenarios under every way an MCP server may refuse a tool whose connection
is not ACTIVE (the emulator plays each one; none is what the toolkit relies on)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver

from scalekit_langchain import (
    AsyncScalekitClient,
    AuthorizationRequired,
    ScalekitMCPToolkit,
    resume_authorization,
)
from scalekit_langchain.testing import REFUSAL_MODES, ScalekitEmulator
from tests.integration._toolkit_support import (
    MAIL_CONFIG,
    MAIL_MAPPINGS,
    ScriptedChatModel,
    mail,
    new_events,
    rfc3339,
    utcnow,
)
from tests.integration.test_never_twice import _create_agent, _custom_graph

USER = "sam"
SEND = {"name": "gmail_send_message", "args": mail("Report"), "id": "send", "type": "tool_call"}
EVENT = {
    "name": "googlecalendar_create_event",
    "args": {"summary": "Review", "start_datetime": rfc3339(utcnow()), "event_duration_minutes": 15},
    "id": "event",
    "type": "tool_call",
}
ASK = {"messages": [("user", "Send the report and book the review.")]}


@pytest.fixture(params=REFUSAL_MODES)
def emu(request: pytest.FixtureRequest) -> Iterator[ScalekitEmulator]:
    with ScalekitEmulator(refusal_mode=request.param) as emulator:
        yield emulator


@pytest.fixture
async def client(emu: ScalekitEmulator) -> AsyncIterator[AsyncScalekitClient]:
    async with AsyncScalekitClient(emu.env_url, emu.client_id, emu.client_secret) as c:
        yield c


def _toolkit(client: AsyncScalekitClient, **kw: Any) -> ScalekitMCPToolkit:
    kw.setdefault("user_identifier", USER)
    return ScalekitMCPToolkit(
        client=client, config_name=MAIL_CONFIG, connection_tool_mappings=MAIL_MAPPINGS, **kw
    )


def _interrupts(result: Any) -> list[Any]:
    return list(result.get("__interrupt__") or [])


async def test_pending_connection_pauses_then_the_call_runs_once(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    emu.authorize(USER, "MY_GMAIL")
    model = ScriptedChatModel(steps=[AIMessage(content="", tool_calls=[SEND, EVENT]), AIMessage(content="done")])
    async with _toolkit(client) as toolkit:
        tools = await toolkit.aget_tools()
        assert {t.name for t in tools} >= {"gmail_send_message", "googlecalendar_create_event"}
        graph = _custom_graph(model, tools, InMemorySaver())
        run = {"configurable": {"thread_id": "t"}}
        result = await graph.ainvoke(ASK, run)
        (pause,) = _interrupts(result)
        assert [c["connection_name"] for c in pause.value["connections"]] == ["MY_CALENDAR"]
        assert pause.value["connections"][0]["authentication_link"]
        assert len(new_events(emu, USER)) == 0
        emu.authorize(USER, "MY_CALENDAR")
        result = await graph.ainvoke(resume_authorization(result), run)
        assert not _interrupts(result)
    assert len(emu.user_data(USER).sent) == 1
    assert len(new_events(emu, USER)) == 1
    messages = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert [m.status for m in messages] == ["success", "success"]
    # The links never reached the model.
    assert not any(emu.env_url + "/connect" in str(m.content) for m in result["messages"])


@pytest.mark.parametrize("mode", ["instance", "session_token"])
async def test_connection_expiring_mid_run_pauses_and_runs_once(
    emu: ScalekitEmulator, client: AsyncScalekitClient, mode: str
) -> None:
    emu.authorize(USER, "MY_GMAIL")
    emu.authorize(USER, "MY_CALENDAR")
    async with _toolkit(client, mode=mode) as toolkit:
        send = {t.name: t for t in await toolkit.aget_tools()}["gmail_send_message"]
        assert "Email sent" in await send.ainvoke(mail("first"))
        emu.expire_connection(USER, "MY_GMAIL")
        model = ScriptedChatModel(steps=[AIMessage(content="", tool_calls=[SEND]), AIMessage(content="done")])
        graph = _custom_graph(model, [send], InMemorySaver())
        run = {"configurable": {"thread_id": "expire"}}
        result = await graph.ainvoke(ASK, run)
        (pause,) = _interrupts(result)
        assert [(c["connection_name"], c["status"]) for c in pause.value["connections"]] == [
            ("MY_GMAIL", "EXPIRED")
        ] or mode == "session_token"  # a refused mint lists every connection not ACTIVE
        assert len(emu.user_data(USER).sent) == 1
        emu.authorize(USER, "MY_GMAIL")
        result = await graph.ainvoke(resume_authorization(result), run)
        assert not _interrupts(result)
    assert [m["subject"] for m in emu.user_data(USER).sent] == ["first", "Report"]


async def test_outside_a_graph_the_refusal_is_authorization_required(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    emu.authorize(USER, "MY_GMAIL")
    emu.authorize(USER, "MY_CALENDAR")
    async with _toolkit(client) as toolkit:
        send = {t.name: t for t in await toolkit.aget_tools()}["gmail_send_message"]
        emu.expire_connection(USER, "MY_GMAIL")
        with pytest.raises(AuthorizationRequired) as info:
            await send.ainvoke(mail("nope"))
    assert list(info.value.links) == ["MY_GMAIL"]
    assert emu.user_data(USER).sent == []


async def test_create_agent_pauses_and_completes_once(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    emu.authorize(USER, "MY_GMAIL")
    model = ScriptedChatModel(steps=[AIMessage(content="", tool_calls=[SEND, EVENT]), AIMessage(content="done")])
    async with _toolkit(client) as toolkit:
        agent = _create_agent(model, await toolkit.aget_tools(), InMemorySaver())
        run = {"configurable": {"thread_id": "agent"}}
        result = await agent.ainvoke(ASK, run)
        assert _interrupts(result)
        emu.authorize(USER, "MY_CALENDAR")
        result = await agent.ainvoke(resume_authorization(result), run)
        assert not _interrupts(result)
    assert len(emu.user_data(USER).sent) == 1
    assert len(new_events(emu, USER)) == 1


async def test_warm_calls_add_no_rest_request(emu: ScalekitEmulator, client: AsyncScalekitClient) -> None:
    emu.authorize(USER, "MY_GMAIL")
    emu.authorize(USER, "MY_CALENDAR")
    async with _toolkit(client) as toolkit:
        fetch = {t.name: t for t in await toolkit.aget_tools()}["gmail_fetch_mails"]
        await fetch.ainvoke({"max_results": 1})
        emu.reset_counts()
        for _ in range(3):
            await fetch.ainvoke({"max_results": 1})
        assert emu.counts() == {"mcp.tools/call": 3}


async def test_create_agent_with_the_middleware_pauses_and_completes_once(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    from langchain.agents import create_agent

    from scalekit_langchain import AuthorizationMiddleware

    model = ScriptedChatModel(steps=[AIMessage(content="", tool_calls=[SEND, EVENT]), AIMessage(content="done")])
    async with _toolkit(client) as toolkit:
        agent = create_agent(
            model,
            await toolkit.aget_tools(),
            middleware=[AuthorizationMiddleware(toolkit)],
            checkpointer=InMemorySaver(),
        )
        run = {"configurable": {"thread_id": "mw"}}
        result = await agent.ainvoke(ASK, run)
        (pause,) = _interrupts(result)
        assert {c["connection_name"] for c in pause.value["connections"]} == {"MY_GMAIL", "MY_CALENDAR"}
        emu.authorize(USER, "MY_GMAIL")
        emu.authorize(USER, "MY_CALENDAR")
        # The calendar account expires after the pause: the tool call itself is refused now.
        result = await agent.ainvoke(resume_authorization(result), run)
        assert not _interrupts(result)
        emu.expire_connection(USER, "MY_CALENDAR")
        model.steps.extend([AIMessage(content="", tool_calls=[{**EVENT, "id": "event2"}]), AIMessage(content="again")])
        result = await agent.ainvoke({"messages": [("user", "book another")]}, run)
        (pause,) = _interrupts(result)
        assert [c["connection_name"] for c in pause.value["connections"]] == ["MY_CALENDAR"]
        emu.authorize(USER, "MY_CALENDAR")
        result = await agent.ainvoke(resume_authorization(result), run)
        assert not _interrupts(result)
    assert len(emu.user_data(USER).sent) == 1
    assert len(new_events(emu, USER)) == 2
