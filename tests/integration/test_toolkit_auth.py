"""ScalekitMCPToolkit and connections the user has not authorized yet."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from langchain_core.messages import AIMessage

from scalekit_langchain import (
    AsyncScalekitClient,
    AuthorizationRequired,
    ConnectionAuthState,
)
from scalekit_langchain.testing import ScalekitEmulator
from tests.integration._toolkit_support import (
    USER,
    ScriptedChatModel,
    by_name,
    make_agent,
    seed_toolkit,
    tool_call,
    tool_messages,
)


def _by_connection(states: list[ConnectionAuthState]) -> dict[str, ConnectionAuthState]:
    return {s.connection_name: s for s in states}


async def test_tool_call_before_authorizing_raises_with_links(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    async with seed_toolkit(aclient) as toolkit:
        fetch = by_name(await toolkit.aget_tools())["gmail_fetch_mails"]
        emulator.reset_counts()
        with pytest.raises(AuthorizationRequired) as info:
            await fetch.ainvoke({"max_results": 1})
        # A ToolCall does not turn it into a message for the model either (outside a graph).
        with pytest.raises(AuthorizationRequired):
            await fetch.ainvoke({"name": fetch.name, "args": {}, "id": "c1", "type": "tool_call"})
        with pytest.raises(AuthorizationRequired) as sync_info:
            await asyncio.to_thread(fetch.invoke, {"max_results": 1})

    for error in (info.value, sync_info.value):
        assert error.user_identifier == USER
        pending = _by_connection(error.connections)
        # Only what this tool needs: MY_CALENDAR is pending too, but fetching mail needs Gmail.
        assert set(pending) == {"MY_GMAIL"}
        gmail = pending["MY_GMAIL"]
        assert gmail.provider == "GMAIL"
        assert gmail.status == "PENDING_AUTH"
        assert gmail.authentication_link is not None
        assert gmail.authentication_link.startswith(emulator.env_url)
        assert set(error.links) == {"MY_GMAIL"}
        payload = error.to_payload()
        assert payload["type"] == "scalekit_authorization"
        assert {c["connection_name"] for c in payload["connections"]} == {"MY_GMAIL"}
    # Nothing ran for the user.
    assert emulator.user_data(USER).sent == []


async def test_authorizing_one_connection_unlocks_its_tools(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    async with seed_toolkit(aclient) as toolkit:
        tools = by_name(await toolkit.aget_tools())
        emulator.authorize(USER, "MY_GMAIL")
        assert "msg_0005" in await tools["gmail_fetch_mails"].ainvoke({"max_results": 1})
        with pytest.raises(AuthorizationRequired) as info:
            await tools["googlecalendar_create_event"].ainvoke(
                {"summary": "x", "start_datetime": "2030-01-01T10:00:00Z"}
            )
    assert [c.connection_name for c in info.value.connections] == ["MY_CALENDAR"]
    assert len(emulator.user_data(USER).events) == 2  # the seeded ones only


async def test_ensure_authorized(emulator: ScalekitEmulator, aclient: AsyncScalekitClient) -> None:
    async with seed_toolkit(aclient) as toolkit:
        with pytest.raises(AuthorizationRequired) as info:
            await toolkit.aensure_authorized()
        assert set(info.value.links) == {"MY_GMAIL", "MY_CALENDAR"}
        assert all(link.startswith(emulator.env_url) for link in info.value.links.values())

        emulator.authorize(USER, "MY_GMAIL")
        with pytest.raises(AuthorizationRequired) as info:
            await asyncio.to_thread(toolkit.ensure_authorized)
        assert [c.connection_name for c in info.value.connections] == ["MY_CALENDAR"]

        emulator.authorize(USER, "MY_CALENDAR")
        assert await toolkit.aensure_authorized() is None


async def test_auth_state_shapes(emulator: ScalekitEmulator, aclient: AsyncScalekitClient) -> None:
    async with seed_toolkit(aclient) as toolkit:
        with_links = _by_connection(await toolkit.aauth_state())
        without_links = _by_connection(await toolkit.aauth_state(include_links=False))
        emulator.authorize(USER, "MY_GMAIL")
        after = _by_connection(await asyncio.to_thread(toolkit.auth_state, False))

    assert set(with_links) == set(without_links) == set(after) == {"MY_GMAIL", "MY_CALENDAR"}
    for name, provider in (("MY_GMAIL", "GMAIL"), ("MY_CALENDAR", "GOOGLECALENDAR")):
        state = with_links[name]
        assert isinstance(state, ConnectionAuthState)
        assert state.provider == provider
        assert state.status == "PENDING_AUTH" and not state.is_active
        assert state.connection_id and state.connected_account_id
        assert state.authentication_link and state.authentication_link.startswith(emulator.env_url)
        assert without_links[name].authentication_link is None
        assert state.to_payload()["connection_name"] == name
    assert after["MY_GMAIL"].status == "ACTIVE" and after["MY_GMAIL"].is_active
    assert after["MY_CALENDAR"].status == "PENDING_AUTH"


async def test_await_authorization_completes_when_the_user_authorizes(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    def user_clicks_the_links() -> None:
        time.sleep(0.2)
        emulator.authorize(USER, "MY_GMAIL")
        time.sleep(0.1)
        emulator.authorize(USER, "MY_CALENDAR")

    async with seed_toolkit(aclient) as toolkit:
        fetch = by_name(await toolkit.aget_tools())["gmail_fetch_mails"]
        clicker = threading.Thread(target=user_clicks_the_links)
        clicker.start()
        try:
            started = time.monotonic()
            states = await toolkit.await_authorization(timeout=10, poll_interval=0.05)
            waited = time.monotonic() - started
        finally:
            clicker.join()
        assert all(s.is_active for s in states)
        assert {s.connection_name for s in states} == {"MY_GMAIL", "MY_CALENDAR"}
        assert waited < 5
        assert "msg_0005" in await fetch.ainvoke({"max_results": 1})


async def test_await_authorization_times_out_with_fresh_links(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    emulator.authorize(USER, "MY_GMAIL")
    async with seed_toolkit(aclient) as toolkit:
        started = time.monotonic()
        with pytest.raises(AuthorizationRequired) as info:
            await toolkit.await_authorization(timeout=0.3, poll_interval=0.05)
        waited = time.monotonic() - started
    assert 0.3 <= waited < 3
    [pending] = info.value.connections
    assert pending.connection_name == "MY_CALENDAR"
    assert pending.authentication_link and pending.authentication_link.startswith(emulator.env_url)
    assert "MY_CALENDAR" in str(info.value)


async def test_agent_run_pauses_for_authorization_and_resumes(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    """Inside LangGraph, a pending connection becomes a resumable interrupt with the links; on
    resume the same call runs once."""
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.types import Command

    model = ScriptedChatModel(
        steps=[
            tool_call("gmail_fetch_mails", {"max_results": 1}, "call_fetch"),
            AIMessage(content="Your latest mail is from Dana."),
        ]
    )
    config = {"configurable": {"thread_id": "t1"}}
    async with seed_toolkit(aclient) as toolkit:
        agent = make_agent(model, await toolkit.aget_tools(), checkpointer=InMemorySaver())
        first = await agent.ainvoke({"messages": [("user", "latest mail?")]}, config)
        interrupts = first.get("__interrupt__")
        assert interrupts, first
        payload = interrupts[0].value
        assert payload["type"] == "scalekit_authorization"
        assert payload["user_identifier"] == USER
        links = {c["connection_name"]: c["authentication_link"] for c in payload["connections"]}
        assert "MY_GMAIL" in links and links["MY_GMAIL"].startswith(emulator.env_url)
        # The links went to the app, not to the model.
        assert all(emulator.env_url not in str(m.content) for seen in model.seen for m in seen)

        emulator.authorize(USER, "MY_GMAIL")
        emulator.authorize(USER, "MY_CALENDAR")
        emulator.reset_counts()
        final = await agent.ainvoke(Command(resume=True), config)
    [message] = tool_messages(final["messages"])
    assert message.status == "success"
    assert message.artifact["structured_content"]["messages"][0]["id"] == "msg_0005"
    assert final["messages"][-1].content == "Your latest mail is from Dana."
    assert emulator.count("mcp.tools/call") == 1
