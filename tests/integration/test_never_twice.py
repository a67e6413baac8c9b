"""A write never runs twice, in every graph shape users build (counts asserted with ``==``).

The scenario of the authorization issue: the model asks, in one turn, for
``gmail_send_message`` (MY_GMAIL, authorized) and ``googlecalendar_create_event``
(MY_CALENDAR, pending). The run pauses for MY_CALENDAR; the user authorizes; the run resumes.
The mail must have gone out exactly once and the event be created exactly once, whichever
graph shape, checkpointer, sync or async path, and wherever the run resumes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import Command, RetryPolicy

from scalekit_langchain import (
    AsyncScalekitClient,
    AuthorizationRequired,
    ScalekitMCPToolkit,
    ToolCallOutcomeUnknown,
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

USER = "grace"
SEND = {
    "name": "gmail_send_message",
    "args": mail("Q3 budget"),
    "id": "call_send",
    "type": "tool_call",
}
EVENT = {
    "name": "googlecalendar_create_event",
    "args": {
        "summary": "Budget review",
        "start_datetime": rfc3339(utcnow()),
        "event_duration_minutes": 15,
    },
    "id": "call_event",
    "type": "tool_call",
}
ASK = {"messages": [("user", "Send the budget and book the review.")]}


def _both_in_one_turn() -> ScriptedChatModel:
    return ScriptedChatModel(
        steps=[AIMessage(content="", tool_calls=[SEND, EVENT]), AIMessage(content="All done.")]
    )


@pytest.fixture
def emu() -> Iterator[ScalekitEmulator]:
    with ScalekitEmulator() as emulator:
        emulator.authorize(USER, "MY_GMAIL")  # MY_CALENDAR stays pending
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


def _custom_graph(model: Any, tools: list[Any], checkpointer: Any, **node_kw: Any) -> Any:
    """The shape LangGraph's docs teach: StateGraph + ToolNode + tools_condition."""

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    async def aagent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    from langchain_core.runnables import RunnableLambda

    builder = StateGraph(MessagesState)
    builder.add_node("agent", RunnableLambda(agent, afunc=aagent))
    builder.add_node("tools", ToolNode(tools), **node_kw)
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    return builder.compile(checkpointer=checkpointer)


def _react_v1(model: Any, tools: list[Any], checkpointer: Any) -> Any:
    from langgraph.prebuilt import create_react_agent

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return create_react_agent(model, tools, checkpointer=checkpointer, version="v1")


def _react_v2(model: Any, tools: list[Any], checkpointer: Any) -> Any:
    from langgraph.prebuilt import create_react_agent

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return create_react_agent(model, tools, checkpointer=checkpointer, version="v2")


def _create_agent(model: Any, tools: list[Any], checkpointer: Any) -> Any:
    agents = pytest.importorskip("langchain.agents")
    return agents.create_agent(model, tools, checkpointer=checkpointer)


def _functional(model: Any, tools: list[Any], checkpointer: Any) -> Any:
    """A functional-API agent loop: the model and each tool call run as tasks."""
    from langchain_core.messages import BaseMessage
    from langgraph.func import entrypoint, task

    by_name = {t.name: t for t in tools}

    @task
    def call_model(messages: list[BaseMessage]) -> AIMessage:
        return model.invoke(messages)

    @task
    def call_tool(call: dict[str, Any]) -> ToolMessage:
        return by_name[call["name"]].invoke(call)

    @entrypoint(checkpointer=checkpointer)
    def loop(inputs: dict[str, Any]) -> dict[str, Any]:
        from langchain_core.messages import HumanMessage

        messages: list[BaseMessage] = [HumanMessage(inputs["messages"][0][1])]
        while True:
            reply = call_model(messages).result()
            messages.append(reply)
            if not reply.tool_calls:
                return {"messages": messages}
            futures = [call_tool(c) for c in reply.tool_calls]
            messages.extend(f.result() for f in futures)

    return loop


SHAPES: dict[str, Callable[..., Any]] = {
    "custom_toolnode": _custom_graph,
    "react_v1": _react_v1,
    "react_v2": _react_v2,
    "create_agent": _create_agent,
    "functional": _functional,
}


def _sent(emu: ScalekitEmulator) -> int:
    return len(emu.user_data(USER).sent)


