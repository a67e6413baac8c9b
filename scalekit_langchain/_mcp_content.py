"""What the MCP SDK's answers mean, the same on both stacks: tool specs, tool results, and the
content and artifact of a LangChain ``ToolMessage``.

Values are read from the SDK's wire form (:func:`~scalekit_langchain._mcp_stack.wire_form`), so
the same server answer converts to the same values on mcp 1.x and 2.x. Content blocks go through
the installed maintained converter (langchain-mcp-adapters, or ``langchain.mcp``) where it knows the
block type, and through :func:`own_block` for the rest (audio, types newer than the converter).
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.messages.content import (
    create_audio_block,
    create_file_block,
    create_image_block,
    create_text_block,
)
from mcp import types as mcp_types

from scalekit_langchain._mcp_stack import MCP_MAJOR, wire_form

__all__ = [
    "ToolResult",
    "ToolSpec",
    "drop_generated_id",
    "maintained_converter",
    "own_block",
    "to_langchain",
    "to_tool_result",
    "to_tool_spec",
]


@dataclass(frozen=True)
class ToolSpec:
    """One tool from ``tools/list``, the same on both stacks.

    Attributes:
        name: The tool's name on the server.
        description: Its description ("" when the server gave none).
        input_schema: JSON schema of the arguments.
        output_schema: JSON schema of ``structuredContent``, when declared.
        title: Human-readable title, when given.
        annotations: Hints with their wire (camelCase) keys, e.g. ``readOnlyHint``; ``{}`` if none.
        meta: The tool's ``_meta``; ``{}`` if none.
        raw: The SDK's own tool object.
    """

    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    title: str | None
    annotations: dict[str, Any]
    meta: dict[str, Any]
    raw: Any


@dataclass(frozen=True)
class ToolResult:
    """One ``tools/call`` answer, the same on both stacks.

    Attributes:
        is_error: The tool reported an error of its own (``isError``).
        meta: The result's ``_meta``; ``{}`` if none.
        structured_content: ``structuredContent``, when present.
        text: All text blocks joined with newlines (for inspection and logs).
        raw: The SDK's ``CallToolResult``.
        input_required: For a 2026-07-28 ``input_required`` answer (the tool did not run yet):
            ``{"inputRequests": {key: request}, "requestState": str | None}``; else ``None``.
        task: For a task handle (2026-07-28 tasks extension: the tool runs on, to be polled
            with ``tasks/get``): the task (``taskId``, ``status``...); else ``None``.
    """

    is_error: bool
    meta: dict[str, Any]
    structured_content: Any | None
    text: str
    raw: Any
    input_required: dict[str, Any] | None = None
    task: dict[str, Any] | None = None


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def to_tool_spec(tool: Any) -> ToolSpec:
    """Convert an SDK ``Tool`` (either major) to a :class:`ToolSpec`."""
    wire = wire_form(tool)
    output = wire.get("outputSchema")
    title = wire.get("title")
    return ToolSpec(
        name=str(wire["name"]),
        description=str(wire.get("description") or ""),
        input_schema=_dict(wire.get("inputSchema")) or {"type": "object", "properties": {}},
        output_schema=dict(output) if isinstance(output, dict) else None,
        title=title if isinstance(title, str) else None,
        annotations=_dict(wire.get("annotations")),
        meta=_dict(wire.get("_meta")),
        raw=tool,
    )


def to_tool_result(result: Any) -> ToolResult:
    """Convert an SDK ``CallToolResult`` (either major), or mcp 2's ``InputRequiredResult``,
    to a :class:`ToolResult`."""
    complete = _complete(result)
    if complete is not None:
        return complete
    wire = wire_form(result)
    if wire.get("resultType") == "input_required":
        asked = {"inputRequests": _dict(wire.get("inputRequests")), "requestState": None}
        if isinstance(wire.get("requestState"), str):
            asked["requestState"] = wire["requestState"]
        return ToolResult(False, _dict(wire.get("_meta")), None, "", result, asked)
    if wire.get("resultType") == "task" and isinstance(wire.get("task"), dict):
        return ToolResult(False, _dict(wire.get("_meta")), None, "", result, task=wire["task"])
    blocks = wire.get("content") or []
    text = "\n".join(
        str(b.get("text", "")) for b in blocks if isinstance(b, dict) and b.get("type") == "text"
    )
    return ToolResult(
        is_error=bool(wire.get("isError", False)),
        meta=_dict(wire.get("_meta")),
        structured_content=wire.get("structuredContent"),
        text=text,
        raw=result,
    )


# CallToolResult's field names on the installed major (snake_case on mcp 2, camelCase on mcp 1;
# mcp 2 warns on the old names).
_STRUCTURED = "structured_content" if MCP_MAJOR >= 2 else "structuredContent"
_IS_ERROR = "is_error" if MCP_MAJOR >= 2 else "isError"


def _complete(result: Any) -> ToolResult | None:
    """A plain ``CallToolResult`` (the answer of nearly every call) read from its attributes,
    as :func:`to_tool_result` reads its wire form but without dumping the whole result (and
    its structured content) on every call; ``None`` for anything else (extra fields, another
    result type), which takes the wire form."""
    if type(result) is not mcp_types.CallToolResult or result.model_extra:
        return None
    if getattr(result, "result_type", "complete") != "complete":  # mcp 2 names it
        return None
    structured = getattr(result, _STRUCTURED, None)
    is_error = getattr(result, _IS_ERROR, False)
    blocks = result.content or []
    text = "\n".join(
        str(getattr(b, "text", "") or "") for b in blocks if getattr(b, "type", None) == "text"
    )
    meta = result.meta
    return ToolResult(
        is_error=bool(is_error),
        meta=dict(meta) if isinstance(meta, dict) else {},
        structured_content=structured,
        text=text,
        raw=result,
    )


# --------------------------------------------------------------------------- LangChain content


def own_block(block: dict[str, Any]) -> dict[str, Any]:
    """Our conversion of one MCP content block (wire form) to a LangChain content block.

    It gives what the maintained converters give for the types they know, and a safe block for
    the rest: audio becomes an audio block (both maintained converters raise
    ``NotImplementedError`` on it), an unknown type becomes a text placeholder.
    """
    kind = block.get("type")
    mime = block.get("mimeType") or None
    if kind == "text":
        return dict(create_text_block(text=str(block.get("text", ""))))
    if kind == "image":
        return dict(create_image_block(base64=str(block.get("data", "")), mime_type=mime))
    if kind == "audio":
        return dict(create_audio_block(base64=str(block.get("data", "")), mime_type=mime))
    if kind == "resource_link":
        uri = str(block.get("uri", ""))
        if mime and mime.startswith("image/"):
            return dict(create_image_block(url=uri, mime_type=mime))
        return dict(create_file_block(url=uri, mime_type=mime))
    if kind == "resource":
        resource = _dict(block.get("resource"))
        rmime = resource.get("mimeType") or None
        if "text" in resource:
            return dict(create_text_block(text=str(resource["text"])))
        if "blob" in resource:
            if rmime and rmime.startswith("image/"):
                return dict(create_image_block(base64=str(resource["blob"]), mime_type=rmime))
            return dict(create_file_block(base64=str(resource["blob"]), mime_type=rmime))
    return dict(create_text_block(text=f"[MCP content of type {kind!r} is not shown]"))


def maintained_converter() -> Callable[[Any], Any] | None:
    """The installed maintained per-block converter, if any (both are private functions, so a
    missing or renamed one falls back to ours)."""
    candidates = (
        ("langchain.mcp.tools", "_convert_content_block")
        if MCP_MAJOR >= 2
        else ("langchain_mcp_adapters.tools", "_convert_mcp_content_to_lc_block")
    )
    try:
        with warnings.catch_warnings():
            # langchain.mcp warns on import that it is in beta; we only borrow its converter.
            warnings.simplefilter("ignore")
            module = importlib.import_module(candidates[0])
    except Exception:  # not installed, or fails to import beside this SDK
        return None
    found = getattr(module, candidates[1], None)
    return found if callable(found) else None


_MAINTAINED: Callable[[Any], Any] | None = None
_MAINTAINED_LOOKED_UP = False
# Block types the maintained converters handle; the rest (audio, anything newer) are ours.
_DELEGATED_TYPES = frozenset({"text", "image", "resource_link", "resource"})


def _convert_block(sdk_block: Any) -> dict[str, Any]:
    global _MAINTAINED, _MAINTAINED_LOOKED_UP
    if not _MAINTAINED_LOOKED_UP:
        _MAINTAINED, _MAINTAINED_LOOKED_UP = maintained_converter(), True
    wire = wire_form(sdk_block) if hasattr(sdk_block, "model_dump") else _dict(sdk_block)
    if _MAINTAINED is not None and wire.get("type") in _DELEGATED_TYPES:
        try:
            converted = _MAINTAINED(sdk_block)
        except (NotImplementedError, ValueError, TypeError, AttributeError):
            converted = None
        if isinstance(converted, dict):
            return drop_generated_id(dict(converted))
    return drop_generated_id(own_block(wire))


def drop_generated_id(block: dict[str, Any]) -> dict[str, Any]:
    # LangChain's block factories stamp a random ``lc_<uuid>`` id on each block; it carries no
    # information and would make the same answer convert differently each time.
    block_id = block.get("id")
    if isinstance(block_id, str) and block_id.startswith("lc_"):
        del block["id"]
    return block


def to_langchain(
    result: ToolResult,
) -> tuple[str | list[dict[str, Any]], dict[str, Any] | None]:
    """Content for a ``ToolMessage`` and its artifact, as ``langchain.mcp`` shapes them.

    All-text content becomes one string (blocks joined with newlines); otherwise a list of
    LangChain content blocks. The artifact is ``{"structured_content": ...}``, or ``None``
    when the result has no structured content. A tool's own error (``is_error``) converts the
    same way; deciding what an error means is the caller's job.
    """
    content = getattr(result.raw, "content", None) or []
    artifact = (
        {"structured_content": result.structured_content}
        if result.structured_content is not None
        else None
    )
    if all(getattr(b, "type", None) == "text" for b in content):
        # The common answer, and what converting each block then joining gives, without the
        # per-block work (a wire dump, LangChain's block factory and its random id).
        return "\n".join(str(getattr(b, "text", "")) for b in content), artifact
    blocks = [_convert_block(b) for b in content]
    if all(b.get("type") == "text" for b in blocks):
        return "\n".join(str(b.get("text", "")) for b in blocks), artifact
    return blocks, artifact
