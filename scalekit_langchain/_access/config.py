"""Get a config by name, creating it from mappings when it does not exist (race-safe)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from scalekit_langchain.client import AsyncScalekitClient
from scalekit_langchain.errors import ConflictError, NotFoundError
from scalekit_langchain.models import McpConfig, McpConfigConnectionToolMapping

__all__ = ["get_or_create_config"]

logger = logging.getLogger("scalekit_langchain")


async def get_or_create_config(
    client: AsyncScalekitClient,
    name: str,
    *,
    mappings: Sequence[McpConfigConnectionToolMapping] | None,
    description: str | None,
) -> McpConfig:
    """The config named ``name``; created with ``mappings`` when missing.

    Raises:
        NotFoundError: It does not exist and no mappings were given to create it.
    """
    config = await client.mcp.get_config_by_name(name)
    if config is not None:
        return config
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
        # Someone created it between our read and our write: use theirs.
        found = await client.mcp.get_config_by_name(name)
        if found is None:
            raise
        config = found
    return config
