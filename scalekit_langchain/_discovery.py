"""Tool discovery: list a user's MCP tools (reading their auth state alongside) and build the
LangChain tools, including placeholders for tools a server hides until their connection is
authorized."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from langchain_core.tools import BaseTool

from scalekit_langchain._connection_auth import AuthTracker, ConnectionMap, is_active
from scalekit_langchain._mcp_content import ToolSpec
from scalekit_langchain._session_pool import SessionPool
from scalekit_langchain._tool_listings import ToolListings
from scalekit_langchain.models import ConnectionAuthState
from scalekit_langchain.tools import ScalekitMCPTool, ToolBackend

__all__ = ["Discovered", "discover_tools", "mcp_names", "merge_tools"]

logger = logging.getLogger("scalekit_langchain")

#: The longest tool name chat models accept.
MAX_TOOL_NAME = 64


@dataclass(frozen=True)
class Discovered:
    """What one discovery found.

    Attributes:
        tools: The LangChain tools, in the server's order, placeholders last.
        pending: The connections found not ACTIVE (no links).
    """

    tools: list[BaseTool]
    pending: list[ConnectionAuthState]


async def discover_tools(
    user: str,
    *,
    pool: SessionPool,
    tracker: AuthTracker,
    connection_map: ConnectionMap,
    only: list[str] | None,
    name_prefix: str | None,
    backend: ToolBackend,
    config_name: str,
    listings: ToolListings | None = None,
) -> Discovered:
    """List the tools through ``user``'s session and build them (see the module docstring).

    A returning user (states last seen) costs no REST request; a new one has their auth state
    read while the MCP session initializes. With ``listings``, the listing is kept as the user's
    (2026-07-28 era) and tools other users' listings offered are added (see
    :mod:`._tool_listings`).

    Raises:
        ValueError: ``only`` names tools the config does not offer, or ``name_prefix`` makes a
            name longer than :data:`MAX_TOOL_NAME`.
    """

    seen = tracker.last_seen(user)
    if seen is not None:
        states, listing = seen, await pool.listing(user)
    else:
        states, listing = await asyncio.gather(
            tracker.fetch(user, include_links=False), pool.listing(user)
        )
    specs = list(listing.specs)
    pending = [s for s in states if not s.is_active]
    for state in pending:
        logger.info(
            "Connection %s (%s) is %s for user %r; tools that use it will ask for authorization",
            state.connection_name,
            state.provider,
            state.status or "not set up",
            user,
        )
    statuses = {s.connection_name: s.status for s in states}
    providers = {s.connection_name: s.provider for s in states}
    listed_names = {s.name for s in specs}
    if listings is not None:  # tools other users' listings offered stay (merged, not lost)
        extra = dict(listings.extra)  # a copy: other loops' calls may add to it
        specs += [s for n, s in extra.items() if n not in listed_names]
        listed_names |= set(extra)
    hidden = [
        name
        for name, conn in connection_map.explicit_tools().items()
        if name not in listed_names and not is_active(statuses.get(conn))
    ]
    _check_names(listed_names | set(hidden), only, name_prefix, config_name)
    entries: list[tuple[str, ToolSpec | None]] = [(s.name, s) for s in specs]
    entries += [(name, None) for name in hidden]
    built: list[BaseTool] = []
    for name, spec in entries:
        if only is not None and name not in only:
            continue
        connections = connection_map.connections_for(name)
        connection = connections[0] if len(connections) == 1 else None
        metadata = {
            "scalekit_config": config_name,
            "scalekit_connection": connection,
            "scalekit_provider": providers.get(connection) if connection else None,
        }
        tags = ["scalekit", f"scalekit:{config_name}"]
        if connection:
            tags.append(f"scalekit_connection:{connection}")
        built.append(
            ScalekitMCPTool.from_spec(
                spec, backend, mcp_name=name, name_prefix=name_prefix, metadata=metadata, tags=tags
            )
        )
    if listings is not None:
        held = {n: s for n, s in entries if only is None or n in only}
        listings.discovered(user, listing, held, only)
    return Discovered(built, pending)


def _check_names(
    available: set[str], only: list[str] | None, name_prefix: str | None, config_name: str
) -> None:
    if only is not None:
        unknown = sorted(set(only) - available)
        if unknown:
            raise ValueError(
                f"tools: {unknown} not offered by config {config_name!r}; "
                f"available: {sorted(available)}"
            )
    if name_prefix is not None:
        too_long = [n for n in available if len(name_prefix) + 1 + len(n) > MAX_TOOL_NAME]
        if too_long:
            raise ValueError(
                f"tool_name_prefix {name_prefix!r} makes these tool names longer than the "
                f"{MAX_TOOL_NAME} characters models accept: {sorted(too_long)}"
            )


def merge_tools(old: list[BaseTool] | None, fresh: list[BaseTool]) -> list[BaseTool]:
    """The tools after a re-listing: tools already handed out keep their identity (an agent may
    hold them) and take the new description and schema; new tools are added; tools the server
    no longer lists are dropped from the list."""
    if old is None:
        return fresh
    by_name = {t.name: t for t in old}
    merged: list[BaseTool] = []
    for tool in fresh:
        kept = by_name.get(tool.name)
        if kept is None:
            merged.append(tool)
            continue
        kept.description = tool.description
        kept.args_schema = tool.args_schema
        kept.metadata = tool.metadata
        merged.append(kept)
    return merged


def mcp_names(tools: list[BaseTool]) -> dict[str, str]:
    """LangChain name -> MCP name of the Scalekit tools among ``tools`` (a prefix may differ)."""
    return {t.name: t.mcp_tool_name for t in tools if isinstance(t, ScalekitMCPTool)}
