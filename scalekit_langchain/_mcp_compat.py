"""The one module that knows which MCP SDK stack is installed (interim: mcp 1.x only).

Everything else in the package works with the stack-neutral :class:`ToolSpec` and
:class:`ToolResult` defined here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["MCP_MAJOR", "ToolResult", "ToolSpec", "to_langchain", "to_tool_result", "to_tool_spec"]

MCP_MAJOR = 1


@dataclass(frozen=True)
class ToolSpec:
    """One tool from ``tools/list``."""

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
    """One ``tools/call`` answer."""

    is_error: bool
    meta: dict[str, Any]
    structured_content: Any | None
    text: str
    raw: Any


def _get(obj: Any, *names: str) -> Any:
    for name in names:
        value = getattr(obj, name, None)
        if value is not None:
            return value
    return None


def to_tool_spec(tool: Any) -> ToolSpec:
    """Read an SDK ``Tool`` into a :class:`ToolSpec`."""
    if isinstance(tool, ToolSpec):
        return tool
    annotations = _get(tool, "annotations")
    return ToolSpec(
        name=str(tool.name),
        description=str(_get(tool, "description") or ""),
        input_schema=dict(_get(tool, "inputSchema", "input_schema") or {"type": "object"}),
        output_schema=_get(tool, "outputSchema", "output_schema"),
        title=_get(tool, "title"),
        annotations=(
            annotations.model_dump(by_alias=True, exclude_none=True) if annotations else {}
        ),
        meta=dict(_get(tool, "meta") or {}),
        raw=tool,
    )


def _block_text(block: Any) -> str | None:
    return block.text if getattr(block, "type", None) == "text" else None


def to_tool_result(result: Any) -> ToolResult:
    """Read an SDK ``CallToolResult`` into a :class:`ToolResult`."""
    if isinstance(result, ToolResult):
        return result
    texts = [t for t in (_block_text(b) for b in result.content) if t is not None]
    return ToolResult(
        is_error=bool(_get(result, "isError", "is_error")),
        meta=dict(_get(result, "meta") or {}),
        structured_content=_get(result, "structuredContent", "structured_content"),
        text="\n".join(texts),
        raw=result,
    )


def _to_block(block: Any) -> dict[str, Any]:
    kind = getattr(block, "type", None)
    if kind == "text":
        return {"type": "text", "text": block.text}
    if kind == "image":
        return {"type": "image", "base64": block.data, "mime_type": block.mimeType}
    if kind == "audio":
        return {"type": "audio", "base64": block.data, "mime_type": block.mimeType}
    return {"type": "text", "text": f"[unsupported MCP content block: {kind}]"}


def to_langchain(result: ToolResult) -> tuple[str | list[dict[str, Any]], dict[str, Any] | None]:
    """Content for a ``ToolMessage`` and the artifact ``{"structured_content": ...}``."""
    blocks = [_to_block(b) for b in result.raw.content]
    content: str | list[dict[str, Any]]
    if all(b["type"] == "text" for b in blocks):
        content = "\n".join(str(b["text"]) for b in blocks)
    else:
        content = blocks
    artifact = (
        {"structured_content": result.structured_content}
        if result.structured_content is not None
        else None
    )
    return content, artifact
