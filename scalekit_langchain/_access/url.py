"""Reach tools at a URL you already have: a pre-authenticated instance URL, or any MCP URL with
a bearer token (fixed, or from a provider called on every connect so it can be renewed)."""

from __future__ import annotations

import inspect
import math
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import SecretStr

from scalekit_langchain import _redact
from scalekit_langchain._connection_auth import ConnectionMap
from scalekit_langchain._mcp_session import ConnectParams
from scalekit_langchain.models import ConnectionAuthState

__all__ = ["TokenProvider", "UrlAccess"]

#: Returns a bearer token (``str`` or ``SecretStr``, or an awaitable of one); called on every
#: connect and after a 401.
TokenProvider = Callable[[], Any]

AuthStateSource = Callable[[str, bool], Awaitable[list[ConnectionAuthState]]]


class UrlAccess:
    """One MCP URL for one user, with an optional bearer token.

    Without an ``auth_state`` source the toolkit cannot ask Scalekit about connections: answers
    then go to the model as they are (errors included) and nothing pauses for authorization.

    Args:
        url: The MCP endpoint (a credential when pre-authenticated; never logged).
        token: A fixed bearer token.
        token_provider: Called for a fresh token on every connect (and after a 401).
        auth_state: ``(user, include_links) -> states``, e.g. from a Scalekit client and config.
        connection_map: Tool -> connection map for the auth decisions.
        scope: A non-secret label.
    """

    def __init__(
        self,
        url: str | SecretStr,
        *,
        token: str | SecretStr | None = None,
        token_provider: TokenProvider | None = None,
        auth_state: AuthStateSource | None = None,
        connection_map: ConnectionMap | None = None,
        scope: str = "mcp-url",
    ) -> None:
        # Credentials are wrapped first thing, so no frame of an error path holds them raw.
        self._url = url if isinstance(url, SecretStr) else SecretStr(url)
        self._token = SecretStr(token) if isinstance(token, str) else token
        del url, token
        if self._token is not None and token_provider is not None:
            raise ValueError("pass token or token_provider, not both")
        if not self._url.get_secret_value().startswith(("http://", "https://")):
            raise ValueError("url must be an http(s) URL")
        _redact.register_secret(self._url.get_secret_value(), owner=self)
        if self._token is not None:
            _redact.register_secret(self._token.get_secret_value(), owner=self)
        self._provider = token_provider
        self._auth_state = auth_state
        self._map = connection_map or ConnectionMap([])
        self.scope = scope

    @property
    def knows_auth_state(self) -> bool:
        """Whether auth decisions can be made (an auth-state source was given)."""
        return self._auth_state is not None

    def forget(self, user: str) -> None:
        """Nothing is cached."""

    async def _bearer(self) -> str | None:
        if self._provider is not None:
            value = self._provider()
            if inspect.isawaitable(value):
                value = await value
            token = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
            if not token:
                raise ValueError("token_provider returned an empty token")
            # Redacted from here on by the session that connects with it, while it is open
            # (a renewed token replaces it; the old one leaves the redaction set).
            return token
        return self._token.get_secret_value() if self._token is not None else None

    async def connect_params(self, user: str) -> ConnectParams:
        """The URL, with ``Authorization: Bearer`` when a token is configured."""
        bearer = await self._bearer()
        return ConnectParams(
            url=self._url.get_secret_value(),
            headers={"Authorization": f"Bearer {bearer}"} if bearer else {},
            # A provider can renew: a 401 then means "connect again with a fresh token".
            expires_at=math.inf if self._provider is not None else None,
            label=f"{self.scope}/{user}",
        )

    async def auth_state(self, user: str, include_links: bool) -> list[ConnectionAuthState]:
        """From the configured source, or nothing known (empty)."""
        if self._auth_state is None:
            return []
        return await self._auth_state(user, include_links)

    async def connection_map(self, user: str) -> ConnectionMap:
        """The configured map (empty: every tool maps to no connection)."""
        return self._map
