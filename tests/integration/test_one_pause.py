"""One pause per model turn, in every graph shape (counts asserted with ``==``).

The model asks, in one turn, for ``gmail_send_message`` (MY_GMAIL) and
``googlecalendar_create_event`` (MY_CALENDAR), and the user has authorized neither. The first
pause must list both (with links that work), so that the user authorizes what it shows, and one
``resume_authorization(result)`` finishes the turn: the mail goes out once, the event is created
once, and the run is not paused a second time. Before the fix a custom ``StateGraph`` +
``ToolNode`` turn (and a functional-API loop) showed only one connection, which one depending on
timing, and paused again after the resume for the other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver

from scalekit_langchain import (
    AUTHORIZATION_INTERRUPT_TYPE,
    AsyncScalekitClient,
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
from tests.integration.test_never_twice import SHAPES

USER = "olive"
SEND = {"name": "gmail_send_message", "args": mail("Q4 plan"), "id": "send", "type": "tool_call"}
EVENT = {
    "name": "googlecalendar_create_event",
    "args": {"summary": "Plan review", "start_datetime": rfc3339(utcnow()), "event_duration_minutes": 15},
    "id": "event",
    "type": "tool_call",
}
ASK = {"messages": [("user", "Send the plan and book the review.")]}
BOTH = ["MY_GMAIL", "MY_CALENDAR"]

#: Interrupts of the first pause: one per LangGraph task that paused. A ToolNode runs the calls
#: of a turn in one task, create_agent and create_react_agent v2 in one task each; the functional
#: loop shows the interrupt of the first future it awaits. Every one lists the whole turn.
INTERRUPTS = {"custom_toolnode": 1, "react_v1": 1, "react_v2": 2, "create_agent": 2, "functional": 1}


@pytest.fixture
def emu() -> Iterator[ScalekitEmulator]:
    with ScalekitEmulator() as emulator:
        yield emulator


@pytest.fixture
async def client(emu: ScalekitEmulator) -> AsyncIterator[AsyncScalekitClient]:
    async with AsyncScalekitClient(emu.env_url, emu.client_id, emu.client_secret) as c:
        yield c


def _toolkit(client: AsyncScalekitClient) -> ScalekitMCPToolkit:
    return ScalekitMCPToolkit(
        client=client,
        config_name=MAIL_CONFIG,
        connection_tool_mappings=MAIL_MAPPINGS,
        user_identifier=USER,
    )


def _model(*calls: dict[str, Any]) -> ScriptedChatModel:
    return ScriptedChatModel(
        steps=[AIMessage(content="", tool_calls=list(calls)), AIMessage(content="All done.")]
    )


def _interrupts(result: Any) -> list[Any]:
    return list(result.get("__interrupt__") or []) if isinstance(result, dict) else []


def _listed(pause: Any) -> list[str]:
    assert pause.value["type"] == AUTHORIZATION_INTERRUPT_TYPE
    return [c["connection_name"] for c in pause.value["connections"]]


def _authorize_what_the_first_pause_shows(result: Any) -> None:
    """The user opens every link of the first interrupt (and nothing else)."""
    for conn in _interrupts(result)[0].value["connections"]:
        answer = httpx.post(conn["authentication_link"])
        assert answer.status_code == 200, answer.text


async def _aauthorize_what_the_first_pause_shows(result: Any) -> None:
    async with httpx.AsyncClient() as http:
        for conn in _interrupts(result)[0].value["connections"]:
            answer = await http.post(conn["authentication_link"])
            assert answer.status_code == 200, answer.text


def _check_first_pause(emu: ScalekitEmulator, result: Any, shape: str) -> None:
    pauses = _interrupts(result)
    assert len(pauses) == INTERRUPTS[shape]
    assert [_listed(p) for p in pauses] == [BOTH] * INTERRUPTS[shape]
    for pause in pauses:
        assert [c["status"] for c in pause.value["connections"]] == ["PENDING_AUTH"] * 2
    assert emu.count("mcp.tools/call") == 0  # nothing was sent before the user was asked
    assert len(emu.user_data(USER).sent) == 0


def _check_done(emu: ScalekitEmulator, result: Any) -> None:
    assert _interrupts(result) == []
    assert result["messages"][-1].content == "All done."
    assert [m["subject"] for m in emu.user_data(USER).sent] == ["Q4 plan"]
    assert [e["summary"] for e in new_events(emu, USER)] == ["Plan review"]
    assert emu.count("mcp.tools/call") == 2


@pytest.mark.parametrize("shape", list(SHAPES))
async def test_async_one_pause_lists_the_whole_turn_and_one_resume_finishes_it(
    emu: ScalekitEmulator, client: AsyncScalekitClient, shape: str
) -> None:
    async with _toolkit(client) as toolkit:
        graph = SHAPES[shape](_model(SEND, EVENT), await toolkit.aget_tools(), InMemorySaver())
        run = {"configurable": {"thread_id": f"one-{shape}"}}
        result = await graph.ainvoke(ASK, run)
        _check_first_pause(emu, result, shape)
        await _aauthorize_what_the_first_pause_shows(result)
        result = await graph.ainvoke(resume_authorization(result), run)
        _check_done(emu, result)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_sync_one_pause_lists_the_whole_turn_and_one_resume_finishes_it(
    emu: ScalekitEmulator, shape: str
) -> None:
    from scalekit_langchain import _session_loop

    client = AsyncScalekitClient(emu.env_url, emu.client_id, emu.client_secret)
    try:
        with _toolkit(client) as toolkit:
            graph = SHAPES[shape](_model(SEND, EVENT), toolkit.get_tools(), InMemorySaver())
            run = {"configurable": {"thread_id": f"one-sync-{shape}"}}
            result = graph.invoke(ASK, run)
            _check_first_pause(emu, result, shape)
            _authorize_what_the_first_pause_shows(result)
            result = graph.invoke(resume_authorization(result), run)
            _check_done(emu, result)
    finally:
        _session_loop.run_sync(client.aclose())


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


#: What the pause lists when the turn needs MY_GMAIL only and MY_CALENDAR is pending too. The
#: functional API's state does not hold the AI message, and which siblings have started when a
#: call decides is a matter of timing: there the pause lists every pending connection of the
#: config (as authorization_gate does), one pause, never a second one.
NARROW = {
    "custom_toolnode": ["MY_GMAIL"],
    "react_v2": ["MY_GMAIL"],
    "create_agent": ["MY_GMAIL"],
    "functional": BOTH,
}


@pytest.mark.parametrize("shape", list(NARROW))
async def test_the_pause_lists_what_the_turn_needs_not_the_whole_config(
    emu: ScalekitEmulator, client: AsyncScalekitClient, shape: str
) -> None:
    """A sibling that is not a Scalekit tool needs no connection (MY_CALENDAR stays out)."""
    fetch = {"name": "gmail_fetch_mails", "args": {"max_results": 1}, "id": "fetch", "type": "tool_call"}
    plus = {"name": "add", "args": {"a": 1, "b": 2}, "id": "add", "type": "tool_call"}
    async with _toolkit(client) as toolkit:
        tools = [*await toolkit.aget_tools(), add]
        graph = SHAPES[shape](_model(fetch, plus), tools, InMemorySaver())
        run = {"configurable": {"thread_id": f"narrow-{shape}"}}
        result = await graph.ainvoke(ASK, run)
        assert [_listed(p) for p in _interrupts(result)] == [NARROW[shape]]
        await _aauthorize_what_the_first_pause_shows(result)
        result = await graph.ainvoke(resume_authorization(result), run)
    assert _interrupts(result) == []
    assert [m.content for m in result["messages"][-3:-1]][1] == "3"
    assert emu.count("mcp.tools/call") == 1


@pytest.mark.parametrize("mode", REFUSAL_MODES)
async def test_a_refused_call_and_a_pending_sibling_pause_once_in_every_refusal_mode(
    mode: str,
) -> None:
    """MY_GMAIL was last seen ACTIVE, so the send goes out; the server refuses it (in its own
    way) because the account expired since; MY_CALENDAR was never authorized, so the event is
    held back before anything is sent. Whichever decides first, the one pause names both."""
    with ScalekitEmulator(refusal_mode=mode) as emu:  # type: ignore[arg-type]
        emu.authorize(USER, "MY_GMAIL")
        client = AsyncScalekitClient(emu.env_url, emu.client_id, emu.client_secret)
        async with client, _toolkit(client) as toolkit:
            tools = await toolkit.aget_tools()
            assert len(await toolkit.aauth_state(False)) == 2  # last seen: MY_GMAIL ACTIVE
            emu.expire_connection(USER, "MY_GMAIL")
            graph = SHAPES["custom_toolnode"](_model(SEND, EVENT), tools, InMemorySaver())
            run = {"configurable": {"thread_id": f"refused-{mode}"}}
            result = await graph.ainvoke(ASK, run)
            (pause,) = _interrupts(result)
            assert _listed(pause) == BOTH
            assert [c["status"] for c in pause.value["connections"]] == ["EXPIRED", "PENDING_AUTH"]
            assert emu.count("mcp.tools/call") == 1  # the send went out and was refused
            assert len(emu.user_data(USER).sent) == 0
            await _aauthorize_what_the_first_pause_shows(result)
            result = await graph.ainvoke(resume_authorization(result), run)
            assert _interrupts(result) == []
            assert emu.count("mcp.tools/call") == 3
    assert [m["subject"] for m in emu.user_data(USER).sent] == ["Q4 plan"]
    assert [e["summary"] for e in new_events(emu, USER)] == ["Plan review"]
