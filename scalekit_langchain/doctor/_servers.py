"""Probing one MCP server URL: raw JSON-RPC for the wire, the real ``mcp`` SDK for the client view.

:func:`probe_server` first sends a sessionless ``server/discover`` (which eras the server
offers: the 2026-07-28 one answers it), then opens a session by hand
(:class:`~._raw_jsonrpc.RawMcp`), lists the tools,
repeats the listing to see whether the TCP connection survives, tests the session-id rules, calls
one tool of a connection that is not ACTIVE and one tool that is not in the config, and ends the
session.
:func:`probe_sdk` does what an app does with the ``mcp`` SDK (connect in the newest era both
speak, list, list again) and counts the TCP connections its warm calls open.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from scalekit_langchain._connection_auth import ConnectionMap, is_active
from scalekit_langchain.doctor._raw_jsonrpc import RawMcp
from scalekit_langchain.doctor._tcp_connections import ConnectionCounter

__all__ = ["ServerContext", "offers_new_era", "probe_sdk", "probe_server"]

#: A read-only tool per provider slug, used when ``tools/list`` does not show one.
WELL_KNOWN_READ_TOOLS = {
    "gmail": "gmail_fetch_mails",
    "googlecalendar": "googlecalendar_list_events",
}
#: Called as "a tool that is not in the config" when every well-known provider is mapped.
UNKNOWN_TOOL = "sk_doctor_no_such_tool"
_WARM_CALLS = 3
_MAX_PAGES = 20


@dataclass(frozen=True)
class ServerContext:
    """What a probe needs to know about the config and the user.

    Attributes:
        connection_map: Tool -> connections, from the config's mappings.
        statuses: Connection name -> status as last read from the auth-state API.
        providers: Connection name -> provider slug (lower case, e.g. ``gmail``).
        protocol_version: The revision to ask for in ``initialize``.
        timeout: Seconds per step.
    """

    connection_map: ConnectionMap
    statuses: Mapping[str, str | None]
    providers: Mapping[str, str]
    protocol_version: str
    timeout: float


def offers_new_era(discover: dict[str, Any]) -> bool:
    """Whether a ``server/discover`` exchange shows the 2026-07-28 era (a result naming it in
    ``supportedVersions``)."""
    message = discover.get("message")
    result = message.get("result") if isinstance(message, dict) else None
    versions = result.get("supportedVersions") if isinstance(result, dict) else None
    return discover.get("http_status") == 200 and isinstance(versions, list) and (
        "2026-07-28" in versions
    )


def _tools_of(listing: dict[str, Any]) -> list[dict[str, Any]]:
    message = listing.get("message")
    result = message.get("result") if isinstance(message, dict) else None
    tools = result.get("tools") if isinstance(result, dict) else None
    return [t for t in tools if isinstance(t, dict)] if isinstance(tools, list) else []


def _next_cursor(listing: dict[str, Any]) -> str | None:
    message = listing.get("message")
    result = message.get("result") if isinstance(message, dict) else None
    cursor = result.get("nextCursor") if isinstance(result, dict) else None
    return cursor if isinstance(cursor, str) and cursor else None


def _rank(tool: dict[str, Any]) -> tuple[int, int]:
    annotations = tool.get("annotations") if isinstance(tool.get("annotations"), dict) else {}
    schema = tool.get("inputSchema") if isinstance(tool.get("inputSchema"), dict) else {}
    read_only = bool((annotations or {}).get("readOnlyHint"))
    required = (schema or {}).get("required") or []
    return (0 if read_only else 1, 0 if not required else 1)


def _arguments(tool: dict[str, Any] | None) -> dict[str, Any]:
    """Smallest arguments that satisfy a schema's required properties (placeholders)."""
    schema = (tool or {}).get("inputSchema")
    if not isinstance(schema, dict):
        return {}
    props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    placeholders: dict[str, Any] = {
        "string": "sk-doctor-probe", "integer": 1, "number": 1, "boolean": False,
        "array": [], "object": {},
    }
    out: dict[str, Any] = {}
    for name in schema.get("required") or []:
        kind = (props or {}).get(name, {}).get("type", "string")
        out[str(name)] = placeholders.get(str(kind), "sk-doctor-probe")
    return out


