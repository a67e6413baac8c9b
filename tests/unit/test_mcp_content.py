"""_mcp_content: the same server answer gives the same values on both MCP stacks.

Every expectation here is a literal written once; the suite runs on mcp 1.x and on mcp 2.x, so
a stack that converted differently fails here.
"""

from __future__ import annotations

from importlib.metadata import version
from types import SimpleNamespace
from typing import Any

import pytest
from mcp import types as mcp_types

from scalekit_langchain import _mcp_content, _mcp_stack
from scalekit_langchain._mcp_content import ToolResult, to_langchain, to_tool_result, to_tool_spec

TOOL_WIRE: dict[str, Any] = {
    "name": "gmail_send_message",
    "title": "Send mail",
    "description": "Send an email.",
    "inputSchema": {
        "type": "object",
        "properties": {"to": {"type": "string"}},
        "required": ["to"],
    },
    "outputSchema": {"type": "object", "properties": {"id": {"type": "string"}}},
    "annotations": {"readOnlyHint": False, "destructiveHint": True, "openWorldHint": True},
    "_meta": {"scalekit/connection": "MY_GMAIL"},
}

PNG = "iVBORw0KGgo="
WAV = "UklGRiQAAABXQVZF"


def _result(content: list[dict[str, Any]], **extra: Any) -> Any:
    return mcp_types.CallToolResult.model_validate({"content": content, **extra})


def test_mcp_major_is_the_installed_sdk() -> None:
    assert int(version("mcp").split(".")[0]) == _mcp_stack.MCP_MAJOR
    assert _mcp_stack.MCP_MAJOR in (1, 2)
    expected_http = "httpx2" if _mcp_stack.MCP_MAJOR == 2 else "httpx"
    assert _mcp_stack.http.__name__ == expected_http


def test_tool_spec_reads_the_wire_form() -> None:
    raw = mcp_types.Tool.model_validate(TOOL_WIRE)
    spec = to_tool_spec(raw)
    assert spec.name == "gmail_send_message"
    assert spec.title == "Send mail"
    assert spec.description == "Send an email."
    assert spec.input_schema == TOOL_WIRE["inputSchema"]
    assert spec.output_schema == TOOL_WIRE["outputSchema"]
    assert spec.annotations == {
        "readOnlyHint": False,
        "destructiveHint": True,
        "openWorldHint": True,
    }
    assert spec.meta == {"scalekit/connection": "MY_GMAIL"}
    assert spec.raw is raw


def test_tool_spec_of_a_bare_tool_has_empty_extras() -> None:
    raw = mcp_types.Tool.model_validate({"name": "ping", "inputSchema": {"type": "object"}})
    spec = to_tool_spec(raw)
    assert (spec.description, spec.title, spec.output_schema) == ("", None, None)
    assert (spec.annotations, spec.meta) == ({}, {})
    assert spec.input_schema == {"type": "object"}


def test_tool_result_fields() -> None:
    raw = _result(
        [{"type": "text", "text": "a"}, {"type": "image", "data": PNG, "mimeType": "image/png"},
         {"type": "text", "text": "b"}],
        isError=True,
        structuredContent={"id": "msg_1"},
        _meta={"scalekit/authorization_required": {"connection_name": "MY_GMAIL"}},
    )
    result = to_tool_result(raw)
    assert result.is_error is True
    assert result.text == "a\nb"
    assert result.structured_content == {"id": "msg_1"}
    assert result.meta == {"scalekit/authorization_required": {"connection_name": "MY_GMAIL"}}
    assert result.raw is raw


def test_tool_result_defaults() -> None:
    result = to_tool_result(_result([]))
    assert (result.is_error, result.meta, result.structured_content, result.text) == (
        False, {}, None, "")


def test_all_text_content_is_one_string_with_the_artifact() -> None:
    result = to_tool_result(
        _result(
            [{"type": "text", "text": "first"}, {"type": "text", "text": "second"}],
            structuredContent={"count": 2},
        )
    )
    assert to_langchain(result) == ("first\nsecond", {"structured_content": {"count": 2}})


def test_no_structured_content_means_no_artifact() -> None:
    assert to_langchain(to_tool_result(_result([{"type": "text", "text": "x"}]))) == ("x", None)
    assert to_langchain(to_tool_result(_result([]))) == ("", None)


MIXED: list[dict[str, Any]] = [
    {"type": "text", "text": "see attachments"},
    {"type": "image", "data": PNG, "mimeType": "image/png"},
    {"type": "audio", "data": WAV, "mimeType": "audio/wav"},
    {"type": "resource_link", "uri": "https://files.example/a.png", "name": "a",
     "mimeType": "image/png"},
    {"type": "resource_link", "uri": "https://files.example/b.pdf", "name": "b",
     "mimeType": "application/pdf"},
    {"type": "resource", "resource": {"uri": "mem://note", "text": "inline note",
                                      "mimeType": "text/plain"}},
    {"type": "resource", "resource": {"uri": "mem://pic", "blob": PNG, "mimeType": "image/png"}},
    {"type": "resource", "resource": {"uri": "mem://bin", "blob": "AAEC",
                                      "mimeType": "application/octet-stream"}},
]

