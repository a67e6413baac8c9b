"""Get a config by name, creating it from mappings when it does not exist (race-safe), and
never using silently one whose mappings differ from the ones the code declares."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from scalekit_langchain.client import AsyncScalekitClient
from scalekit_langchain.errors import ConfigDriftError, ConflictError, NotFoundError
from scalekit_langchain.models import McpConfig, McpConfigConnectionToolMapping

__all__ = ["check_drift", "get_or_create_config", "mapping_drift"]

logger = logging.getLogger("scalekit_langchain")


def _tools(tools: Sequence[str]) -> str:
    return "[" + ", ".join(sorted(set(tools))) + "]" if tools else "all tools"


def mapping_drift(
    existing: Sequence[McpConfigConnectionToolMapping],
    declared: Sequence[McpConfigConnectionToolMapping],
) -> list[str]:
    """How ``existing`` mappings differ from ``declared`` ones, one line per connection
    (empty when they agree). Connection names compare case-insensitively, tool lists as sets."""
    have = {m.connection_name.lower(): m for m in existing}
    want = {m.connection_name.lower(): m for m in declared}
    out: list[str] = []
    for key, m in want.items():
        found = have.get(key)
        if found is None:
            out.append(f"{m.connection_name}: only in the code ({_tools(m.tools)})")
        elif set(found.tools) != set(m.tools):
            out.append(
                f"{m.connection_name}: config has {_tools(found.tools)}, "
                f"code declares {_tools(m.tools)}"
            )
    for key, m in have.items():
        if key not in want:
            out.append(f"{m.connection_name}: only in the config ({_tools(m.tools)})")
    return out


async def check_drift(
    client: AsyncScalekitClient,
    config: McpConfig,
    mappings: Sequence[McpConfigConnectionToolMapping],
    *,
    sync: bool,
) -> McpConfig:
    """``config`` when its mappings are the declared ones; else updated to them (``sync``) or
    refused.

    Raises:
        ConfigDriftError: The mappings differ and ``sync`` is off.
    """
    drift = mapping_drift(config.connection_tool_mappings, mappings)
    if not drift:
        return config
    if not sync:
        raise ConfigDriftError(config.name, drift)
    config_id = config.id
    if not config_id:
        found = await client.mcp.get_config_by_name(config.name)
        config_id = found.id if found is not None else None
        if not config_id:
            raise ConfigDriftError(config.name, drift)
    updated = await client.mcp.update_config(config_id, connection_tool_mappings=list(mappings))
    logger.warning(
        "Updated the mappings of MCP config %s to the declared ones (sync_config=True): %s",
        config.name,
        "; ".join(drift),
    )
    return updated


async def get_or_create_config(
    client: AsyncScalekitClient,
    name: str,
    *,
    mappings: Sequence[McpConfigConnectionToolMapping] | None,
    description: str | None,
    sync: bool = False,
) -> McpConfig:
    """The config named ``name``; created with ``mappings`` when missing. When it exists and
    ``mappings`` are given, they must agree (see :func:`check_drift`).

    Raises:
        NotFoundError: It does not exist and no mappings were given to create it.
        ConfigDriftError: It exists with other mappings and ``sync`` is off.
    """
    config = await client.mcp.get_config_by_name(name)
    if config is not None:
        if mappings is None:
            return config
        return await check_drift(client, config, mappings, sync=sync)
    if mappings is None:
        raise NotFoundError(
            f"MCP config {name!r} does not exist; pass connection_tool_mappings to create it",
            status_code=404,
        )
    try:
        config = await client.mcp.create_config(
            name, description=description, connection_tool_mappings=list(mappings)
        )
        logger.info("Created MCP config %s", name)
    except ConflictError:
        # Someone created it between our read and our write: use theirs (if it agrees).
        found = await client.mcp.get_config_by_name(name)
        if found is None:
            raise
        config = await check_drift(client, found, mappings, sync=sync)
    return config
