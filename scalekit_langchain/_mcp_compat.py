"""The one module that knows which MCP stack is installed.

Two stacks exist and cannot be installed together (see the project's reference notes):

* **mcp 1.x**, beside langchain-mcp-adapters (frozen, pins ``mcp<2``), HTTP through ``httpx``;
* **mcp 2.x**, beside ``langchain[mcp]`` (FastMCP 4, ``mcp>=2.3``), HTTP through ``httpx2``.

Everything else in the package talks to MCP through the names here: :data:`MCP_MAJOR`,
:data:`http` (the HTTP library the installed SDK drives), :func:`open_streams`,
:func:`new_session`, :func:`list_tools_page`, :func:`call_tool`, :func:`mcp_error`, and the
stack-neutral values :class:`ToolSpec` and :class:`ToolResult` with their converters.

Stack differences are read from the SDK's wire form (``model_dump(by_alias=True)``, camelCase on
both majors) rather than from attribute names (``inputSchema`` on 1.x, ``input_schema`` on 2.x),
so the same server answer gives the same values on both stacks.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version
from typing import Any

from langchain_core.messages.content import (
    create_audio_block,
    create_file_block,
    create_image_block,
    create_text_block,
)
from mcp import ClientSession
from mcp import types as mcp_types

from scalekit_langchain._version import __version__

__all__ = [
    "MCP_MAJOR",
    "ToolResult",
    "ToolSpec",
    "call_tool",
    "http",
    "list_tools_page",
    "mcp_error",
    "new_session",
    "open_streams",
    "to_langchain",
    "to_tool_result",
    "to_tool_spec",
]


def _mcp_major() -> int:
    try:
        return int(_dist_version("mcp").split(".", 1)[0])
    except (PackageNotFoundError, ValueError):  # pragma: no cover - a vendored or odd install
        # mcp 2 renamed McpError to MCPError; that is enough to tell the majors apart.
        exceptions = importlib.import_module("mcp.shared.exceptions")
        return 2 if hasattr(exceptions, "MCPError") else 1


#: The installed ``mcp`` SDK's major version: 1 or 2.
MCP_MAJOR: int = _mcp_major()

# The HTTP library the installed SDK drives: httpx2 (a fork of httpx with the same API) on
# mcp 2, httpx on mcp 1. Code that wraps the MCP transport is written once against this module.
# mypy checks it as httpx2 (the default environment's stack); httpx has the same API.
if MCP_MAJOR >= 2:
    import httpx2 as http
else:  # pragma: no cover - exercised by the mcp 1.x CI run
    import httpx as http  # type: ignore[no-redef, unused-ignore]

_error_module = importlib.import_module("mcp.shared.exceptions")
#: The SDK's JSON-RPC error exception (``MCPError`` on 2.x, ``McpError`` on 1.x).
McpErrorType: type[Exception] = getattr(_error_module, "MCPError", None) or _error_module.McpError

#: SDK-internal JSON-RPC codes: what the client itself reports when no real answer came.
CONNECTION_CLOSED = -32000
REQUEST_TIMEOUT_CODES = frozenset({-32001, 408})  # 2.x uses -32001, 1.x the HTTP status 408
SESSION_TERMINATED_CODES = frozenset({32600, -32600})  # 1.x: 32600; 2.x: INVALID_REQUEST

CLIENT_NAME = "scalekit-langchain"


def mcp_error(exc: BaseException) -> tuple[int, str] | None:
    """``(code, message)`` of an SDK JSON-RPC error exception, ``None`` for anything else."""
    if not isinstance(exc, McpErrorType):
        return None
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    message = getattr(error, "message", None)
    if not isinstance(code, int):
        return None
    return code, message if isinstance(message, str) else ""


@asynccontextmanager
async def open_streams(url: str, http_client: Any) -> AsyncIterator[tuple[Any, Any]]:
    """The SDK's streamable-HTTP transport over ``http_client`` (which the caller closes).

    Yields:
        ``(read_stream, write_stream)`` for :func:`new_session`.
    """
    module = importlib.import_module("mcp.client.streamable_http")
    # Both majors take our own client; 1.x also yields a session-id getter we do not need.
    opener: Callable[..., Any] = module.streamable_http_client
    async with opener(url, http_client=http_client) as streams:
        yield streams[0], streams[1]


def new_session(read_stream: Any, write_stream: Any, **callbacks: Any) -> ClientSession:
    """A ``ClientSession`` that introduces itself as this package (``clientInfo``).

    Args:
        read_stream: From :func:`open_streams`.
        write_stream: From :func:`open_streams`.
        **callbacks: The SDK's server-to-client callbacks (``logging_callback``,
            ``message_handler``, ``sampling_callback``, ``elicitation_callback``): the same
            names on both majors.
    """
    info = mcp_types.Implementation(name=CLIENT_NAME, version=__version__)
    factory: Callable[..., ClientSession] = ClientSession
    return factory(read_stream, write_stream, client_info=info, **callbacks)


async def list_tools_page(
    session: ClientSession, cursor: str | None
) -> tuple[list[Any], str | None]:
    """One ``tools/list`` page: the SDK's tool objects and the next cursor (``None`` at the end)."""
    params = mcp_types.PaginatedRequestParams(cursor=cursor) if cursor else None
    page = await session.list_tools(params=params)
    wire = page.model_dump(by_alias=True, mode="json", include={"next_cursor", "nextCursor"})
    cursor = wire.get("nextCursor")
    return list(page.tools), cursor if isinstance(cursor, str) and cursor else None


