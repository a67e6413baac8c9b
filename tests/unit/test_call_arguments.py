"""Arguments a call cannot be sent with are that call's error, before anything reaches a session.

A fake backend stands for the toolkit: it counts what would have been sent.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

import jsonschema
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableConfig

from scalekit_langchain import ScalekitMCPTool

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "to": {"type": "string"},
        "subject": {"type": "string"},
        "attendees": {"type": "array", "items": {"type": "object"}},
        "extra": {},
    },
    "required": ["to"],
}


class Backend:
    """Counts the calls that would have reached the server."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def arun_tool(
        self,
        mcp_name: str,
        arguments: dict[str, Any],
        config: RunnableConfig | None,
        tool_call_id: str | None,
    ) -> tuple[Any, Any, bool]:
        return self.run_tool(mcp_name, arguments, config, tool_call_id)

    def run_tool(
        self,
        mcp_name: str,
        arguments: dict[str, Any],
        config: RunnableConfig | None,
        tool_call_id: str | None,
    ) -> tuple[Any, Any, bool]:
        self.sent.append(arguments)
        return "sent", None, False


def _tool(schema: dict[str, Any] | None = None) -> tuple[ScalekitMCPTool, Backend]:
    backend = Backend()
    tool = ScalekitMCPTool.from_spec(None, backend, mcp_name="gmail_send_message")
    tool.args_schema = dict(SCHEMA if schema is None else schema)
    return tool, backend


def _call(args: dict[str, Any]) -> dict[str, Any]:
    return {"name": "gmail_send_message", "args": args, "id": "c1", "type": "tool_call"}


ODD: list[tuple[dict[str, Any], str]] = [
    ({"to": "a@b.example", "subject": "\ud83d"}, "argument 'subject' holds a lone surrogate ('\\ud83d' at position 0)"),
    ({"to": "a@b.example", "subject": "ok \udc00 then"}, "argument 'subject' holds a lone surrogate ('\\udc00' at position 3)"),
    ({"to": "a@b.example", "extra": math.nan}, "argument 'extra' is nan, which is not a JSON number"),
    ({"to": "a@b.example", "extra": -math.inf}, "argument 'extra' is -inf, which is not a JSON number"),
    ({"to": "a@b.example", "extra": b"raw"}, "argument 'extra' is a bytes, which JSON cannot carry"),
    ({"to": "a@b.example", "extra": {"x"}}, "argument 'extra' is a set, which JSON cannot carry"),
    ({"to": "a@b.example", "extra": object()}, "argument 'extra' is a object, which JSON cannot carry"),
    (
        {"to": "a@b.example", "extra": datetime(2026, 1, 1, tzinfo=timezone.utc)},
        "argument 'extra' is a datetime, which JSON cannot carry",
    ),
    ({"to": "a@b.example", "extra": {1: "x"}}, "argument 'extra' has the key 1; JSON object keys are strings"),
    (
        {"to": "a@b.example", "attendees": [{"email": "\ud800"}]},
        "argument 'attendees[0].email' holds a lone surrogate",
    ),
    ({"subject": "no recipient"}, "the arguments: 'to' is a required property"),
    ({"to": 7}, "argument 'to': 7 is not of type 'string'"),
    ({"to": "a@b.example", "attendees": ["x"]}, "argument 'attendees[0]': 'x' is not of type 'object'"),
]


@pytest.mark.parametrize(("args", "problem"), ODD)
def test_odd_arguments_are_an_error_message_and_nothing_is_sent(
    args: dict[str, Any], problem: str
) -> None:
    tool, backend = _tool()
    message = tool.invoke(_call(args))
    assert isinstance(message, ToolMessage)
    assert message.status == "error"
    assert str(message.content).startswith(
        "gmail_send_message was not called (nothing was sent): "
    )
    assert problem in str(message.content)
    str(message.content).encode("utf-8")  # the message itself can be sent on to the model
    assert backend.sent == []


@pytest.mark.parametrize(("args", "problem"), ODD)
async def test_odd_arguments_async(args: dict[str, Any], problem: str) -> None:
    tool, backend = _tool()
    message = await tool.ainvoke(_call(args))
    assert message.status == "error"
    assert problem in str(message.content)
    assert backend.sent == []


def test_good_arguments_are_sent_once_as_given() -> None:
    tool, backend = _tool()
    args = {"to": "a@b.example", "subject": "é€😀", "attendees": [{"email": "x"}], "extra": (1, 2.5)}
    message = tool.invoke(_call(args))
    assert message.status == "success"
    assert backend.sent == [args]


def test_a_schema_that_is_itself_broken_leaves_the_judgement_to_the_server() -> None:
    tool, backend = _tool({"type": "object", "properties": {"to": {"type": 12}}})
    assert tool.invoke(_call({"to": 7})).status == "success"
    assert tool.invoke(_call({"to": math.nan})).status == "error"  # still not JSON
    assert backend.sent == [{"to": 7}]


def test_a_new_schema_from_a_relisting_is_the_one_checked() -> None:
    tool, backend = _tool()
    assert tool.invoke(_call({"to": 7})).status == "error"
    tool.args_schema = {"type": "object", "properties": {"to": {"type": "integer"}}}
    assert tool.invoke(_call({"to": 7})).status == "success"
    assert backend.sent == [{"to": 7}]


def test_arguments_that_contain_themselves_are_an_error() -> None:
    tool, backend = _tool()
    loop: dict[str, Any] = {}
    loop["self"] = loop
    message = tool.invoke(_call({"to": "a@b.example", "extra": loop}))
    assert message.status == "error"
    assert "nested too deeply" in str(message.content)
    assert backend.sent == []


# --------------------------------------------------------------------------- quick check vs jsonschema

SCHEMAS: list[dict[str, Any]] = [
    SCHEMA,  # has a property without "type": jsonschema decides every call
    {
        "type": "object",
        "properties": {
            "to": {"type": "string", "format": "email", "description": "who"},
            "n": {"type": "integer"},
            "x": {"type": "number"},
            "flag": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "meta": {"type": "object"},
            "gone": {"type": "null"},
        },
        "required": ["to"],
        "additionalProperties": False,
    },
    {"type": "object", "properties": {"n": {"type": ["integer", "string"]}}, "required": ["n"]},
    {"type": "object", "properties": {"n": {"type": "integer", "minimum": 3}}},
]

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
arguments = st.dictionaries(
    st.sampled_from(["to", "n", "x", "flag", "tags", "meta", "gone", "subject", "other"]),
    json_values,
    max_size=5,
)


@settings(max_examples=300, deadline=None)
@given(schema=st.sampled_from(SCHEMAS), args=arguments)
@example(schema=SCHEMAS[1], args={"to": "a", "n": True})
@example(schema=SCHEMAS[1], args={"to": "a", "n": 2.0})
@example(schema=SCHEMAS[1], args={"to": "a", "x": False})
@example(schema=SCHEMAS[1], args={"to": "a", "tags": ["a", 1]})
@example(schema=SCHEMAS[1], args={"to": "a", "other": 1})
def test_the_check_agrees_with_jsonschema(schema: dict[str, Any], args: dict[str, Any]) -> None:
    tool, backend = _tool(schema)
    message = tool.invoke(_call(args))
    valid = jsonschema.Draft202012Validator(schema).is_valid(args)
    assert (message.status == "success") is valid, (schema, args, message.content)
    assert len(backend.sent) == (1 if valid else 0)