def pick_refusal_target(
    ctx: ServerContext, tools: Sequence[dict[str, Any]]
) -> tuple[str, str | None, dict[str, Any] | None, bool] | None:
    """Choose the tool to call for a refusal: one of a connection that is not ACTIVE.

    Returns:
        ``(connection, tool name, listed tool or None, listed)``; the name is None when no tool
        of that connection is known. None when every connection is ACTIVE.
    """
    pending = [c for c in ctx.connection_map.connections if not is_active(ctx.statuses.get(c))]
    if not pending:
        return None
    for conn in pending:
        mine = [t for t in tools if conn in ctx.connection_map.connections_for(str(t.get("name")))]
        if mine:
            best = sorted(mine, key=_rank)[0]
            return conn, str(best["name"]), best, True
    conn = pending[0]
    return conn, WELL_KNOWN_READ_TOOLS.get(ctx.providers.get(conn, "")), None, False


def pick_unmapped_tool(ctx: ServerContext) -> str:
    """A read-only tool of a provider the config does not map (or a name no server has)."""
    mapped = set(ctx.providers.values())
    for slug, tool in WELL_KNOWN_READ_TOOLS.items():
        if slug not in mapped:
            return tool
    return UNKNOWN_TOOL


async def probe_server(
    http: httpx.AsyncClient,
    counter: ConnectionCounter,
    url: str,
    ctx: ServerContext,
    *,
    headers: dict[str, str] | None = None,
    on_session_id: Any = None,
) -> dict[str, Any]:
    """Probe one MCP server over raw JSON-RPC (see the module docstring).

    Args:
        http: An HTTP client whose transport is ``counter``.
        counter: Counts TCP connections.
        url: The MCP server URL.
        ctx: The config and the user's statuses.
        headers: Extra headers (``Authorization`` for bearer servers).
        on_session_id: Called with the session id, so that it can be masked.

    Returns:
        The observation dict (not yet redacted).
    """
    raw = RawMcp(http, url, headers)
    obs: dict[str, Any] = {}
    discover = await asyncio.wait_for(raw.discover(), ctx.timeout)
    obs["discover"] = discover
    init = await asyncio.wait_for(raw.initialize(ctx.protocol_version), ctx.timeout)
    obs["initialize"] = init
    if raw.session_id and on_session_id is not None:
        on_session_id(raw.session_id)
    result = (init.get("message") or {}).get("result") if init.get("message") else None
    obs["eras"] = {"handshake": isinstance(result, dict), "new": offers_new_era(discover)}
    if init["http_status"] != 200 or not isinstance(result, dict):
        obs["stopped"] = (
            "the server speaks only the 2026-07-28 era (server/discover); the raw probe's "
            "later steps need the handshake"
            if obs["eras"]["new"]
            else "initialize did not succeed"
        )
        return obs
    obs["protocol_version"] = result.get("protocolVersion")
    obs["server_info"] = result.get("serverInfo")

    listing = await asyncio.wait_for(raw.request("tools/list", {}), ctx.timeout)
    obs["tools_list"] = {k: v for k, v in listing.items() if k != "message"}
    message = listing.get("message")
    listing_result = message.get("result") if isinstance(message, dict) else None
    # A refused listing says nothing about hidden tools: then "listed" stays unknown.
    list_ok = listing["http_status"] == 200 and isinstance(listing_result, dict)
    if not list_ok:
        obs["tools_list"]["message"] = listing.get("message")
    tools = _tools_of(listing)
    cursor, pages = _next_cursor(listing), 1
    while cursor and pages < _MAX_PAGES:
        more = await asyncio.wait_for(raw.request("tools/list", {"cursor": cursor}), ctx.timeout)
        tools += _tools_of(more)
        cursor, pages = _next_cursor(more), pages + 1
    obs["tools_list"]["pages"] = pages
    obs["tools"] = sorted(str(t.get("name")) for t in tools)
    obs["answer_framing"] = listing.get("framing")

    mark = counter.mark()
    for _ in range(_WARM_CALLS):
        await asyncio.wait_for(raw.request("tools/list", {}), ctx.timeout)
    obs["warm_calls"] = _WARM_CALLS
    obs["new_connections_in_warm_calls"] = counter.new_connections_since(mark)

    obs["session_id"] = {
        "issued": bool(raw.session_id),
        "request_without_id": (await raw.request("tools/list", {}, session_id=False))[
            "http_status"
        ],
        "request_with_unknown_id": (
            await raw.request("tools/list", {}, session_id="sk-doctor-unknown-session")
        )["http_status"],
    }

    target = pick_refusal_target(ctx, tools)
    if target is None:
        obs["refusal"] = {"skipped": "every connection is ACTIVE for the throwaway user"}
    else:
        conn, name, listed_tool, listed = target
        refusal: dict[str, Any] = {
            "connection": conn,
            "status": ctx.statuses.get(conn),
            "tool": name,
            "listed": listed if list_ok else None,
        }
        if name is not None:
            params = {"name": name, "arguments": _arguments(listed_tool)}
            refusal["call"] = await asyncio.wait_for(
                raw.request("tools/call", params), ctx.timeout
            )
        obs["refusal"] = refusal
    unmapped = pick_unmapped_tool(ctx)
    obs["unmapped_tool"] = {
        "tool": unmapped,
        "listed": (unmapped in obs["tools"]) if list_ok else None,
        "call": await asyncio.wait_for(
            raw.request("tools/call", {"name": unmapped, "arguments": {}}), ctx.timeout
        ),
    }
    obs["delete_session_status"] = await asyncio.wait_for(raw.close(), ctx.timeout)
    return obs