async def call_tool(
    session: ClientSession,
    name: str,
    arguments: dict[str, Any],
    *,
    timeout: float,
    meta: dict[str, Any],
    progress: Callable[..., Any] | None = None,
) -> Any:
    """``tools/call`` with a read timeout, request ``_meta`` and an optional progress callback
    (``(progress, total, message)``); the SDK's ``CallToolResult``."""
    # The read timeout is a timedelta on 1.x and seconds on 2.x.
    wait: Any = timedelta(seconds=timeout) if MCP_MAJOR < 2 else timeout
    caller: Callable[..., Any] = session.call_tool
    return await caller(
        name, arguments, read_timeout_seconds=wait, meta=meta, progress_callback=progress
    )


# --------------------------------------------------------------------------- values


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
    """

    is_error: bool
    meta: dict[str, Any]
    structured_content: Any | None
    text: str
    raw: Any


def _wire(obj: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = obj.model_dump(by_alias=True, mode="json", exclude_none=True)
    return dumped


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def to_tool_spec(tool: Any) -> ToolSpec:
    """Convert an SDK ``Tool`` (either major) to a :class:`ToolSpec`."""
    wire = _wire(tool)
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
    """Convert an SDK ``CallToolResult`` (either major) to a :class:`ToolResult`."""
    wire = _wire(result)
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


# --------------------------------------------------------------------------- LangChain content


def _own_block(block: dict[str, Any]) -> dict[str, Any]:
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


def _maintained_converter() -> Callable[[Any], Any] | None:
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
        _MAINTAINED, _MAINTAINED_LOOKED_UP = _maintained_converter(), True
    wire = _wire(sdk_block) if hasattr(sdk_block, "model_dump") else _dict(sdk_block)
    if _MAINTAINED is not None and wire.get("type") in _DELEGATED_TYPES:
        try:
            converted = _MAINTAINED(sdk_block)
        except (NotImplementedError, ValueError, TypeError, AttributeError):
            converted = None
        if isinstance(converted, dict):
            return _drop_generated_id(dict(converted))
    return _drop_generated_id(_own_block(wire))


def _drop_generated_id(block: dict[str, Any]) -> dict[str, Any]:
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
    blocks = [_convert_block(b) for b in content]
    artifact = (
        {"structured_content": result.structured_content}
        if result.structured_content is not None
        else None
    )
    if all(b.get("type") == "text" for b in blocks):
        return "\n".join(str(b.get("text", "")) for b in blocks), artifact
    return blocks, artifact
