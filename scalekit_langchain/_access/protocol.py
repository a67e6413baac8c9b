"""The protocol every way of reaching an MCP server implements."""

from __future__ import annotations

from typing import Protocol

from scalekit_langchain._connection_auth import ConnectionMap
from scalekit_langchain._mcp_session import ConnectParams
from scalekit_langchain.models import ConnectionAuthState

__all__ = ["UserAccess"]


class UserAccess(Protocol):
    """What the toolkit needs to reach one user's tools and to know their connections.

    Attributes:
        scope: A non-secret name for logs, errors and shared caches (the config name).
    """

    scope: str

    async def connect_params(self, user: str) -> ConnectParams:
        """Where and how to open ``user``'s MCP session; called on every (re)connect.

        Raises:
            AuthorizationRequired: The server cannot be reached until the user authorizes
                (a refused token mint).
        """

    async def auth_state(self, user: str, include_links: bool) -> list[ConnectionAuthState]:
        """Every connection's state for ``user`` (with fresh links when asked)."""

    async def connection_map(self, user: str) -> ConnectionMap:
        """Which connection each tool needs (from the config's mappings)."""

    def forget(self, user: str) -> None:
        """Drop what is cached for ``user`` (their instance answered 404, for example)."""
