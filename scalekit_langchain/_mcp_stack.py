"""The one module that knows which MCP stack is installed.

Two stacks exist and cannot be installed together (see the project's reference notes):

* **mcp 1.x**, beside langchain-mcp-adapters (frozen, pins ``mcp<2``), HTTP through ``httpx``;
* **mcp 2.x**, beside ``langchain[mcp]`` (FastMCP 4, ``mcp>=2.3``), HTTP through ``httpx2``.

Everything else in the package talks to the MCP SDK through the names here: :data:`MCP_MAJOR`,
:data:`http` (the HTTP library the installed SDK drives), :func:`open_streams`,
:func:`new_session`, :func:`open_protocol` (which MCP era: the newest the server offers on
mcp 2, the handshake on mcp 1), :func:`list_tools_page`, :func:`call_tool`, :func:`mcp_error` and
:func:`wire_form`. What the SDK's answers mean (tool specs, results, LangChain content) is
:mod:`scalekit_langchain._mcp_content`.

Stack differences are read from the SDK's wire form (:func:`wire_form`: ``model_dump(by_alias=
True)``, camelCase on both majors) rather than from attribute names (``inputSchema`` on 1.x,
``input_schema`` on 2.x), so the same server answer gives the same values on both stacks.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version
from typing import Any

from mcp import ClientSession
from mcp import types as mcp_types

from scalekit_langchain._version import __version__

__all__ = [
    "HANDSHAKE",
    "MCP_MAJOR",
    "TASKS_EXTENSION",
    "call_tool",
    "get_task",
    "http",
    "list_tools_page",
    "mcp_error",
    "new_session",
    "open_protocol",
    "open_streams",
    "task_result",
    "wire_form",
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


#: The tasks extension (2026-07-28): a ``tools/call`` may answer with a task handle
#: (``resultType: "task"``), polled with ``tasks/get``; a handle is never answered by calling
#: the tool again.
TASKS_EXTENSION = "io.modelcontextprotocol/tasks"


def _task_claims() -> dict[str, Any]:
    """The SDK options that advertise the tasks extension and accept its task handles (mcp 2)."""
    from typing import Literal

    from pydantic import ConfigDict

    extension: Any = importlib.import_module("mcp.client.extension")  # mcp 2 only
    ResultClaim = extension.ResultClaim

    class TaskHandle(mcp_types.Result):  # type: ignore[misc, unused-ignore]
        model_config = ConfigDict(extra="allow")
        result_type: Literal["task"] = "task"
        task: dict[str, Any]

    async def unresolved(result: Any, context: Any) -> Any:  # pragma: no cover - never called
        raise RuntimeError("task handles are polled by scalekit-langchain, not resolved")

    claim = ResultClaim(result_type="task", model=TaskHandle, resolve=unresolved)
    return {"extensions": {TASKS_EXTENSION: {}}, "result_claims": {TASKS_EXTENSION: [claim]}}


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
    extra = _task_claims() if MCP_MAJOR >= 2 else {}
    return factory(read_stream, write_stream, client_info=info, **callbacks, **extra)


#: The era name of a session opened with ``initialize`` (any revision up to 2025-11-25).
HANDSHAKE = "handshake"

#: JSON-RPC codes with which a 2026-07-28 request is refused for its protocol, not its content:
#: ``-32022`` (version not spoken) and ``-32600`` (invalid request: e.g. "missing session ID"
#: from a server that went back to the handshake era). Such a request did not run.
ERA_REFUSAL_CODES = frozenset({-32022, -32600})


async def open_protocol(session: ClientSession, prior: Any = None) -> tuple[str, Any]:
    """Settle the protocol on a fresh ``session``: the newest era the server offers.

    On mcp 2: with no ``prior``, the SDK's own negotiation (``server/discover``, falling back
    to ``initialize`` for handshake-era servers); with a ``prior`` from an earlier call for the
    same server, no probe: the remembered ``server/discover`` result is adopted (no request at
    all) or, for a handshake server, ``initialize`` is sent. On mcp 1: always ``initialize``
    (mcp 1.x speaks only the handshake era).

    Args:
        session: A session from :func:`new_session`, entered.
        prior: What an earlier call returned for this server, or ``None``.

    Returns:
        ``(version, prior)``: the negotiated protocol version (``"2026-07-28"`` for the
        sessionless era) and what to pass next time (the discover result, or :data:`HANDSHAKE`).
    """
    if MCP_MAJOR < 2 or prior == HANDSHAKE:
        result = await session.initialize()
        return str(wire_form(result).get("protocolVersion")), HANDSHAKE
    adopt: Callable[[Any], None] = getattr(session, "adopt")  # noqa: B009 - mcp 2 only
    if prior is not None:
        adopt(prior)
    else:
        probe = importlib.import_module("mcp.client._probe")
        await probe.negotiate_auto(session)
    discovered = getattr(session, "discover_result", None)
    version = str(getattr(session, "protocol_version", None) or "")
    return version, discovered if discovered is not None else HANDSHAKE


async def list_tools_page(
    session: ClientSession, cursor: str | None
) -> tuple[list[Any], str | None, tuple[int, str] | None]:
    """One ``tools/list`` page: the SDK's tool objects, the next cursor (``None`` at the end)
    and the page's ``(ttlMs, cacheScope)``: only in the 2026-07-28 era and only when the server
    sent ``ttlMs`` (``None`` otherwise: the handshake era and mcp 1 have no expiry)."""
    params = mcp_types.PaginatedRequestParams(cursor=cursor) if cursor else None
    page = await session.list_tools(params=params)
    wire = page.model_dump(by_alias=True, mode="json", include={"next_cursor", "nextCursor"})
    cursor = wire.get("nextCursor")
    terms: tuple[int, str] | None = None
    new_era = getattr(session, "discover_result", None) is not None
    if new_era and "ttl_ms" in page.model_fields_set:
        ttl, scope = getattr(page, "ttl_ms", None), getattr(page, "cache_scope", None)
        if isinstance(ttl, int) and ttl >= 0:
            terms = ttl, str(scope or "private")
    return list(page.tools), cursor if isinstance(cursor, str) and cursor else None, terms


async def call_tool(
    session: ClientSession,
    name: str,
    arguments: dict[str, Any],
    *,
    timeout: float,
    meta: dict[str, Any],
    progress: Callable[..., Any] | None = None,
    input_responses: dict[str, Any] | None = None,
    request_state: str | None = None,
) -> Any:
    """``tools/call`` with a read timeout, request ``_meta`` and an optional progress callback
    (``(progress, total, message)``); the SDK's ``CallToolResult``.

    On mcp 2 the answer may also be an ``InputRequiredResult`` (2026-07-28, SEP-2322: the
    server needs input first); ``input_responses`` and ``request_state`` send the call again
    with the answers and the server's opaque state.
    """
    # The read timeout is a timedelta on 1.x and seconds on 2.x.
    wait: Any = timedelta(seconds=timeout) if MCP_MAJOR < 2 else timeout
    caller: Callable[..., Any] = session.call_tool
    extra: dict[str, Any] = {}
    if MCP_MAJOR >= 2:
        extra = {"allow_input_required": True, "allow_claimed": True}
        if input_responses is not None:
            extra.update(input_responses=input_responses, request_state=request_state)
    return await caller(
        name, arguments, read_timeout_seconds=wait, meta=meta, progress_callback=progress, **extra
    )


async def get_task(session: ClientSession, task_id: str, timeout: float) -> dict[str, Any]:
    """``tasks/get`` (mcp 2): the task's state as sent (``status``, ``pollInterval``, and a
    ``result`` when a server inlines the payload). A read: safe to repeat."""
    from pydantic import TypeAdapter

    types: Any = mcp_types
    params = types.GetTaskRequestParams.model_validate({"taskId": task_id})
    request = types.GetTaskRequest(params=params)
    sender: Callable[..., Any] = session.send_request
    state: dict[str, Any] = await sender(
        request, TypeAdapter(dict[str, Any]), request_read_timeout_seconds=timeout
    )
    return state


async def task_result(
    session: ClientSession, task_id: str, timeout: float, state: dict[str, Any] | None = None
) -> Any:
    """A completed task's ``CallToolResult`` (mcp 2): the payload ``tasks/get`` inlined in
    ``state["result"]``, else ``tasks/result``."""
    types: Any = mcp_types
    inline = (state or {}).get("result")
    if isinstance(inline, dict):
        return types.CallToolResult.model_validate(inline)
    params = types.GetTaskPayloadRequestParams.model_validate({"taskId": task_id})
    sender: Callable[..., Any] = session.send_request
    return await sender(
        types.GetTaskPayloadRequest(params=params),
        types.CallToolResult,
        request_read_timeout_seconds=timeout,
    )


def wire_form(obj: Any) -> dict[str, Any]:
    """An SDK object (either major) as it crossed the wire: camelCase keys, no ``None`` values."""
    dumped: dict[str, Any] = obj.model_dump(by_alias=True, mode="json", exclude_none=True)
    return dumped
