"""A call that fails before anything is sent is that call's error, and only that call's.

The issue's scenario: in one model turn, a mail is sent and a sibling call carries an argument
that cannot be encoded (a lone surrogate, valid in the model's JSON). Before the fix the run
raised ``ScalekitConnectionError`` ("could not reach MCP server", the server was fine) and the
mail that went out came back as ``ToolCallOutcomeUnknown``. Now the odd call is an error
``ToolMessage`` naming the problem, the mail's answer is its own, the session stays open (one
``initialize`` for everything) and nothing is sent twice. Counts asserted with ``==``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode

from scalekit_langchain import AsyncScalekitClient, ScalekitMCPToolkit, _session_loop
from scalekit_langchain.testing import ScalekitEmulator
from tests.integration._toolkit_support import (
    MAIL_CONFIG,
    MAIL_MAPPINGS,
    ScriptedChatModel,
    mail,
    tool_messages,
)
from tests.integration.test_never_twice import SHAPES

USER = "odd-user"
LONE = "\ud83d"
ASK = {"messages": [("user", "Send both.")]}
NOT_CALLED = "gmail_send_message was not called (nothing was sent): "


def _send(call_id: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"name": "gmail_send_message", "args": args, "id": call_id, "type": "tool_call"}


@pytest.fixture
def emu() -> Iterator[ScalekitEmulator]:
    with ScalekitEmulator() as emulator:
        emulator.authorize(USER, "MY_GMAIL")
        emulator.authorize(USER, "MY_CALENDAR")
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


def _check_turn(
    emu: ScalekitEmulator, result: dict[str, Any], problem: str, sessions: int = 1
) -> None:
    good, odd = tool_messages(result["messages"])
    assert (good.tool_call_id, good.status) == ("good", "success")
    assert str(good.content).startswith("Email sent (id msg_")
    assert (odd.tool_call_id, odd.status) == ("odd", "error")
    assert str(odd.content).startswith(NOT_CALLED)
    assert problem in str(odd.content)
    assert [m["subject"] for m in emu.user_data(USER).sent] == ["Good news"]
    assert emu.count("mcp.tools/call") == 1
    assert emu.count("mcp.initialize") == sessions  # the shared sessions stayed open
    assert emu.count("mcp.DELETE") == 0


ODD = {
    "lone_surrogate": ({"subject": f"Hi {LONE}"}, "holds a lone surrogate ('\\ud83d' at position 3)"),
    "nan": ({"subject": math.nan}, "argument 'subject' is nan, which is not a JSON number"),
    "bytes": ({"body": b"raw"}, "argument 'body' is a bytes, which JSON cannot carry"),
    "schema": ({"subject": ["not", "a", "string"]}, "argument 'subject': ['not', 'a', 'string'] is not of type 'string'"),
}


@pytest.mark.parametrize("shape", ["custom_toolnode", "create_agent", "functional"])
@pytest.mark.parametrize("odd", list(ODD))
async def test_an_odd_sibling_does_not_change_the_sends_outcome(
    emu: ScalekitEmulator, client: AsyncScalekitClient, shape: str, odd: str
) -> None:
    change, problem = ODD[odd]
    model = ScriptedChatModel(
        steps=[
            AIMessage(
                content="",
                tool_calls=[
                    _send("good", mail("Good news")),
                    _send("odd", {**mail("Odd"), **change}),
                ],
            ),
            AIMessage(content="Done."),
        ]
    )
    async with _toolkit(client) as toolkit:
        graph = SHAPES[shape](model, await toolkit.aget_tools(), InMemorySaver())
        result = await graph.ainvoke(ASK, {"configurable": {"thread_id": f"odd-{shape}-{odd}"}})
        assert result["messages"][-1].content == "Done."
        # Sessions live on the loop that uses them: the functional shape's tasks call the
        # tools synchronously (the background loop's session) after this loop listed them.
        _check_turn(emu, result, problem, sessions=2 if shape == "functional" else 1)


@pytest.mark.parametrize("shape", ["custom_toolnode", "create_agent"])
def test_an_odd_sibling_sync(emu: ScalekitEmulator, shape: str) -> None:
    model = ScriptedChatModel(
        steps=[
            AIMessage(
                content="",
                tool_calls=[
                    _send("good", mail("Good news")),
                    _send("odd", {**mail("Odd"), "subject": LONE}),
                ],
            ),
            AIMessage(content="Done."),
        ]
    )
    client = AsyncScalekitClient(emu.env_url, emu.client_id, emu.client_secret)
    with _toolkit(client) as toolkit:
        graph = SHAPES[shape](model, toolkit.get_tools(), InMemorySaver())
        result = graph.invoke(ASK, {"configurable": {"thread_id": f"odd-sync-{shape}"}})
        _check_turn(emu, result, "holds a lone surrogate ('\\ud83d' at position 0)")
    _session_loop.run_sync(client.aclose())


# --------------------------------------------------------------------------- property


lone_surrogates = st.integers(min_value=0xD800, max_value=0xDFFF).map(chr)
with_surrogate = st.tuples(st.text(max_size=8), lone_surrogates, st.text(max_size=8)).map(
    "".join
)
not_json = (
    st.sampled_from([math.nan, math.inf, -math.inf])
    | st.binary(max_size=8)
    | st.sets(st.integers(), max_size=3)
    | st.builds(object)
    | st.datetimes()
    | st.dictionaries(st.integers(), st.text(max_size=3), min_size=1, max_size=2)
)
#: Valid JSON the tool's schema refuses (its fields are strings).
schema_refused = st.integers() | st.booleans() | st.lists(st.text(max_size=4), max_size=3)
odd_value = with_surrogate | not_json | schema_refused
#: Where the odd value sits: a field, or deep inside one.
placed = st.sampled_from(["subject", "body", "cc", "thread_id"]).flatmap(
    lambda field: st.sampled_from(["plain", "in_list", "in_object"]).flatmap(
        lambda how: odd_value.map(
            lambda v: {
                field: v if how == "plain" else [v] if how == "in_list" else {"x": v}
            }
        )
    )
)


@pytest.fixture(scope="module")
def prop_emu() -> Iterator[ScalekitEmulator]:
    with ScalekitEmulator() as emulator:
        emulator.authorize(USER, "MY_GMAIL")
        yield emulator


@pytest.fixture(scope="module")
def tool_graph(prop_emu: ScalekitEmulator) -> Iterator[Any]:
    """A graph that runs the calls of one AI message with a ToolNode (no model)."""
    client = AsyncScalekitClient(prop_emu.env_url, prop_emu.client_id, prop_emu.client_secret)
    try:
        with _toolkit(client) as toolkit:
            builder = StateGraph(MessagesState)
            builder.add_node("tools", ToolNode(toolkit.get_tools()))
            builder.add_edge(START, "tools")
            yield builder.compile()
    finally:
        _session_loop.run_sync(client.aclose())


_numbers = itertools.count()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(change=placed)
@example(change={"subject": LONE})
@example(change={"body": math.nan})
@example(change={"cc": [math.inf]})
@example(change={"subject": {"x": b"\xff"}})
async def test_any_odd_argument_next_to_a_send_leaves_the_send_alone(
    prop_emu: ScalekitEmulator, tool_graph: Any, change: dict[str, Any]
) -> None:
    n = next(_numbers)
    subject = f"Property send {n}"
    sent_before = len(prop_emu.user_data(USER).sent)
    calls_before = prop_emu.count("mcp.tools/call")
    turn = AIMessage(
        content="",
        tool_calls=[_send(f"good-{n}", mail(subject)), _send(f"odd-{n}", {**mail("Odd"), **change})],
    )
    result = await tool_graph.ainvoke({"messages": [turn]})
    good, odd = result["messages"][1:]
    assert isinstance(good, ToolMessage) and isinstance(odd, ToolMessage)
    assert good.status == "success", good.content
    assert str(good.content).startswith("Email sent (id msg_")
    assert odd.status == "error"
    assert str(odd.content).startswith(NOT_CALLED)
    sent = prop_emu.user_data(USER).sent
    assert len(sent) == sent_before + 1
    assert sent[-1]["subject"] == subject
    assert prop_emu.count("mcp.tools/call") == calls_before + 1
    # One session for every example on each loop that used it: the sync get_tools() of the
    # fixture (the background loop) and the graph's async calls (this test's loop).
    assert prop_emu.count("mcp.initialize") == 2
    assert prop_emu.count("mcp.DELETE") == 0
