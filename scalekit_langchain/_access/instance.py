"""Reach a user's tools through their MCP instance (a pre-authenticated URL)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from scalekit_langchain._access.config import check_drift, get_or_create_config, mapping_drift
from scalekit_langchain._client_base import state_of
from scalekit_langchain._client_state import BoundedCache
from scalekit_langchain._connection_auth import ConnectionMap
from scalekit_langchain._mcp_session import ConnectParams
from scalekit_langchain.client import AsyncScalekitClient
from scalekit_langchain.errors import BadRequestError, NotFoundError, ScalekitProtocolError
from scalekit_langchain.models import (
    ConnectionAuthState,
    McpConfig,
    McpConfigConnectionToolMapping,
    McpInstance,
)

__all__ = ["InstanceAccess"]


@dataclass
class _Cached:
    instance: McpInstance
    expires_at: float




class InstanceAccess:
    """``ensure_instance`` per user; the instance URL is the credential.

    Args:
        client: The Scalekit client.
        config_name: The config.
        mappings: Create the config with these when ``ensure_instance`` says it is missing;
            an existing config must have them (else
            :class:`~scalekit_langchain.errors.ConfigDriftError`), checked once, on the first
            instance, from the config the instance carries (asked by name when that differs).
        description: Description of a config created here.
        instance_name: Optional name of the user's instance.
        cache_ttl: Seconds an ensured instance is reused without asking Scalekit.
        sync_config: Update an existing config with other mappings to ``mappings``.
    """

    def __init__(
        self,
        client: AsyncScalekitClient,
        config_name: str,
        *,
        mappings: Sequence[McpConfigConnectionToolMapping] | None = None,
        description: str | None = None,
        instance_name: str | None = None,
        cache_ttl: float = 900.0,
        sync_config: bool = False,
    ) -> None:
        self.client = client
        # Ensured instances live in the client's state, shared by every toolkit of the client
        # and its twins: a returning user within the TTL costs no REST call.
        self._cache = state_of(client).instances
        self.scope = config_name
        self._mappings = mappings
        self._description = description
        self._instance_name = instance_name
        self._ttl = cache_ttl
        self._sync = sync_config
        # Whether the config's mappings were checked against ``mappings`` (once per access).
        self._checked = mappings is None
        self._config: McpConfig | None = None
        self._map: tuple[list[McpConfigConnectionToolMapping], ConnectionMap] | None = None
        self._locks: BoundedCache[str, asyncio.Lock] = BoundedCache(1024)

    def _key(self, user: str) -> tuple[str, str, str | None]:
        return (self.scope, user, self._instance_name)

    def forget(self, user: str) -> None:
        """Drop the cached instance of ``user`` for every toolkit of this client."""
        self._cache.pop(self._key(user))

    async def instance(self, user: str) -> McpInstance:
        """The user's instance, from the shared cache or ``ensure_instance``."""
        cache: BoundedCache[tuple[str, str, str | None], _Cached] = self._cache
        hit: _Cached | None = cache.get(self._key(user))
        if hit is not None and time.monotonic() < hit.expires_at:
            self._learn(hit.instance)
            if not self._checked:
                await self._check(hit.instance)
            return hit.instance
        # One ensure per user at a time (a bounded table: a forgotten lock costs at most one
        # extra, idempotent ensure_instance).
        lock = self._locks.setdefault(user, asyncio.Lock)
        async with lock:
            hit = cache.get(self._key(user))
            if hit is not None and time.monotonic() < hit.expires_at:
                return hit.instance
            instance = await self._ensure(user)
            if not instance.url:
                raise ScalekitProtocolError(
                    f"Scalekit returned no URL for {user!r}'s instance of {self.scope!r}"
                )
            # The parsed instance holds its URL's secrets in the redaction set (released when
            # the instance leaves this cache and no session uses it).
            self._learn(instance)
            if not self._checked:
                await self._check(instance)
            cache.set(self._key(user), _Cached(instance, time.monotonic() + self._ttl))
            return instance

    async def _check(self, instance: McpInstance) -> None:
        """Refuse (or sync) a config whose mappings differ from the declared ones."""
        assert self._mappings is not None
        config = instance.config
        if config is None or mapping_drift(config.connection_tool_mappings, self._mappings):
            # The copy an instance carries may be older than the config (a cached instance,
            # another toolkit synced it): the config itself decides.
            config = await self.client.mcp.get_config_by_name(self.scope)
        if config is not None:
            self._config = await check_drift(self.client, config, self._mappings, sync=self._sync)
        self._checked = True

    def _learn(self, instance: McpInstance) -> None:
        if instance.config is not None and self._config is None:
            self._config = instance.config

    async def _ensure(self, user: str) -> McpInstance:
        mcp = self.client.mcp
        try:
            return await mcp.ensure_instance(self.scope, user, name=self._instance_name)
        except (NotFoundError, BadRequestError):
            if self._mappings is None:
                raise
        self._config = await get_or_create_config(
            self.client,
            self.scope,
            mappings=self._mappings,
            description=self._description,
            sync=self._sync,
        )
        self._checked = True
        return await mcp.ensure_instance(self.scope, user, name=self._instance_name)

    async def connect_params(self, user: str) -> ConnectParams:
        """The instance URL (no header needed)."""
        instance = await self.instance(user)
        assert instance.url is not None
        return ConnectParams(url=instance.url, label=f"{self.scope}/{user}")

    async def auth_state(self, user: str, include_links: bool) -> list[ConnectionAuthState]:
        """``get_instance_auth_state`` of the user's instance."""
        instance = await self.instance(user)
        try:
            return await self.client.mcp.get_instance_auth_state(
                instance.id, include_auth_links=include_links
            )
        except NotFoundError:
            # The instance was deleted (and maybe recreated): ensure it again, once.
            self.forget(user)
            instance = await self.instance(user)
            return await self.client.mcp.get_instance_auth_state(
                instance.id, include_auth_links=include_links
            )

    async def connection_map(self, user: str) -> ConnectionMap:
        """From the config the instance belongs to."""
        if self._config is None or not self._config.connection_tool_mappings:
            await self.instance(user)
        if self._config is None or not self._config.connection_tool_mappings:
            found = await self.client.mcp.get_config_by_name(self.scope)
            if found is not None:
                self._config = found
        mappings = self._config.connection_tool_mappings if self._config else []
        if self._map is None or self._map[0] is not mappings:
            self._map = (mappings, ConnectionMap(mappings))  # one map per config, not per user
        return self._map[1]
