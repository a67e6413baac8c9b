"""Which way in a toolkit's options choose: the :class:`~.protocol.UserAccess` to build."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Literal, Protocol

from pydantic import SecretStr

from scalekit_langchain._access.instance import InstanceAccess
from scalekit_langchain._access.protocol import UserAccess
from scalekit_langchain._access.session_token import ConnectionTokenAccess, SessionTokenAccess
from scalekit_langchain._access.url import TokenProvider, UrlAccess
from scalekit_langchain._connection_auth import ConnectionMap
from scalekit_langchain.client import AccessLevel, AsyncScalekitClient
from scalekit_langchain.models import McpConfigConnectionToolMapping

__all__ = ["AccessOptions", "access_for"]


class AccessOptions(Protocol):
    """The toolkit options that decide how users are reached (read only)."""

    @property
    def url(self) -> SecretStr | None: ...
    @property
    def bearer_token(self) -> SecretStr | None: ...
    @property
    def token_provider(self) -> TokenProvider | None: ...
    @property
    def config_name(self) -> str | None: ...
    @property
    def mode(self) -> Literal["instance", "session_token", "connection"]: ...
    @property
    def connection_name(self) -> str | None: ...
    @property
    def connection_tool_mappings(self) -> Sequence[McpConfigConnectionToolMapping] | None: ...
    @property
    def description(self) -> str | None: ...
    @property
    def instance_name(self) -> str | None: ...
    @property
    def instance_cache_ttl(self) -> float: ...
    @property
    def session_token_expiry(self) -> timedelta: ...
    @property
    def sync_config(self) -> bool: ...
    @property
    def access_level(self) -> AccessLevel | None: ...


def access_for(options: AccessOptions, client: Callable[[], AsyncScalekitClient]) -> UserAccess:
    """The way in ``options`` ask for; ``client()`` is called only when Scalekit is needed."""
    if options.url is not None:
        auth_source = None
        if options.config_name is not None:
            accounts = SessionTokenAccess(client(), options.config_name)
            auth_source = accounts.auth_state
        return UrlAccess(
            options.url,
            token=options.bearer_token,
            token_provider=options.token_provider,
            auth_state=auth_source,
            connection_map=ConnectionMap(options.connection_tool_mappings or []),
            scope=options.config_name or "mcp-url",
        )
    assert options.config_name is not None
    if options.mode == "instance":
        return InstanceAccess(
            client(),
            options.config_name,
            mappings=options.connection_tool_mappings,
            description=options.description,
            instance_name=options.instance_name,
            cache_ttl=options.instance_cache_ttl,
            sync_config=options.sync_config,
        )
    if options.mode == "connection":
        assert options.connection_name is not None
        return ConnectionTokenAccess(
            client(),
            options.connection_name,
            options.config_name,
            expiry=options.session_token_expiry,
            access_level=options.access_level,
        )
    return SessionTokenAccess(
        client(),
        options.config_name,
        mappings=options.connection_tool_mappings,
        description=options.description,
        expiry=options.session_token_expiry,
        sync_config=options.sync_config,
        access_level=options.access_level,
    )