def _interrupts(result: Any) -> list[Any]:
    return list(result.get("__interrupt__") or []) if isinstance(result, dict) else []


@pytest.mark.parametrize("shape", list(SHAPES))
async def test_async_resume_sends_the_mail_once(
    emu: ScalekitEmulator, client: AsyncScalekitClient, shape: str
) -> None:
    async with _toolkit(client) as toolkit:
        graph = SHAPES[shape](_both_in_one_turn(), await toolkit.aget_tools(), InMemorySaver())
        run = {"configurable": {"thread_id": f"a-{shape}"}}
        result = await graph.ainvoke(ASK, run)
        pauses = _interrupts(result)
        assert pauses, result
        assert {c["connection_name"] for p in pauses for c in p.value["connections"]} == {
            "MY_CALENDAR"
        }
        assert _sent(emu) == 1  # the authorized call went out; the pending one did not
        assert len(new_events(emu, USER)) == 0
        emu.authorize(USER, "MY_CALENDAR")
        result = await graph.ainvoke(resume_authorization(result), run)
        assert not _interrupts(result), result
    assert _sent(emu) == 1
    assert len(new_events(emu, USER)) == 1
    assert emu.count("mcp.tools/call") == 2


@pytest.mark.parametrize("shape", ["custom_toolnode", "react_v2", "create_agent", "functional"])
def test_sync_resume_sends_the_mail_once(emu: ScalekitEmulator, shape: str) -> None:
    client = AsyncScalekitClient(emu.env_url, emu.client_id, emu.client_secret)
    with _toolkit(client) as toolkit:
        graph = SHAPES[shape](_both_in_one_turn(), toolkit.get_tools(), InMemorySaver())
        run = {"configurable": {"thread_id": f"s-{shape}"}}
        result = graph.invoke(ASK, run)
        assert _interrupts(result)
        emu.authorize(USER, "MY_CALENDAR")
        result = graph.invoke(resume_authorization(result), run)
        assert not _interrupts(result)
    from scalekit_langchain import _session_loop

    _session_loop.run_sync(client.aclose())
    assert _sent(emu) == 1
    assert len(new_events(emu, USER)) == 1


async def test_async_sqlite_checkpointer(
    emu: ScalekitEmulator, client: AsyncScalekitClient, tmp_path: Path
) -> None:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    async with AsyncSqliteSaver.from_conn_string(str(tmp_path / "cp.db")) as saver:
        async with _toolkit(client) as toolkit:
            graph = _custom_graph(_both_in_one_turn(), await toolkit.aget_tools(), saver)
            run = {"configurable": {"thread_id": "sqlite"}}
            result = await graph.ainvoke(ASK, run)
            emu.authorize(USER, "MY_CALENDAR")
            result = await graph.ainvoke(resume_authorization(result), run)
            assert not _interrupts(result)
    assert _sent(emu) == 1
    assert len(new_events(emu, USER)) == 1


def test_sync_sqlite_checkpointer(emu: ScalekitEmulator, tmp_path: Path) -> None:
    from langgraph.checkpoint.sqlite import SqliteSaver

    client = AsyncScalekitClient(emu.env_url, emu.client_id, emu.client_secret)
    with SqliteSaver.from_conn_string(str(tmp_path / "cp.db")) as saver, _toolkit(client) as tk:
        graph = _custom_graph(_both_in_one_turn(), tk.get_tools(), saver)
        run = {"configurable": {"thread_id": "sqlite-sync"}}
        result = graph.invoke(ASK, run)
        emu.authorize(USER, "MY_CALENDAR")
        result = graph.invoke(resume_authorization(result), run)
        assert not _interrupts(result)
    from scalekit_langchain import _session_loop

    _session_loop.run_sync(client.aclose())
    assert _sent(emu) == 1
    assert len(new_events(emu, USER)) == 1


_WORKER = Path(__file__).with_name("_never_twice_worker.py")


