"""The async Scalekit MCP REST client, :class:`AsyncScalekitClient`, and its ``mcp`` API.

This file is the one source of both clients: ``_rest_sync.py`` is generated from it by
``scripts/unasync.py`` (a unit test fails when the generated file is stale). Everything that is
not I/O lives in ``_base``, ``_responses`` and ``_mcp_ops``; how bytes move lives in ``_http``.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from types import TracebackType
from typing import Any, TypeVar

import httpx
from pydantic import SecretStr

from scalekit_langchain import _rest_io, _rest_requests, _rest_responses
from scalekit_langchain._access_token import AccessToken
from scalekit_langchain._client_base import ClientBase, options_of, share_state, state_of
from scalekit_langchain._rest_operations import McpOperations as Ops
from scalekit_langchain._rest_operations import token_operation
from scalekit_langchain._rest_requests import (
    AccessLevel,
    MappingInput,
    Operation,
    TransportFailure,
    check_config_name,
)
from scalekit_langchain.errors import ScalekitError
from scalekit_langchain.models import (
    ConnectionAuthState,
    McpConfig,
    McpInstance,
    Page,
    SessionToken,
)

__all__ = ["AsyncMcpApi", "AsyncScalekitClient"]

logger = logging.getLogger("scalekit_langchain")
T = TypeVar("T")
_Self = TypeVar("_Self")
_Client = TypeVar("_Client", bound="AsyncScalekitClient")


class AsyncScalekitClient(ClientBase):
    """The async client for Scalekit's MCP REST API; its endpoints are under ``client.mcp``.

    Authenticates with OAuth client credentials: one access token, fetched lazily, shared by
    every caller (single flight), refreshed once on a 401 and shortly before ``expires_in``
    runs out (counted on the local monotonic clock, so wall-clock skew changes nothing).

    Args:
        env_url: e.g. ``https://your-env.scalekit.dev``; default ``$SCALEKIT_ENV_URL``. A URL
            with a user name or password in it is refused (pass ``client_id`` and
            ``client_secret``), so ``repr(client)`` never shows one.
        client_id: default ``$SCALEKIT_CLIENT_ID``.
        client_secret: default ``$SCALEKIT_CLIENT_SECRET``; kept as a ``SecretStr``.
        http_client: Your own ``httpx.AsyncClient``; we never close it. Requests through it
            run on scalekit-langchain's session loop (where toolkits use this client), so do
            not also use it directly from another event loop.
        transport: An ``httpx.AsyncBaseTransport`` for the client we create (tests).
        timeout: The total deadline of each HTTP request in seconds, from sending it to the
            last byte of the answer (connecting gets at most 10 s of it); a retry gets a fresh
            deadline. An ``httpx.Timeout`` sets httpx's per-phase limits instead, and its
            largest value becomes the total deadline. Default 30 s (10 s to connect).
        max_retries: Retries of calls that are safe to repeat (see the README); default 3.

    Raises:
        ScalekitConfigurationError: A credential is missing (naming every missing one, also
            when only some ``SCALEKIT_*`` variables are set) or the env URL is malformed.
        ValueError: ``timeout`` is not a finite number above 0, or ``max_retries`` is negative.

    Use as ``async with AsyncScalekitClient() as client:`` or call :meth:`aclose`. A client that
    opened connections and is never closed emits a ``ResourceWarning`` when collected and
    closes them where it can. Share one client between tasks.
    """

    def __init__(
        self,
        env_url: str | None = None,
        client_id: str | None = None,
        client_secret: str | SecretStr | None = None,
        *,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = _rest_requests.DEFAULT_MAX_RETRIES,
    ) -> None:
        # No frame keeps the raw secret, nor a password in env_url (refused, but later).
        secret, url = _rest_requests.wrap_secret(client_secret), _rest_requests.wrap_secret(env_url)
        del client_secret, env_url
        super().__init__(url, client_id, secret, timeout=timeout, max_retries=max_retries)
        self._http = _rest_io.AsyncHttp(http_client, transport, owner=type(self).__name__)
        self.mcp = AsyncMcpApi(self)

    @classmethod
    def from_client(
        cls: type[_Client],
        client: ClientBase,
        *,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> _Client:
        """A client with ``client``'s credentials and options that shares its access token.

        Cheap: no request is sent, and the two clients fetch one token between them.
        ``client`` may be the async or the sync client. The new client has its own
        connections: close it too.

        Args:
            client: Either client.
            http_client: Your own ``httpx.AsyncClient`` for the new client (never closed).
            transport: An ``httpx.AsyncBaseTransport`` for the client it creates (tests).
        """
        twin = cls(**options_of(client), http_client=http_client, transport=transport)
        share_state(twin, client)
        return twin

    async def __aenter__(self: _Self) -> _Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections we opened (never a caller's ``http_client``)."""
        await self._http.aclose()

    async def _access_token(self) -> AccessToken:
        token = state_of(self).tokens.valid()
        if token is not None:
            return token
        async with self._http.lock():  # single flight: the others wait and reuse it
            token = state_of(self).tokens.valid()
            if token is None:
                token = await self._fetch_token()
                state_of(self).tokens.store(token)
            return token

    async def _fetch_token(self) -> AccessToken:
        # No local holds the answer: its request carries the client secret.
        token = _rest_responses.read_token(
            await self._exchange(token_operation(), authenticated=False)
        )
        if isinstance(token, ScalekitError):
            raise token  # scrubbed: no traceback, cause or context to reach the request
        return token

    async def _send(self, op: Operation[T]) -> T:
        answer = _rest_responses.read_answer(op, await self._exchange(op, authenticated=True))
        if isinstance(answer, ScalekitError):
            raise answer  # scrubbed: no traceback, cause or context to reach the answer
        return answer

    async def _exchange(self, op: Operation[Any], *, authenticated: bool) -> httpx.Response:
        """Send ``op`` with the retries that are safe for it; return the final response.

        Authenticated calls carry the access token and, on a 401, fetch a new one (single
        flight) and try once more. Raises our typed errors outside any ``except`` block, so
        they carry no chained httpx error (whose request holds the credentials).
        """
        reauthenticated = False
        attempt = 0
        while True:
            token = await self._access_token() if authenticated else None
            logger.debug("-> %s %s", op.method, op.path)
            outcome = await self._http.send(self._creds, op, token, self._timeouts)
            if isinstance(outcome, TransportFailure):
                if attempt < self._max_retries and _rest_requests.should_retry_failure(op, outcome):
                    delay = _rest_requests.backoff_delay(attempt)
                    self._log_retry(op, attempt, outcome.name, delay)
                    attempt += 1
                    await _rest_io.asleep(delay)
                    continue
                raise _rest_responses.transport_error(op, outcome)
            logger.debug("<- %d %s %s", outcome.status_code, op.method, op.path)
            if token is not None and outcome.status_code == 401 and not reauthenticated:
                # The token expired or was revoked early: fetch one (single flight), retry once.
                reauthenticated = True
                state_of(self).tokens.invalidate(token)
                del outcome
                continue
            retry = _rest_requests.should_retry_status(op, outcome.status_code)
            if attempt < self._max_retries and retry:
                wait = _rest_responses.retry_after_seconds(outcome)
                delay = _rest_requests.backoff_delay(attempt, wait)
                self._log_retry(op, attempt, f"HTTP {outcome.status_code}", delay)
                attempt += 1
                del outcome
                await _rest_io.asleep(delay)
                continue
            return outcome


