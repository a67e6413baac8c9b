"""Reach a user's tools through the config's virtual MCP server with a minted bearer token."""

from __future__ import annotations

import time
from collections.abc import Coroutine, Sequence
from datetime import timedelta
from typing import Any, Protocol

from scalekit_langchain import _redact
from scalekit_langchain._access.config import get_or_create_config
from scalekit_langchain._connection_auth import ConnectionMap
from scalekit_langchain._mcp_session import ConnectParams
from scalekit_langchain.client import AccessLevel, AsyncScalekitClient
from scalekit_langchain.errors import AuthorizationRequired, BadRequestError, ScalekitError
from scalekit_langchain.models import (
    ConnectionAuthState,
    McpConfig,
    McpConfigConnectionToolMapping,
    SessionToken,
)

__all__ = ["SessionTokenAccess"]


class _HasAuthState(Protocol):
    scope: str

    async def auth_state(self, user: str, include_links: bool) -> list[ConnectionAuthState]: ...


async def _minted_params(
    mint: Coroutine[Any, Any, SessionToken],
    access: _HasAuthState,
    user: str,
    *,
    url: str,
    expiry: timedelta,
) -> ConnectParams:
    """Connect params with a freshly minted bearer token.

    A mint refused (HTTP 400) because an account is not ACTIVE becomes
    :class:`AuthorizationRequired` with fresh links. The token's lifetime is the one asked for,
    counted on the local monotonic clock: the server's ``expires_at`` is read on its clock, and
    a skewed local clock would otherwise re-mint on every call (a token that expires early is
    renewed on its 401 anyway).
    """
    try:
        token = await mint
    except BadRequestError:
        pending = [s for s in await access.auth_state(user, True) if not s.is_active]
        if pending:
            raise AuthorizationRequired(pending, user_identifier=user) from None
        raise
    secret = token.token.get_secret_value()
    params = ConnectParams(
        url=url,
        headers={"Authorization": f"Bearer {secret}"},
        expires_at=time.monotonic() + expiry.total_seconds(),
        label=f"{access.scope}/{user}",
    )
    # Redacted while these parameters live (the session using them holds them); a renewed
    # token replaces them, and the expired one leaves the redaction set.
    _redact.register_secret(secret, owner=params)
    return params


class SessionTokenAccess:
    """One static ``mcp_server_url`` per config, a short-lived token per user.

    Scalekit refuses to mint (HTTP 400) while one of the config's connections is not ACTIVE for
    the user; that refusal becomes :class:`AuthorizationRequired` with fresh links from
    ``list_mcp_connected_accounts``.

    Args:
        client: The Scalekit client.
        config_name: The config.
        mappings: Create the config with these when it does not exist; an existing config
            must have them (else :class:`~scalekit_langchain.errors.ConfigDriftError`).
        description: Description of a config created here.
        expiry: Lifetime of minted tokens (60 s to 24 h).
        sync_config: Update an existing config with other mappings to ``mappings``.
        access_level: ``"READ_ONLY"`` mints tokens that see and call read-only tools only;
            ``None``: the server's default (``FULL``).
    """

    def __init__(
        self,
        client: AsyncScalekitClient,
        config_name: str,
        *,
        mappings: Sequence[McpConfigConnectionToolMapping] | None = None,
        description: str | None = None,
        expiry: timedelta = timedelta(hours=1),
        sync_config: bool = False,
        access_level: AccessLevel | None = None,
    ) -> None:
        self.client = client
        self.scope = config_name
        self._mappings = mappings
        self._description = description
        self._expiry = expiry
        self._sync = sync_config
        self._access_level: AccessLevel | None = access_level
        self._config: McpConfig | None = None
        self._map: tuple[list[McpConfigConnectionToolMapping], ConnectionMap] | None = None

    def forget(self, user: str) -> None:
        """Nothing is cached per user (tokens are minted per connect)."""

    async def config(self) -> McpConfig:
        """The config (read once, created when missing and mappings were given)."""
        if self._config is None or not self._config.id:
            self._config = await get_or_create_config(
                self.client,
                self.scope,
                mappings=self._mappings,
                description=self._description,
                sync=self._sync,
            )
        return self._config

    async def connect_params(self, user: str) -> ConnectParams:
        """Mint a token for ``user`` and point at the config's virtual server."""
        config = await self.config()
        if not config.mcp_server_url or not config.id:
            raise ScalekitError(
                f"Config {self.scope!r} has no mcp_server_url: virtual MCP servers are not "
                "enabled for this environment; use mode='instance'"
            )
        return await _minted_params(
            self.client.mcp.create_session_token(
                config.id, user, expiry=self._expiry, access_level=self._access_level
            ),
            self,
            user,
            url=config.mcp_server_url,
            expiry=self._expiry,
        )

    async def auth_state(self, user: str, include_links: bool) -> list[ConnectionAuthState]:
        """``list_mcp_connected_accounts`` for ``user``."""
        config = await self.config()
        assert config.id
        return await self.client.mcp.list_mcp_connected_accounts(
            config.id, user, include_auth_link=include_links
        )

    async def connection_map(self, user: str) -> ConnectionMap:
        """From the config's mappings."""
        config = await self.config()
        if self._map is None or self._map[0] is not config.connection_tool_mappings:
            mappings = config.connection_tool_mappings
            self._map = (mappings, ConnectionMap(mappings))  # one map per config, not per user
        return self._map[1]


class ConnectionTokenAccess:
    """One connection's virtual server (``{env}/mcp/v3/connections/{name}``), a token per user.

    Minted with the connection as ``key_id``. With Scalekit's hosted connected-accounts widget
    on, minting succeeds for a user whose account is not ACTIVE yet (a pending account is made)
    and the refusal comes at call time; the auth state then comes from the config's connected
    accounts.

    Args:
        client: The Scalekit client.
        connection_name: The connection whose server to use.
        config_name: A config mapping this connection (for its connected accounts).
        expiry: Lifetime of minted tokens (60 s to 24 h).
        access_level: As for :class:`SessionTokenAccess`.
    """

    def __init__(
        self,
        client: AsyncScalekitClient,
        connection_name: str,
        config_name: str,
        *,
        expiry: timedelta = timedelta(hours=1),
        access_level: AccessLevel | None = None,
    ) -> None:
        self.client = client
        self.scope = f"{config_name}/{connection_name}"
        self._connection = connection_name
        self._accounts = SessionTokenAccess(client, config_name, expiry=expiry)
        self._expiry = expiry
        self._access_level: AccessLevel | None = access_level

    def forget(self, user: str) -> None:
        """Nothing is cached per user."""

    async def connect_params(self, user: str) -> ConnectParams:
        """Mint a connection token for ``user``."""
        return await _minted_params(
            self.client.mcp.create_session_token(
                identifier=user,
                expiry=self._expiry,
                access_level=self._access_level,
                connection_name=self._connection,
            ),
            self,
            user,
            url=f"{self.client.env_url}/mcp/v3/connections/{self._connection}",
            expiry=self._expiry,
        )

    async def auth_state(self, user: str, include_links: bool) -> list[ConnectionAuthState]:
        """This connection's account, from the config's connected accounts."""
        states = await self._accounts.auth_state(user, include_links)
        return [s for s in states if s.connection_name == self._connection]

    async def connection_map(self, user: str) -> ConnectionMap:
        """Every tool of this server needs this connection."""
        return ConnectionMap([McpConfigConnectionToolMapping(connection_name=self._connection)])