async def probe_sdk(
    url: str, ctx: ServerContext, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """Connect (the newest era the SDK and server share, as the toolkit does) and list tools
    with the real ``mcp`` SDK client; count warm-call connections.

    Returns:
        ``protocol_version``, ``server_info``, ``session_id_issued``, ``tools``,
        ``warm_calls``, ``new_connections_in_warm_calls`` (None when not measurable), or
        ``error`` when the SDK failed.
    """
    from scalekit_langchain import _mcp_stack

    # The HTTP library the installed SDK drives (httpx on mcp 1.x, httpx2 on mcp 2).
    counter = ConnectionCounter(_mcp_stack.http.AsyncHTTPTransport())
    obs: dict[str, Any] = {}
    async with (
        _mcp_stack.http.AsyncClient(
            transport=counter,  # type: ignore[arg-type]  # duck-typed: httpx and httpx2 alike
            headers=headers,
            timeout=ctx.timeout,
        ) as http,
        _mcp_stack.open_streams(url, http) as (read, write),
        _mcp_stack.new_session(read, write) as session,
    ):
        if _mcp_stack.MCP_MAJOR < 2:  # the handshake era only
            init = _mcp_stack.wire_form(await asyncio.wait_for(session.initialize(), ctx.timeout))
            version, server = str(init.get("protocolVersion")), init.get("serverInfo") or {}
        else:  # as the toolkit connects: the newest era the server offers, else initialize
            opened = _mcp_stack.open_protocol(session)
            version, _ = await asyncio.wait_for(opened, ctx.timeout)
            info = getattr(session, "server_info", None)
            server = _mcp_stack.wire_form(info) if info is not None else {}
        obs["protocol_version"] = version
        obs["server_info"] = {"name": server.get("name"), "version": server.get("version")}
        obs["session_id_issued"] = counter.session_id_issued
        listed = await asyncio.wait_for(session.list_tools(), ctx.timeout)
        obs["tools"] = sorted(t.name for t in listed.tools)
        mark = counter.mark()
        for _ in range(_WARM_CALLS):
            await asyncio.wait_for(session.list_tools(), ctx.timeout)
        obs["warm_calls"] = _WARM_CALLS
        obs["new_connections_in_warm_calls"] = counter.new_connections_since(mark)
    return obs
