"""``AuthorizationMiddleware`` in ``langchain.agents.create_agent``, sync and async."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from scalekit_langchain import (
    AUTHORIZATION_INTERRUPT_TYPE,
    AsyncScalekitClient,
    ScalekitMCPToolkit,
    resume_authorization,
)
from scalekit_langchain.testing import ScalekitEmulator
from tests.integration._toolkit_support import (
    MAIL_CONFIG,
    MAIL_MAPPINGS,
    ScriptedChatModel,
    mail,
    new_events,
    rfc3339,
    utcnow,
)

agents = pytest.importorskip("langchain.agents")
middleware_mod = pytest.importorskip("langchain.agents.middleware")
from scalekit_langchain import AuthorizationMiddleware  # noqa: E402

SEND = {"name": "gmail_send_message", "args": mail("Hello"), "id": "send", "type": "tool_call"}
EVENT = {
    "name": "googlecalendar_create_event",
    "args": {"summary": "Sync", "start_datetime": rfc3339(utcnow()), "event_duration_minutes": 15},
    "id": "event",
    "type": "tool_call",
}
ASK = {"messages": [("user", "Mail the team and book the sync.")]}


def _model() -> ScriptedChatModel:
    return ScriptedChatModel(
        steps=[AIMessage(content="", tool_calls=[SEND, EVENT]), AIMessage(content="Done.")]
    )


@pytest.fixture
def emu() -> Iterator[ScalekitEmulator]:
    with ScalekitEmulator() as emulator:
        yield emulator


@pytest.fixture
async def client(emu: ScalekitEmulator) -> AsyncIterator[AsyncScalekitClient]:
    async with AsyncScalekitClient(emu.env_url, emu.client_id, emu.client_secret) as c:
        yield c


def _toolkit(client: AsyncScalekitClient, **kw: Any) -> ScalekitMCPToolkit:
    return ScalekitMCPToolkit(
        client=client, config_name=MAIL_CONFIG, connection_tool_mappings=MAIL_MAPPINGS, **kw
    )


async def test_one_pause_before_the_model_lists_every_pending_connection(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    user = "mia"
    model = _model()
    async with _toolkit(client, user_identifier=user) as toolkit:
        agent = agents.create_agent(
            model,
            await toolkit.aget_tools(),
            middleware=[AuthorizationMiddleware(toolkit)],
            checkpointer=InMemorySaver(),
        )
        run = {"configurable": {"thread_id": "mw"}}
        result = await agent.ainvoke(ASK, run)
        (pause,) = result["__interrupt__"]
        assert pause.value["type"] == AUTHORIZATION_INTERRUPT_TYPE
        assert {c["connection_name"] for c in pause.value["connections"]} == {"MY_GMAIL", "MY_CALENDAR"}
        assert model.turns == 0  # the model has not run yet
        # Resumed while one is still pending: a new pause, fresh link, only what is left.
        emu.authorize(user, "MY_GMAIL")
        result = await agent.ainvoke(resume_authorization(result), run)
        (again,) = result["__interrupt__"]
        assert [c["connection_name"] for c in again.value["connections"]] == ["MY_CALENDAR"]
        assert again.value["connections"][0]["authentication_link"] != next(
            c["authentication_link"]
            for c in pause.value["connections"]
            if c["connection_name"] == "MY_CALENDAR"
        )
        emu.authorize(user, "MY_CALENDAR")
        result = await agent.ainvoke(resume_authorization(result), run)
        assert "__interrupt__" not in result
        emu.reset_counts()
        # A second turn on the same thread: everything known ACTIVE, no REST request to check.
        model.steps.append(AIMessage(content="Nothing to do."))
        await agent.ainvoke({"messages": [("user", "thanks")]}, run)
        assert emu.count("instances.") + emu.count("configs.") == 0
    assert len(emu.user_data(user).sent) == 1
    assert len(new_events(emu, user)) == 1
    tool_msgs = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert [m.status for m in tool_msgs] == ["success", "success"]


def test_sync_agent_with_the_middleware(emu: ScalekitEmulator) -> None:
    user = "noah"
    client = AsyncScalekitClient(emu.env_url, emu.client_id, emu.client_secret)
    with _toolkit(client, user_identifier=user) as toolkit:
        agent = agents.create_agent(
            _model(),
            toolkit.get_tools(),
            middleware=[AuthorizationMiddleware(toolkit)],
            checkpointer=InMemorySaver(),
        )
        run = {"configurable": {"thread_id": "sync-mw"}}
        result = agent.invoke(ASK, run)
        assert len(result["__interrupt__"]) == 1
        emu.authorize(user, "MY_GMAIL")
        emu.authorize(user, "MY_CALENDAR")
        result = agent.invoke(resume_authorization(result), run)
        assert "__interrupt__" not in result
    from scalekit_langchain import _session_loop

    _session_loop.run_sync(client.aclose())
    assert len(emu.user_data(user).sent) == 1
    assert len(new_events(emu, user)) == 1


@dataclass
class Ctx:
    user_id: str


async def test_user_from_the_run_context_and_expiry_mid_run(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    user = "olga"
    emu.authorize(user, "MY_GMAIL")
    emu.authorize(user, "MY_CALENDAR")
    model = _model()
    async with _toolkit(client, discovery_user=user) as toolkit:
        agent = agents.create_agent(
            model,
            await toolkit.aget_tools(),
            middleware=[AuthorizationMiddleware(toolkit)],
            checkpointer=InMemorySaver(),
            context_schema=Ctx,
        )
        run = {"configurable": {"thread_id": "ctx"}}
        # Authorized when the run starts; the calendar account expires before the call.
        await toolkit.aauth_state(False, user_identifier=user)  # seen ACTIVE
        emu.expire_connection(user, "MY_CALENDAR")
        result = await agent.ainvoke(ASK, run, context=Ctx(user_id=user))
        (pause,) = result["__interrupt__"]
        assert [c["connection_name"] for c in pause.value["connections"]] == ["MY_CALENDAR"]
        assert pause.value["connections"][0]["status"] == "EXPIRED"
        emu.authorize(user, "MY_CALENDAR")
        result = await agent.ainvoke(resume_authorization(result), run, context=Ctx(user_id=user))
        assert "__interrupt__" not in result
    assert len(emu.user_data(user).sent) == 1
    assert len(new_events(emu, user)) == 1


async def test_beside_human_in_the_loop(emu: ScalekitEmulator, client: AsyncScalekitClient) -> None:
    user = "pia"
    emu.authorize(user, "MY_GMAIL")
    model = ScriptedChatModel(steps=[AIMessage(content="", tool_calls=[SEND, EVENT]), AIMessage(content="Done.")])
    async with _toolkit(client, user_identifier=user) as toolkit:
        hitl = middleware_mod.HumanInTheLoopMiddleware(interrupt_on={"gmail_send_message": True})
        agent = agents.create_agent(
            model,
            await toolkit.aget_tools(),
            middleware=[AuthorizationMiddleware(toolkit), hitl],
            checkpointer=InMemorySaver(),
        )
        run = {"configurable": {"thread_id": "hitl"}}
        result = await agent.ainvoke(ASK, run)
        (auth,) = result["__interrupt__"]
        assert [c["connection_name"] for c in auth.value["connections"]] == ["MY_CALENDAR"]
        emu.authorize(user, "MY_CALENDAR")
        result = await agent.ainvoke(resume_authorization(result), run)
        (review,) = result["__interrupt__"]
        assert review.value["action_requests"][0]["name"] == "gmail_send_message"
        assert len(emu.user_data(user).sent) == 0  # waiting for the human
        result = await agent.ainvoke(Command(resume={"decisions": [{"type": "approve"}]}), run)
        assert "__interrupt__" not in result
    assert len(emu.user_data(user).sent) == 1
    assert len(new_events(emu, user)) == 1


def test_platform_user_is_the_user(emu: ScalekitEmulator) -> None:
    class PlatformUser:
        identity = "quinn"

    toolkit = ScalekitMCPToolkit(config_name=MAIL_CONFIG, client=None, discovery_user="x")
    runtime = type("Runtime", (), {"context": None, "server_info": type("S", (), {"user": PlatformUser()})()})()
    assert toolkit.user_for_run({"configurable": {"__pregel_runtime": runtime}}) == "quinn"
    assert toolkit.user_for_run({"configurable": {"user_id": "explicit"}}) == "explicit"
    with pytest.raises(ValueError, match="No user for this run"):
        toolkit.user_for_run({"configurable": {}})