MIXED_EXPECTED: list[dict[str, Any]] = [
    {"type": "text", "text": "see attachments"},
    {"type": "image", "base64": PNG, "mime_type": "image/png"},
    {"type": "audio", "base64": WAV, "mime_type": "audio/wav"},
    {"type": "image", "url": "https://files.example/a.png", "mime_type": "image/png"},
    {"type": "file", "url": "https://files.example/b.pdf", "mime_type": "application/pdf"},
    {"type": "text", "text": "inline note"},
    {"type": "image", "base64": PNG, "mime_type": "image/png"},
    {"type": "file", "base64": "AAEC", "mime_type": "application/octet-stream"},
]


def test_mixed_content_converts_to_safe_blocks_identically_on_both_stacks() -> None:
    content, artifact = to_langchain(to_tool_result(_result(MIXED)))
    assert content == MIXED_EXPECTED
    assert artifact is None


def test_audio_never_raises() -> None:
    """Regression: langchain-mcp-adapters and langchain.mcp raise NotImplementedError on audio."""
    result = to_tool_result(_result([{"type": "audio", "data": WAV, "mimeType": "audio/mpeg"}]))
    assert to_langchain(result) == (
        [{"type": "audio", "base64": WAV, "mime_type": "audio/mpeg"}], None)


def test_an_error_result_converts_like_any_other() -> None:
    result = to_tool_result(_result([{"type": "text", "text": "bad recipient"}], isError=True))
    assert to_langchain(result) == ("bad recipient", None)


def test_unknown_block_type_becomes_a_text_placeholder() -> None:
    raw = SimpleNamespace(content=[{"type": "hologram", "data": "..."}, {"type": "text", "text": "ok"}])
    result = ToolResult(is_error=False, meta={}, structured_content=None, text="ok", raw=raw)
    assert to_langchain(result) == (
        "[MCP content of type 'hologram' is not shown]\nok", None)


def test_conversion_is_deterministic() -> None:
    """LangChain's block factories stamp random ids; the same answer converts the same way."""
    result = to_tool_result(_result(MIXED))
    assert to_langchain(result) == to_langchain(result)


def test_own_conversion_matches_the_maintained_converter() -> None:
    """Where a maintained converter is installed, ours agrees with it block by block."""
    maintained = _mcp_content.maintained_converter()
    if maintained is None:
        pytest.skip("no maintained converter installed beside this mcp (adapters / langchain.mcp)")
    blocks = _result([b for b in MIXED if b["type"] != "audio"]).content
    for block in blocks:
        theirs = _mcp_content.drop_generated_id(dict(maintained(block)))
        ours = _mcp_content.drop_generated_id(_mcp_content.own_block(_mcp_stack.wire_form(block)))
        assert ours == theirs


@pytest.mark.skipif(_mcp_stack.MCP_MAJOR != 1, reason="mcp 1.x error type")
def test_mcp_error_reads_code_and_message_on_mcp1() -> None:
    from mcp.shared.exceptions import McpError

    exc = McpError(mcp_types.ErrorData(code=-32602, message="bad params"))
    assert _mcp_stack.mcp_error(exc) == (-32602, "bad params")
    assert _mcp_stack.mcp_error(ValueError("x")) is None


@pytest.mark.skipif(_mcp_stack.MCP_MAJOR != 2, reason="mcp 2.x error type")
def test_mcp_error_reads_code_and_message_on_mcp2() -> None:
    from mcp.shared.exceptions import MCPError  # type: ignore[attr-defined, unused-ignore]

    exc = MCPError(-32602, "bad params")
    assert _mcp_stack.mcp_error(exc) == (-32602, "bad params")
    assert _mcp_stack.mcp_error(ValueError("x")) is None


_ANSWERS: list[dict[str, Any]] = [
    {"content": []},
    {"content": [{"type": "text", "text": ""}, {"type": "text", "text": "é ✓"}]},
    {"content": [{"type": "text", "text": "a"}], "isError": True},
    {
        "content": [
            {"type": "image", "data": PNG, "mimeType": "image/png"},
            {"type": "text", "text": "b"},
            {"type": "resource", "resource": {"uri": "file:///x", "text": "r"}},
        ],
        "structuredContent": {"messages": [{"id": "m1", "labels": ["A", "B"], "n": 1.5}]},
        "_meta": {"scalekit/connection": "MY_GMAIL", "nested": {"k": [1, None]}},
    },
]


@pytest.mark.parametrize("wire", _ANSWERS)
def test_a_plain_result_read_from_attributes_equals_its_wire_form(
    wire: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every call's answer is read from the SDK object's attributes (no dump); it must say
    exactly what the wire form says, on both SDK majors."""
    raw = mcp_types.CallToolResult.model_validate(wire)
    fast = to_tool_result(raw)
    monkeypatch.setattr(_mcp_content, "_complete", lambda result: None)
    slow = to_tool_result(raw)
    assert fast == slow
    assert fast.raw is raw