def _worker(step: str, db: Path, emu: ScalekitEmulator) -> dict[str, Any]:
    env = {
        **os.environ,
        "SCALEKIT_ENV_URL": emu.env_url,
        "SCALEKIT_CLIENT_ID": emu.client_id,
        "SCALEKIT_CLIENT_SECRET": emu.client_secret,
        "PYTHONPATH": str(Path(__file__).parents[2]),
    }
    done = subprocess.run(
        [sys.executable, str(_WORKER), step, str(db), USER],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_resume_in_another_process_sends_the_mail_once(
    emu: ScalekitEmulator, tmp_path: Path
) -> None:
    db = tmp_path / "checkpoints.db"
    first = _worker("start", db, emu)
    assert first["interrupted"] is True
    assert _sent(emu) == 1
    emu.authorize(USER, "MY_CALENDAR")
    second = _worker("resume", db, emu)
    assert second["interrupted"] is False, second
    assert _sent(emu) == 1
    assert len(new_events(emu, USER)) == 1


# --------------------------------------------------------------------------- retries


async def test_retry_policy_does_not_resend_a_call_whose_outcome_is_unknown(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    emu.authorize(USER, "MY_CALENDAR")
    model = ScriptedChatModel(
        steps=[AIMessage(content="", tool_calls=[SEND]), AIMessage(content="ok")]
    )
    async with _toolkit(client) as toolkit:
        graph = _custom_graph(
            model,
            await toolkit.aget_tools(),
            InMemorySaver(),
            retry_policy=RetryPolicy(max_attempts=3),
        )
        emu.fail_next(200, kind="mcp.tools/call", mode="drop_after")
        with pytest.raises(ToolCallOutcomeUnknown):
            await graph.ainvoke(ASK, {"configurable": {"thread_id": "retry"}})
    assert _sent(emu) == 1
    assert emu.count("mcp.tools/call") == 1


async def test_even_a_retry_on_every_exception_does_not_resend(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    emu.authorize(USER, "MY_CALENDAR")
    model = ScriptedChatModel(
        steps=[AIMessage(content="", tool_calls=[SEND]), AIMessage(content="ok")]
    )
    async with _toolkit(client) as toolkit:
        graph = _custom_graph(
            model,
            await toolkit.aget_tools(),
            InMemorySaver(),
            retry_policy=RetryPolicy(max_attempts=3, initial_interval=0.01, retry_on=Exception),
        )
        emu.fail_next(200, kind="mcp.tools/call", mode="drop_after")
        with pytest.raises(ToolCallOutcomeUnknown):
            await graph.ainvoke(ASK, {"configurable": {"thread_id": "retry-all"}})
    assert _sent(emu) == 1
    assert emu.count("mcp.tools/call") == 1


async def test_a_retried_node_does_not_resend_completed_calls(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    """The node fails with a retryable error after its calls completed; RetryPolicy re-runs it."""
    emu.authorize(USER, "MY_CALENDAR")
    model = _both_in_one_turn()
    async with _toolkit(client) as toolkit:
        tool_node = ToolNode(await toolkit.aget_tools())
        attempts: list[int] = []

        async def flaky_tools(state: MessagesState, config: RunnableConfig) -> Any:
            update = await tool_node.ainvoke(state, config)
            attempts.append(1)
            if len(attempts) == 1:
                raise ConnectionError("a flaky step after the tools ran")
            return update

        async def agent(state: MessagesState) -> dict[str, Any]:
            return {"messages": [await model.ainvoke(state["messages"])]}

        builder = StateGraph(MessagesState)
        builder.add_node("agent", agent)
        builder.add_node(
            "tools", flaky_tools, retry_policy=RetryPolicy(max_attempts=3, initial_interval=0.01)
        )
        builder.add_edge(START, "agent")
        builder.add_conditional_edges("agent", tools_condition)
        builder.add_edge("tools", "agent")
        graph = builder.compile(checkpointer=InMemorySaver())
        result = await graph.ainvoke(ASK, {"configurable": {"thread_id": "retry-node"}})
    assert len(attempts) == 2
    assert result["messages"][-1].content == "All done."
    assert _sent(emu) == 1
    assert len(new_events(emu, USER)) == 1
    assert emu.count("mcp.tools/call") == 2


# --------------------------------------------------------------------------- pauses


async def test_several_pauses_in_one_turn_resume_with_one_call(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    other = "henry"
    model = ScriptedChatModel(
        steps=[
            AIMessage(content="", tool_calls=[SEND, EVENT]),
            AIMessage(content="All done."),
        ]
    )
    async with _toolkit(client, user_identifier=other) as toolkit:
        graph = _react_v2(model, await toolkit.aget_tools(), InMemorySaver())
        run = {"configurable": {"thread_id": "two-pauses"}}
        result = await graph.ainvoke(ASK, run)
        pauses = _interrupts(result)
        assert len(pauses) == 2
        with pytest.raises(RuntimeError):  # what LangGraph says to a bare resume
            await graph.ainvoke(Command(resume=True), run)
        emu.authorize(other, "MY_GMAIL")
        emu.authorize(other, "MY_CALENDAR")
        result = await graph.ainvoke(resume_authorization(result), run)
        assert not _interrupts(result)
    assert len(emu.user_data(other).sent) == 1
    assert len(new_events(emu, other)) == 1


async def test_no_checkpointer_raises_a_clear_error_instead_of_a_dead_interrupt(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    async with _toolkit(client) as toolkit:
        graph = _custom_graph(_both_in_one_turn(), await toolkit.aget_tools(), None)
        with pytest.raises(AuthorizationRequired) as info:
            await graph.ainvoke(ASK)
    assert "checkpointer" in str(info.value)
    assert info.value.links.keys() == {"MY_CALENDAR"}


def test_resume_authorization_needs_an_authorization_interrupt() -> None:
    with pytest.raises(ValueError, match="no scalekit authorization interrupt"):
        resume_authorization({"messages": []})


async def test_connection_expiring_mid_run_pauses_and_resumes_once(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    emu.authorize(USER, "MY_CALENDAR")
    model = ScriptedChatModel(
        steps=[
            AIMessage(content="", tool_calls=[{**SEND, "id": "first"}]),
            AIMessage(content="", tool_calls=[{**SEND, "id": "second", "args": mail("Second")}]),
            AIMessage(content="done"),
        ]
    )
    async with _toolkit(client) as toolkit:
        tools = await toolkit.aget_tools()
        graph = _custom_graph(model, tools, InMemorySaver())
        run = {"configurable": {"thread_id": "expire"}}
        # The first send runs; then the account expires before the model's second send.
        original = model.steps[1]

        def second_turn(messages: Any) -> AIMessage:
            emu.expire_connection(USER, "MY_GMAIL")
            return original

        model.steps[1] = second_turn
        result = await graph.ainvoke(ASK, run)
        (pause,) = _interrupts(result)
        assert [c["connection_name"] for c in pause.value["connections"]] == ["MY_GMAIL"]
        assert pause.value["connections"][0]["status"] == "EXPIRED"
        assert _sent(emu) == 1
        emu.authorize(USER, "MY_GMAIL")
        result = await graph.ainvoke(resume_authorization(result), run)
        assert not _interrupts(result)
    assert _sent(emu) == 2
    assert [m["subject"] for m in emu.user_data(USER).sent] == ["Q3 budget", "Second"]


async def test_warm_calls_on_active_connections_cost_no_rest_request(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    emu.authorize(USER, "MY_CALENDAR")
    async with _toolkit(client) as toolkit:
        fetch = {t.name: t for t in await toolkit.aget_tools()}["gmail_fetch_mails"]
        await fetch.ainvoke({"max_results": 1})
        emu.reset_counts()
        for _ in range(5):
            await fetch.ainvoke({"max_results": 1})
        assert emu.counts() == {"mcp.tools/call": 5}


async def test_retry_policy_and_a_send_whose_answer_times_out(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    """The issue's scenario: RetryPolicy() on the tools node, the answer comes too late."""
    import asyncio

    emu.authorize(USER, "MY_CALENDAR")
    model = ScriptedChatModel(steps=[AIMessage(content="", tool_calls=[SEND]), AIMessage(content="ok")])
    async with _toolkit(client, call_timeout=0.5) as toolkit:
        graph = _custom_graph(
            model, await toolkit.aget_tools(), InMemorySaver(), retry_policy=RetryPolicy()
        )
        emu.set_latency(1.5, kind="mcp.tools/call")  # the answer would come too late
        with pytest.raises(ToolCallOutcomeUnknown):
            await graph.ainvoke(ASK, {"configurable": {"thread_id": "timeout"}})
        await asyncio.sleep(2.0)  # past the server's delay: anything queued would have run
        emu.set_latency(0)
    # One request reached the server and RetryPolicy sent no other. (When we give up we close
    # the session, and the emulator ends the calls still in flight on it, so the mail never
    # went out; the point is that nothing was sent again.)
    assert emu.count("mcp.tools/call") == 1
    assert _sent(emu) == 0
