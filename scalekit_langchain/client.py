"""Scalekit MCP REST clients: :class:`AsyncScalekitClient` and its sync twin
:class:`ScalekitClient`.

Both authenticate with OAuth client credentials (one access token per client, fetched lazily,
shared by every caller, refreshed once on 401 and shortly before it expires) and expose the MCP
endpoints under ``client.mcp`` with the official Python SDK's method names.

Where the code lives: the async client is written once in ``_rest_async`` and the sync client
generated from it (``_rest_sync``, by ``scripts/unasync.py``); request building, the retry
policy and the token bookkeeping in ``_base``; answers and the error table in ``_responses``;
the MCP operations in ``_mcp_ops``; sending bytes (and deadlines) in ``_http``.

Example:
    >>> async with AsyncScalekitClient() as client:  # doctest: +SKIP
    ...     config = await client.mcp.get_config_by_name("email-calendar-assistant")
    ...     instance = await client.mcp.ensure_instance(config.name, "john-doe")
"""

from __future__ import annotations

import httpx

# AsyncMcpApi and McpApi stay importable from here, as before the split.
from scalekit_langchain._rest_async import AsyncMcpApi as AsyncMcpApi
from scalekit_langchain._rest_async import AsyncScalekitClient
from scalekit_langchain._rest_requests import AccessLevel
from scalekit_langchain._rest_sync import McpApi as McpApi
from scalekit_langchain._rest_sync import ScalekitClient as _SyncClient

__all__ = ["AccessLevel", "AsyncScalekitClient", "ScalekitClient"]


class ScalekitClient(_SyncClient):
    __doc__ = _SyncClient.__doc__

    def to_async(
        self,
        *,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> AsyncScalekitClient:
        """An :class:`AsyncScalekitClient` with this client's credentials and options, sharing
        its access token (no request is sent; the two fetch one token between them).

        For code that needs the async client (the toolkit) while the app holds a sync one.
        The async client has its own connections; close it with ``aclose()`` when done.

        Args:
            http_client: Your own ``httpx.AsyncClient`` for it (never closed by us).
            transport: An ``httpx.AsyncBaseTransport`` for the client it creates (tests).
        """
        return AsyncScalekitClient.from_client(self, http_client=http_client, transport=transport)