class AsyncMcpApi:
    """MCP endpoints of :class:`AsyncScalekitClient` (``client.mcp``).

    Every method validates its input before sending (raising ``ValueError`` naming the field)
    and raises :class:`~scalekit_langchain.errors.ScalekitAPIError` subclasses on error statuses
    and :class:`~scalekit_langchain.errors.ScalekitConnectionError` on transport failures.
    """

    def __init__(self, client: AsyncScalekitClient) -> None:
        self._client = client

    async def create_config(
        self,
        name: str,
        *,
        description: str | None = None,
        connection_tool_mappings: Sequence[MappingInput] | None = None,
    ) -> McpConfig:
        """Create an MCP config.

        Args:
            name: Unique, ``^[a-z0-9_-]{1,100}$``.
            description: Free text.
            connection_tool_mappings: Up to 25 ``McpConfigConnectionToolMapping`` (or dicts with
                ``connection_name`` and ``tools``); empty ``tools`` exposes all of a connection's.

        Raises:
            ConflictError: A config with this name exists.
            BadRequestError: Unknown connection or tool.
        """
        return await self._client._send(
            Ops.create_config(name, description, connection_tool_mappings)
        )

    async def get_config(self, config_id: str) -> McpConfig:
        """Get a config by id. Raises ``NotFoundError`` when it does not exist."""
        return await self._client._send(Ops.get_config(config_id))

    async def get_config_by_name(self, name: str) -> McpConfig | None:
        """Get a config by its exact name, or ``None`` when there is none."""
        page = await self.list_configs(filter_name=check_config_name(name), page_size=1)
        return next((c for c in page.items if c.name == name), None)

    async def list_configs(
        self,
        *,
        page_size: int | None = None,
        page_token: str | None = None,
        filter_id: str | None = None,
        filter_name: str | None = None,
        filter_provider: str | None = None,
        filter_mcp_server_url: str | None = None,
        search: str | None = None,
    ) -> Page[McpConfig]:
        """List one page of configs (``page_size`` at most 30). See :meth:`iter_configs`."""
        return await self._client._send(
            Ops.list_configs(
                page_size=page_size,
                page_token=page_token,
                filter_id=filter_id,
                filter_name=filter_name,
                filter_provider=filter_provider,
                filter_mcp_server_url=filter_mcp_server_url,
                search=search,
            )
        )

    async def iter_configs(
        self, *, page_size: int | None = None, **filters: Any
    ) -> AsyncIterator[McpConfig]:
        """Iterate over every config across pages; takes :meth:`list_configs`'s filters."""
        token: str | None = None
        while True:
            page = await self.list_configs(page_size=page_size, page_token=token, **filters)
            for item in page.items:
                yield item
            if not page.next_page_token or page.next_page_token == token:
                return
            token = page.next_page_token

    async def update_config(
        self,
        config_id: str,
        *,
        description: str | None = None,
        connection_tool_mappings: Sequence[MappingInput] | None = None,
    ) -> McpConfig:
        """Update a config; given mappings replace the existing ones (the name is immutable)."""
        return await self._client._send(
            Ops.update_config(config_id, description, connection_tool_mappings)
        )

    async def delete_config(self, config_id: str) -> None:
        """Delete a config, and with it every instance of it."""
        await self._client._send(Ops.delete_config(config_id))

    async def ensure_instance(
        self, config_name: str, user_identifier: str, *, name: str | None = None
    ) -> McpInstance:
        """Get or create ``user_identifier``'s instance of a config (idempotent, retried).

        The returned ``instance.url`` is pre-authenticated; treat it as a secret.
        """
        return await self._client._send(Ops.ensure_instance(config_name, user_identifier, name))

    async def get_instance(self, instance_id: str) -> McpInstance:
        """Get an instance by id. Raises ``NotFoundError`` when it does not exist."""
        return await self._client._send(Ops.get_instance(instance_id))

    async def list_instances(
        self,
        *,
        page_size: int | None = None,
        page_token: str | None = None,
        filter_id: str | None = None,
        filter_name: str | None = None,
        filter_config_name: str | None = None,
        filter_user_identifier: str | None = None,
        search: str | None = None,
    ) -> Page[McpInstance]:
        """List one page of instances (``page_size`` at most 30). See :meth:`iter_instances`."""
        return await self._client._send(
            Ops.list_instances(
                page_size=page_size,
                page_token=page_token,
                filter_id=filter_id,
                filter_name=filter_name,
                filter_config_name=filter_config_name,
                filter_user_identifier=filter_user_identifier,
                search=search,
            )
        )

    async def iter_instances(
        self, *, page_size: int | None = None, **filters: Any
    ) -> AsyncIterator[McpInstance]:
        """Iterate over every instance across pages; takes :meth:`list_instances`'s filters."""
        token: str | None = None
        while True:
            page = await self.list_instances(page_size=page_size, page_token=token, **filters)
            for item in page.items:
                yield item
            if not page.next_page_token or page.next_page_token == token:
                return
            token = page.next_page_token

    async def update_instance(
        self, instance_id: str, *, name: str | None = None, config_name: str | None = None
    ) -> McpInstance:
        """Rename an instance or move it to another config (its mappings are rebuilt)."""
        return await self._client._send(Ops.update_instance(instance_id, name, config_name))

    async def delete_instance(self, instance_id: str) -> None:
        """Delete an instance; its URL stops working."""
        await self._client._send(Ops.delete_instance(instance_id))

    async def get_instance_auth_state(
        self, instance_id: str, *, include_auth_links: bool = False
    ) -> list[ConnectionAuthState]:
        """The authorization state of each connection of an instance.

        Args:
            instance_id: The instance.
            include_auth_links: Generate fresh (short-lived) authentication links.
        """
        return await self._client._send(
            Ops.get_instance_auth_state(instance_id, include_auth_links)
        )

    async def list_mcp_connected_accounts(
        self, config_id: str, identifier: str, *, include_auth_link: bool = False
    ) -> list[ConnectionAuthState]:
        """A user's connected account for each connection of a config (session-token mode).

        With ``include_auth_link=True`` missing accounts are created and fresh links returned.
        """
        return await self._client._send(
            Ops.list_mcp_connected_accounts(config_id, identifier, include_auth_link)
        )

    async def create_session_token(
        self,
        mcp_config_id: str | None = None,
        identifier: str | None = None,
        expiry: timedelta | float | None = None,
        access_level: AccessLevel | None = None,
        *,
        connection_name: str | None = None,
    ) -> SessionToken:
        """Mint a bearer token for one user: for a config's ``mcp_server_url``
        (``mcp_config_id``), or for one connection's virtual server
        (``connection_name=``, ``{env}/mcp/v3/connections/{connection_name}``). One method
        for both, as in Scalekit's Python SDK 2.21.

        Args:
            mcp_config_id: The config (exclusive with ``connection_name``).
            identifier: The user (1 to 255 characters).
            expiry: 60 seconds to 24 hours (a ``timedelta`` or seconds); ``None``: the
                server's default, one hour.
            access_level: ``"FULL"`` (the server's default) or ``"READ_ONLY"``: only tools
                annotated read-only are listed and callable with the token.
            connection_name: The connection (its ``key_id``; exclusive with ``mcp_config_id``).

        Raises:
            ValueError: Both or neither of ``mcp_config_id`` and ``connection_name``, a missing
                identifier, or a bad expiry or access level (nothing is sent).
            BadRequestError: A connection of the config is not ACTIVE for the user (config
                tokens), or not an AgentKit connection (connection tokens).
            NotFoundError: No such config, or no active connection with that name.
        """
        if (mcp_config_id is None) == (connection_name is None):
            raise ValueError("pass exactly one of mcp_config_id and connection_name")
        if identifier is None:
            raise ValueError("identifier is required")
        if connection_name is not None:
            op = Ops.create_connection_session_token(
                connection_name, identifier, expiry, access_level
            )
        else:
            assert mcp_config_id is not None
            op = Ops.create_session_token(mcp_config_id, identifier, expiry, access_level)
        return await self._client._send(op)

    async def create_connection_session_token(
        self,
        connection_name: str,
        identifier: str,
        *,
        expiry: timedelta | float | None = None,
        access_level: AccessLevel | None = None,
    ) -> SessionToken:
        """Deprecated: ``create_session_token(connection_name=..., identifier=...)`` (the
        official SDK 2.21 removed this name). Warns with ``DeprecationWarning``."""
        warnings.warn(
            "create_connection_session_token is deprecated; use "
            "create_session_token(connection_name=..., identifier=...)",
            DeprecationWarning,
            stacklevel=2,
        )
        return await self.create_session_token(
            identifier=identifier,
            expiry=expiry,
            access_level=access_level,
            connection_name=connection_name,
        )
