"""Authorization inside LangGraph, the gate node, many users on one graph, session-token mode."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import Command

from scalekit_langchain import (
    AUTHORIZATION_INTERRUPT_TYPE,
    AsyncScalekitClient,
    AuthorizationRequired,
    ScalekitMCPToolkit,
    authorization_gate,
)
from scalekit_langchain.testing import ScalekitEmulator
from scalekit_langchain.testing.scripted import ScriptedReminderModel, ScriptedToolCallModel

CONFIG = "email-calendar-assistant"
MAPPINGS = [
    {"connection_name": "MY_GMAIL", "tools": ["gmail_fetch_mails", "gmail_send_message"]},
    {"connection_name": "MY_CALENDAR", "tools": ["googlecalendar_create_event"]},
]
ASK = {"messages": [("user", "Remind me about my latest email in 15 minutes.")]}


@pytest.fixture
def emu() -> Iterator[ScalekitEmulator]:
    with ScalekitEmulator() as emulator:
        yield emulator


@pytest.fixture
async def client(emu: ScalekitEmulator) -> AsyncIterator[AsyncScalekitClient]:
    async with AsyncScalekitClient(emu.env_url, emu.client_id, emu.client_secret) as c:
        yield c


def _toolkit(client: AsyncScalekitClient, **kw: Any) -> ScalekitMCPToolkit:
    kw.setdefault("connection_tool_mappings", MAPPINGS)
    return ScalekitMCPToolkit(client=client, config_name=CONFIG, **kw)


def _no_links_in_messages(messages: list[Any], env_url: str) -> None:
    for message in messages:
        assert f"{env_url}/connect/" not in json.dumps(message.content, default=str)


def _authorize_all(emu: ScalekitEmulator, user: str) -> None:
    for name in ("MY_GMAIL", "MY_CALENDAR"):
        emu.authorize(user, name)


async def test_tool_interrupts_with_payload_and_resume_runs_the_same_call_once(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    user = "ana-lee"
    async with _toolkit(client, user_identifier=user) as toolkit:
        agent = create_agent(
            ScriptedReminderModel(), await toolkit.aget_tools(), checkpointer=InMemorySaver()
        )
        run = {"configurable": {"thread_id": "t1"}}
        result = await agent.ainvoke(ASK, run)
        (intr,) = result["__interrupt__"]
        payload = intr.value
        assert payload["type"] == AUTHORIZATION_INTERRUPT_TYPE == "scalekit_authorization"
        assert payload["user_identifier"] == user
        names = {c["connection_name"] for c in payload["connections"]}
        assert names == {"MY_GMAIL"}  # what gmail_fetch_mails needs
        for conn in payload["connections"]:
            assert set(conn) == {"connection_name", "provider", "status", "authentication_link",
                                 "link_expires_at", "user_identifier"}
            assert conn["user_identifier"] == user  # enough to ask for a fresh link on click
            assert conn["link_expires_at"].endswith("Z")
            assert conn["status"] == "PENDING_AUTH"
            assert conn["authentication_link"].startswith(f"{emu.env_url}/connect/")
        json.dumps(payload)  # JSON-serializable
        state = await agent.aget_state(run)
        _no_links_in_messages(state.values["messages"], emu.env_url)

        # Resuming while still pending: a new interrupt with fresh links, nothing ran.
        events_before = len(emu.user_data(user).events)
        result = await agent.ainvoke(Command(resume="try"), run)
        again = result["__interrupt__"][0].value
        assert again["type"] == AUTHORIZATION_INTERRUPT_TYPE
        assert {c["authentication_link"] for c in again["connections"]}.isdisjoint(
            {c["authentication_link"] for c in payload["connections"]}
        )
        assert len(emu.user_data(user).events) == events_before

        _authorize_all(emu, user)
        result = await agent.ainvoke(Command(resume="done"), run)
        assert "__interrupt__" not in result
        assert len(emu.user_data(user).events) == events_before + 1
        assert emu.count("mcp.tools/call") >= 2
        _no_links_in_messages(result["messages"], emu.env_url)
        tool_msgs = [m for m in result["messages"] if isinstance(m, ToolMessage)]
        assert [m.name for m in tool_msgs] == ["gmail_fetch_mails", "googlecalendar_create_event"]
        assert all(m.status == "success" for m in tool_msgs)


@pytest.fixture
def sync_toolkit(emu: ScalekitEmulator) -> Iterator[ScalekitMCPToolkit]:
    toolkit = ScalekitMCPToolkit(
        client=AsyncScalekitClient(emu.env_url, emu.client_id, emu.client_secret),
        config_name=CONFIG,
        connection_tool_mappings=MAPPINGS,
        user_identifier="sync-user",
    )
    with toolkit:
        yield toolkit
    assert toolkit.client is not None
    from scalekit_langchain import _session_loop

    _session_loop.run_sync(toolkit.client.aclose())


def test_sync_agent_interrupt_then_resume(emu: ScalekitEmulator, sync_toolkit: ScalekitMCPToolkit) -> None:
    user = "sync-user"
    agent = create_agent(ScriptedReminderModel(), sync_toolkit.get_tools(), checkpointer=InMemorySaver())
    run = {"configurable": {"thread_id": "s1"}}
    result = agent.invoke(ASK, run)
    assert result["__interrupt__"][0].value["user_identifier"] == user
    _authorize_all(emu, user)
    before = len(emu.user_data(user).events)
    result = agent.invoke(Command(resume=True), run)
    assert "__interrupt__" not in result
    assert len(emu.user_data(user).events) == before + 1


def test_outside_a_graph_the_error_is_raised(emu: ScalekitEmulator, sync_toolkit: ScalekitMCPToolkit) -> None:
    fetch = next(t for t in sync_toolkit.get_tools() if t.name == "gmail_fetch_mails")
    with pytest.raises(AuthorizationRequired) as err:
        fetch.invoke({"max_results": 1})
    assert {c.connection_name for c in err.value.connections} == {"MY_GMAIL"}
    assert err.value.links["MY_GMAIL"].startswith(emu.env_url)


def _gated_graph(toolkit: ScalekitMCPToolkit, model: Any, tools: list[Any]) -> Any:
    bound = model.bind_tools(tools)

    async def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await bound.ainvoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("authorize", authorization_gate(toolkit))
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode(tools))
    builder.add_edge(START, "authorize")
    builder.add_edge("authorize", "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    return builder.compile(checkpointer=InMemorySaver())


async def test_gate_interrupts_once_for_every_pending_connection(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    user = "gated"
    async with _toolkit(client, user_identifier=user) as toolkit:
        tools = await toolkit.aget_tools()
        graph = _gated_graph(toolkit, ScriptedReminderModel(), tools)
        run = {"configurable": {"thread_id": "g1"}}
        result = await graph.ainvoke(ASK, run)
        payload = result["__interrupt__"][0].value
        assert {c["connection_name"] for c in payload["connections"]} == {"MY_GMAIL", "MY_CALENDAR"}
        assert emu.count("mcp.tools/call") == 0  # the model never started
        assert len(result["messages"]) == 1

        emu.authorize(user, "MY_GMAIL")  # only one: asked again, for the other
        result = await graph.ainvoke(Command(resume=True), run)
        payload = result["__interrupt__"][0].value
        assert [c["connection_name"] for c in payload["connections"]] == ["MY_CALENDAR"]

        emu.authorize(user, "MY_CALENDAR")
        result = await graph.ainvoke(Command(resume=True), run)
        assert "__interrupt__" not in result
        assert len(emu.user_data(user).events) == 3  # two seeded + the reminder


async def test_fifty_users_in_parallel_on_one_compiled_graph(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    users = [f"user-{i:02d}" for i in range(50)]
    for user in users:
        _authorize_all(emu, user)
    async with _toolkit(client, discovery_user=users[0]) as toolkit:
        tools = await toolkit.aget_tools()
        model = ScriptedToolCallModel(
            calls=[("gmail_send_message", {"to": "boss@acme.example", "subject": "hi", "body": "x"})]
        )
        graph = create_agent(model, tools)

        async def run(user: str) -> Any:
            return await graph.ainvoke(
                {"messages": [("user", "send it")]},
                {"configurable": {"user_id": user, "thread_id": user}},
            )

        results = await asyncio.gather(*(run(u) for u in users))
    for user, result in zip(users, results):
        assert isinstance(result["messages"][-1], AIMessage)
        sent = emu.user_data(user).sent
        assert len(sent) == 1, user
        assert sent[0]["from"].startswith(user) or user in json.dumps(sent[0])
    assert emu.count("oauth.token") == 1


async def test_multi_user_toolkit_without_user_is_a_clear_error(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    async with _toolkit(client, discovery_user="someone") as toolkit:
        emu.authorize("someone", "MY_GMAIL")
        fetch = next(t for t in await toolkit.aget_tools() if t.name == "gmail_fetch_mails")
        with pytest.raises(ValueError, match="No user for this run"):
            await fetch.ainvoke({"max_results": 1})
        text = await fetch.ainvoke({"max_results": 1}, {"configurable": {"user_id": "someone"}})
        assert "msg_0005" in text


async def test_session_token_mode_survives_many_token_lifetimes(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    user = "vt-user"
    _authorize_all(emu, user)
    # Tokens live 60 s (the minimum); a 59.7 s margin makes each one "expire" after 0.3 s.
    async with _toolkit(
        client,
        user_identifier=user,
        mode="session_token",
        session_token_expiry=timedelta(seconds=60),
        token_refresh_margin=59.7,
    ) as toolkit:
        fetch = next(t for t in await toolkit.aget_tools() if t.name == "gmail_fetch_mails")
        for _ in range(6):
            assert "msg_0005" in await fetch.ainvoke({"max_results": 1})
            await asyncio.sleep(0.35)
    assert emu.count("configs.tokens") >= 6
    assert emu.count("instances.") == 0  # virtual server: no instance involved


async def test_session_token_mode_pending_connection_asks_for_authorization(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    toolkit = _toolkit(client, user_identifier="vt-pending", mode="session_token")
    try:
        with pytest.raises(AuthorizationRequired) as err:
            await toolkit.aget_tools()
    finally:
        await toolkit.aclose()
    assert {c.connection_name for c in err.value.connections} == {"MY_GMAIL", "MY_CALENDAR"}  # a token mint needs every connection
    assert all(c.authentication_link for c in err.value.connections)
    assert emu.count("configs.tokens") == 1  # refused once, not retried in a loop


WORKER = Path(__file__).with_name("_resume_worker.py")


def test_interrupted_run_resumes_in_another_process(emu: ScalekitEmulator, tmp_path: Path) -> None:
    db = tmp_path / "checkpoints.sqlite"
    env = {
        **os.environ,
        "SCALEKIT_ENV_URL": emu.env_url,
        "SCALEKIT_CLIENT_ID": emu.client_id,
        "SCALEKIT_CLIENT_SECRET": emu.client_secret,
    }
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")

    def worker(step: str) -> dict[str, Any]:
        proc = subprocess.run(
            [sys.executable, str(WORKER), step, str(db)],
            env=env, capture_output=True, text=True, timeout=120,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    first = worker("start")
    assert first["interrupted"] is True
    assert first["payload"]["type"] == AUTHORIZATION_INTERRUPT_TYPE
    _authorize_all(emu, "proc-user")
    before = len(emu.user_data("proc-user").events)
    second = worker("resume")
    assert second["interrupted"] is False
    assert len(emu.user_data("proc-user").events) == before + 1
    assert "Reminder" in second["last"]
