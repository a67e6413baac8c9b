"""Scalekit MCP REST clients: :class:`AsyncScalekitClient` and its sync twin
:class:`ScalekitClient`.

Both authenticate with OAuth client credentials (one access token per client, fetched lazily,
shared by every caller, refreshed once on 401 and shortly before it expires) and expose the MCP
endpoints under ``client.mcp`` with the official Python SDK's method names.

Example:
    >>> async with AsyncScalekitClient() as client:  # doctest: +SKIP
    ...     config = await client.mcp.get_config_by_name("email-calendar-assistant")
    ...     instance = await client.mcp.ensure_instance(config.name, "john-doe")
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import timedelta
from types import TracebackType
from typing import Any, TypeVar

import httpx
from pydantic import SecretStr

from scalekit_langchain import _base as b
from scalekit_langchain import _redact, _runner
from scalekit_langchain._base import Operation
from scalekit_langchain.errors import ScalekitConnectionError, ScalekitTimeoutError
from scalekit_langchain.models import (
    ConnectionAuthState,
    McpConfig,
    McpInstance,
    Page,
    SessionToken,
)

__all__ = ["AsyncScalekitClient", "ScalekitClient"]

logger = logging.getLogger("scalekit_langchain")
T = TypeVar("T")
_Self = TypeVar("_Self")

_CONFIGS = "/api/v1/mcp/configs"
_INSTANCES = "/api/v1/mcp/instances"


class _McpOperations:
    """Builds (and validates) every MCP operation once, for both clients."""

    @staticmethod
    def create_config(
        name: str,
        description: str | None,
        connection_tool_mappings: Sequence[b.MappingInput] | None,
    ) -> Operation[McpConfig]:
        body: dict[str, Any] = {"name": b.check_config_name(name)}
        if description is not None:
            body["description"] = description
        body["connection_tool_mappings"] = b.mappings_body(connection_tool_mappings or [])
        return Operation("POST", _CONFIGS, b.parse_config, json=body, idempotent=False)

    @staticmethod
    def get_config(config_id: str) -> Operation[McpConfig]:
        return Operation(
            "GET", f"{_CONFIGS}/{b.require_id(config_id, 'config_id')}", b.parse_config
        )

    @staticmethod
    def list_configs(
        *,
        page_size: int | None = None,
        page_token: str | None = None,
        filter_id: str | None = None,
        filter_name: str | None = None,
        filter_provider: str | None = None,
        filter_mcp_server_url: str | None = None,
        search: str | None = None,
    ) -> Operation[Page[McpConfig]]:
        params = b.query_params(
            page_size=b.check_page_size(page_size),
            page_token=page_token or None,
            search=search or None,
            **{
                "filter.id": filter_id or None,
                "filter.name": filter_name or None,
                "filter.provider": filter_provider or None,
                "filter.mcp_server_url": filter_mcp_server_url or None,
            },
        )
        return Operation("GET", _CONFIGS, b.parse_config_page, params=params)

    @staticmethod
    def update_config(
        config_id: str,
        description: str | None,
        connection_tool_mappings: Sequence[b.MappingInput] | None,
    ) -> Operation[McpConfig]:
        path = f"{_CONFIGS}/{b.require_id(config_id, 'config_id')}"
        body: dict[str, Any] = {}
        if description is not None:
            body["description"] = description
        if connection_tool_mappings is not None:
            body["connection_tool_mappings"] = b.mappings_body(connection_tool_mappings)
        return Operation("PUT", path, b.parse_config, json=body, idempotent=False)

    @staticmethod
    def delete_config(config_id: str) -> Operation[None]:
        path = f"{_CONFIGS}/{b.require_id(config_id, 'config_id')}"
        return Operation("DELETE", path, b.parse_empty, idempotent=False)

    @staticmethod
    def ensure_instance(
        config_name: str, user_identifier: str, name: str | None
    ) -> Operation[McpInstance]:
        body: dict[str, Any] = {
            "config_name": b.require_identifier(config_name, "config_name"),
            "user_identifier": b.require_identifier(user_identifier, "user_identifier"),
        }
        if name is not None:
            body["name"] = b.require_identifier(name, "name")
        # Ensure is get-or-create on (config, user, name): repeating it is harmless.
        return Operation("POST", _INSTANCES, b.parse_instance, json=body, idempotent=True)

    @staticmethod
    def get_instance(instance_id: str) -> Operation[McpInstance]:
        path = f"{_INSTANCES}/{b.require_id(instance_id, 'instance_id')}"
        return Operation("GET", path, b.parse_instance)

    @staticmethod
    def list_instances(
        *,
        page_size: int | None = None,
        page_token: str | None = None,
        filter_id: str | None = None,
        filter_name: str | None = None,
        filter_config_name: str | None = None,
        filter_user_identifier: str | None = None,
        search: str | None = None,
    ) -> Operation[Page[McpInstance]]:
        params = b.query_params(
            page_size=b.check_page_size(page_size),
            page_token=page_token or None,
            search=search or None,
            **{
                "filter.id": filter_id or None,
                "filter.name": filter_name or None,
                "filter.config_name": filter_config_name or None,
                "filter.user_identifier": filter_user_identifier or None,
            },
        )
        return Operation("GET", _INSTANCES, b.parse_instance_page, params=params)

    @staticmethod
    def update_instance(
        instance_id: str, name: str | None, config_name: str | None
    ) -> Operation[McpInstance]:
        path = f"{_INSTANCES}/{b.require_id(instance_id, 'instance_id')}"
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = b.require_identifier(name, "name")
        if config_name is not None:
            body["config_name"] = b.check_config_name(config_name, "config_name")
        return Operation("PATCH", path, b.parse_instance, json=body, idempotent=False)

    @staticmethod
    def delete_instance(instance_id: str) -> Operation[None]:
        path = f"{_INSTANCES}/{b.require_id(instance_id, 'instance_id')}"
        return Operation("DELETE", path, b.parse_empty, idempotent=False)

    @staticmethod
    def get_instance_auth_state(
        instance_id: str, include_auth_links: bool
    ) -> Operation[list[ConnectionAuthState]]:
        path = f"{_INSTANCES}/{b.require_id(instance_id, 'instance_id')}:get_auth_state"
        # The RPC has no body binding, so grpc-gateway reads the flag from the query string.
        params = b.query_params(include_auth_links=bool(include_auth_links))
        return Operation("POST", path, b.parse_auth_state, params=params)

    @staticmethod
    def list_mcp_connected_accounts(
        config_id: str, identifier: str, include_auth_link: bool
    ) -> Operation[list[ConnectionAuthState]]:
        path = f"{_CONFIGS}/{b.require_id(config_id, 'config_id')}/connected_accounts"
        body = {
            "identifier": b.require_identifier(identifier, "identifier"),
            "include_auth_link": bool(include_auth_link),
        }
        # Creating missing accounts on the fly is idempotent, so this is safe to repeat.
        return Operation("POST", path, b.parse_connected_accounts, json=body)

    @staticmethod
    def create_session_token(
        config_id: str, identifier: str, expiry: timedelta | float
    ) -> Operation[SessionToken]:
        path = f"{_CONFIGS}/{b.require_id(config_id, 'config_id')}/tokens"
        body = {
            "identifier": b.require_identifier(
                identifier, "identifier", max_len=b.MAX_IDENTIFIER_LEN
            ),
            "expiry": b.duration_str(expiry),
        }
        # Minting twice only yields two tokens; nothing changes server-side.
        return Operation("POST", path, b.parse_session_token, json=body)


_ops = _McpOperations


class _ClientBase:
    """State shared by both clients; no I/O."""

    def __init__(
        self,
        env_url: str | None,
        client_id: str | None,
        client_secret: str | SecretStr | None,
        *,
        timeout: float | httpx.Timeout | None,
        max_retries: int,
    ) -> None:
        self._creds = b.resolve_credentials(env_url, client_id, client_secret)
        _redact.register_secret(self._creds.client_secret.get_secret_value())
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries must be a non-negative integer, got {max_retries!r}")
        self._timeout = (
            b.DEFAULT_TIMEOUT
            if timeout is None
            else timeout
            if isinstance(timeout, httpx.Timeout)
            else httpx.Timeout(timeout)
        )
        self._max_retries = max_retries
        self._token: b.AccessToken | None = None
        self._token_state_lock = threading.Lock()
        #: How many access tokens this client has fetched (for tests and benchmarks).
        self.token_fetches = 0

    @property
    def env_url(self) -> str:
        """The Scalekit environment URL, e.g. ``https://your-env.scalekit.com``."""
        return self._creds.env_url

    @property
    def client_id(self) -> str:
        return self._creds.client_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}(env_url={self.env_url!r}, client_id={self.client_id!r})"

    def _url(self, path: str) -> str:
        return self._creds.env_url + path

    def _valid_token(self) -> b.AccessToken | None:
        with self._token_state_lock:
            token = self._token
        if token is not None and time.monotonic() < token.refresh_at:
            return token
        return None

    def _store_token(self, token: b.AccessToken) -> None:
        _redact.register_secret(token.value.get_secret_value())
        with self._token_state_lock:
            old, self._token = self._token, token
            self.token_fetches += 1
        if old is not None:
            _redact.forget_secret(old.value.get_secret_value())

    def _invalidate(self, token: b.AccessToken) -> None:
        with self._token_state_lock:
            if self._token is token:
                self._token = None

    @staticmethod
    def _transport_error(op: Operation[Any], exc: httpx.TransportError) -> ScalekitConnectionError:
        cls = (
            ScalekitTimeoutError
            if isinstance(exc, httpx.TimeoutException)
            else ScalekitConnectionError
        )
        return cls(f"{type(exc).__name__} on {op.method} {op.path}: {exc or 'no detail'}")

    def _log_retry(self, op: Operation[Any], attempt: int, why: str, delay: float) -> None:
        logger.info(
            "Retrying %s %s after %s (attempt %d of %d, waiting %.2fs)",
            op.method,
            op.path,
            why,
            attempt + 1,
            self._max_retries,
            delay,
        )


class AsyncScalekitClient(_ClientBase):
    """Async client for Scalekit's MCP REST API.

    Args:
        env_url: e.g. ``https://your-env.scalekit.com``; default ``$SCALEKIT_ENV_URL``.
        client_id: default ``$SCALEKIT_CLIENT_ID``.
        client_secret: default ``$SCALEKIT_CLIENT_SECRET``; kept as a ``SecretStr``.
        http_client: Your own ``httpx.AsyncClient``; we never close it. Requests through it
            run on scalekit-langchain's session loop (where toolkits use this client), so do
            not also use it directly from another event loop.
        transport: An ``httpx.AsyncBaseTransport`` for the client we create (tests).
        timeout: Seconds (or an ``httpx.Timeout``) per request; default 30 s, 10 s to connect.
        max_retries: Retries of calls that are safe to repeat (see the README); default 3.

    Raises:
        ScalekitConfigurationError: A credential is missing or the env URL is malformed.

    Use as ``async with AsyncScalekitClient() as client:`` or call :meth:`aclose`.
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
        max_retries: int = b.DEFAULT_MAX_RETRIES,
    ) -> None:
        super().__init__(
            env_url, client_id, client_secret, timeout=timeout, max_retries=max_retries
        )
        self._owns_http = http_client is None
        self._caller_http = http_client
        self._transport = transport
        # An httpx.AsyncClient's pool belongs to the loop it first ran on; the toolkit calls us
        # from its session loop while the app may call us from its own, so when we own the HTTP
        # client we keep one per loop.
        self._http_by_loop: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}
        self._refresh_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self.mcp = AsyncMcpApi(self)

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
        """Close the HTTP clients we created (never a caller's ``http_client``)."""
        clients, self._http_by_loop = self._http_by_loop, {}
        current = asyncio.get_running_loop()
        for loop, http in clients.items():
            if loop is current:
                await http.aclose()
            elif loop.is_running():
                await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(http.aclose(), loop))

    async def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        if self._caller_http is not None and not _runner.on_session_loop():
            # A caller's AsyncClient cannot follow us across loops (its pool is bound to the
            # first one), and the toolkit uses this client from the session loop: keep every
            # request through it on that loop.
            return await _runner.run(self._caller_http.request(method, url, **kwargs))
        return await self._http.request(method, url, **kwargs)

    @property
    def _http(self) -> httpx.AsyncClient:
        if self._caller_http is not None:
            return self._caller_http
        loop = asyncio.get_running_loop()
        http = self._http_by_loop.get(loop)
        if http is None:
            for stale in [lp for lp in self._http_by_loop if lp.is_closed()]:
                del self._http_by_loop[stale]
            http = httpx.AsyncClient(timeout=self._timeout, transport=self._transport)
            self._http_by_loop[loop] = http
        return http

    def _refresh_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._refresh_locks.get(loop)
        if lock is None:
            lock = self._refresh_locks.setdefault(loop, asyncio.Lock())
        return lock

    async def _access_token(self) -> b.AccessToken:
        token = self._valid_token()
        if token is not None:
            return token
        async with self._refresh_lock():  # single flight: the others wait and reuse it
            token = self._valid_token()
            if token is not None:
                return token
            token = await self._fetch_token()
            self._store_token(token)
            return token

    async def _fetch_token(self) -> b.AccessToken:
        path, form = b.token_request(self._creds)
        op: Operation[None] = Operation("POST", path, b.parse_empty, data=form)
        return b.parse_token_response(await self._exchange(op, authenticated=False))

    async def _send(self, op: Operation[T]) -> T:
        return b.parse_success(op, await self._exchange(op, authenticated=True))

    async def _exchange(self, op: Operation[Any], *, authenticated: bool) -> httpx.Response:
        """Send ``op`` with the retries that are safe for it; return the final response.

        Authenticated calls carry the access token and, on a 401, fetch a new one (single
        flight) and try once more.
        """
        reauthenticated = False
        attempt = 0
        while True:
            token = await self._access_token() if authenticated else None
            try:
                logger.debug("-> %s %s", op.method, op.path)
                response = await self._request(
                    op.method,
                    self._url(op.path),
                    params=op.params,
                    json=op.json,
                    data=op.data,
                    headers=b.build_headers(token),
                    timeout=self._timeout,
                )
            except httpx.TransportError as exc:
                if attempt < self._max_retries and b.should_retry_exception(op, exc):
                    delay = b.backoff_delay(attempt)
                    self._log_retry(op, attempt, type(exc).__name__, delay)
                    attempt += 1
                    await asyncio.sleep(delay)
                    continue
                raise self._transport_error(op, exc) from exc
            logger.debug("<- %d %s %s", response.status_code, op.method, op.path)
            if token is not None and response.status_code == 401 and not reauthenticated:
                # The token expired or was revoked early: fetch one (single flight), retry once.
                reauthenticated = True
                self._invalidate(token)
                continue
            if attempt < self._max_retries and b.should_retry_status(op, response.status_code):
                delay = b.backoff_delay(attempt, b.retry_after_seconds(response))
                self._log_retry(op, attempt, f"HTTP {response.status_code}", delay)
                attempt += 1
                await asyncio.sleep(delay)
                continue
            return response


class ScalekitClient(_ClientBase):
    """Sync client for Scalekit's MCP REST API; the twin of :class:`AsyncScalekitClient`.

    Takes the same arguments, with ``http_client`` an ``httpx.Client`` and ``transport`` an
    ``httpx.BaseTransport``. Safe to share between threads.
    """

    def __init__(
        self,
        env_url: str | None = None,
        client_id: str | None = None,
        client_secret: str | SecretStr | None = None,
        *,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = b.DEFAULT_MAX_RETRIES,
    ) -> None:
        super().__init__(
            env_url, client_id, client_secret, timeout=timeout, max_retries=max_retries
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=self._timeout, transport=transport)
        self._refresh_lock = threading.Lock()
        self.mcp = McpApi(self)

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client if we created it."""
        if self._owns_http:
            self._http.close()

    def _access_token(self) -> b.AccessToken:
        token = self._valid_token()
        if token is not None:
            return token
        with self._refresh_lock:
            token = self._valid_token()
            if token is not None:
                return token
            token = self._fetch_token()
            self._store_token(token)
            return token

    def _fetch_token(self) -> b.AccessToken:
        path, form = b.token_request(self._creds)
        op: Operation[None] = Operation("POST", path, b.parse_empty, data=form)
        return b.parse_token_response(self._exchange(op, authenticated=False))

    def _send(self, op: Operation[T]) -> T:
        return b.parse_success(op, self._exchange(op, authenticated=True))

    def _exchange(self, op: Operation[Any], *, authenticated: bool) -> httpx.Response:
        """Sync twin of :meth:`AsyncScalekitClient._exchange`."""
        reauthenticated = False
        attempt = 0
        while True:
            token = self._access_token() if authenticated else None
            try:
                logger.debug("-> %s %s", op.method, op.path)
                response = self._http.request(
                    op.method,
                    self._url(op.path),
                    params=op.params,
                    json=op.json,
                    data=op.data,
                    headers=b.build_headers(token),
                    timeout=self._timeout,
                )
            except httpx.TransportError as exc:
                if attempt < self._max_retries and b.should_retry_exception(op, exc):
                    delay = b.backoff_delay(attempt)
                    self._log_retry(op, attempt, type(exc).__name__, delay)
                    attempt += 1
                    time.sleep(delay)
                    continue
                raise self._transport_error(op, exc) from exc
            logger.debug("<- %d %s %s", response.status_code, op.method, op.path)
            if token is not None and response.status_code == 401 and not reauthenticated:
                reauthenticated = True
                self._invalidate(token)
                continue
            if attempt < self._max_retries and b.should_retry_status(op, response.status_code):
                delay = b.backoff_delay(attempt, b.retry_after_seconds(response))
                self._log_retry(op, attempt, f"HTTP {response.status_code}", delay)
                attempt += 1
                time.sleep(delay)
                continue
            return response


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
        connection_tool_mappings: Sequence[b.MappingInput] | None = None,
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
            _ops.create_config(name, description, connection_tool_mappings)
        )

    async def get_config(self, config_id: str) -> McpConfig:
        """Get a config by id. Raises ``NotFoundError`` when it does not exist."""
        return await self._client._send(_ops.get_config(config_id))

    async def get_config_by_name(self, name: str) -> McpConfig | None:
        """Get a config by its exact name, or ``None`` when there is none."""
        page = await self.list_configs(filter_name=b.check_config_name(name), page_size=1)
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
            _ops.list_configs(
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
        connection_tool_mappings: Sequence[b.MappingInput] | None = None,
    ) -> McpConfig:
        """Update a config; given mappings replace the existing ones (the name is immutable)."""
        return await self._client._send(
            _ops.update_config(config_id, description, connection_tool_mappings)
        )

    async def delete_config(self, config_id: str) -> None:
        """Delete a config, and with it every instance of it."""
        await self._client._send(_ops.delete_config(config_id))

    async def ensure_instance(
        self, config_name: str, user_identifier: str, *, name: str | None = None
    ) -> McpInstance:
        """Get or create ``user_identifier``'s instance of a config (idempotent, retried).

        The returned ``instance.url`` is pre-authenticated; treat it as a secret.
        """
        return await self._client._send(_ops.ensure_instance(config_name, user_identifier, name))

    async def get_instance(self, instance_id: str) -> McpInstance:
        """Get an instance by id. Raises ``NotFoundError`` when it does not exist."""
        return await self._client._send(_ops.get_instance(instance_id))

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
            _ops.list_instances(
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
        return await self._client._send(_ops.update_instance(instance_id, name, config_name))

    async def delete_instance(self, instance_id: str) -> None:
        """Delete an instance; its URL stops working."""
        await self._client._send(_ops.delete_instance(instance_id))

    async def get_instance_auth_state(
        self, instance_id: str, *, include_auth_links: bool = False
    ) -> list[ConnectionAuthState]:
        """The authorization state of each connection of an instance.

        Args:
            instance_id: The instance.
            include_auth_links: Generate fresh (short-lived) authentication links.
        """
        return await self._client._send(
            _ops.get_instance_auth_state(instance_id, include_auth_links)
        )

    async def list_mcp_connected_accounts(
        self, config_id: str, identifier: str, *, include_auth_link: bool = False
    ) -> list[ConnectionAuthState]:
        """A user's connected account for each connection of a config (session-token mode).

        With ``include_auth_link=True`` missing accounts are created and fresh links returned.
        """
        return await self._client._send(
            _ops.list_mcp_connected_accounts(config_id, identifier, include_auth_link)
        )

    async def create_session_token(
        self, config_id: str, identifier: str, *, expiry: timedelta | float = timedelta(hours=1)
    ) -> SessionToken:
        """Mint a bearer token for the config's ``mcp_server_url``, for one user.

        Args:
            config_id: The config.
            identifier: The user (1 to 255 characters).
            expiry: 60 seconds to 24 hours (a ``timedelta`` or seconds); default one hour.

        Raises:
            BadRequestError: A connection of the config is not ACTIVE for the user.
        """
        return await self._client._send(_ops.create_session_token(config_id, identifier, expiry))


class McpApi:
    """MCP endpoints of :class:`ScalekitClient` (``client.mcp``); see :class:`AsyncMcpApi`."""

    def __init__(self, client: ScalekitClient) -> None:
        self._client = client

    def create_config(
        self,
        name: str,
        *,
        description: str | None = None,
        connection_tool_mappings: Sequence[b.MappingInput] | None = None,
    ) -> McpConfig:
        """Create an MCP config; see :meth:`AsyncMcpApi.create_config`."""
        return self._client._send(_ops.create_config(name, description, connection_tool_mappings))

    def get_config(self, config_id: str) -> McpConfig:
        """Get a config by id. Raises ``NotFoundError`` when it does not exist."""
        return self._client._send(_ops.get_config(config_id))

    def get_config_by_name(self, name: str) -> McpConfig | None:
        """Get a config by its exact name, or ``None`` when there is none."""
        page = self.list_configs(filter_name=b.check_config_name(name), page_size=1)
        return next((c for c in page.items if c.name == name), None)

    def list_configs(
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
        return self._client._send(
            _ops.list_configs(
                page_size=page_size,
                page_token=page_token,
                filter_id=filter_id,
                filter_name=filter_name,
                filter_provider=filter_provider,
                filter_mcp_server_url=filter_mcp_server_url,
                search=search,
            )
        )

    def iter_configs(self, *, page_size: int | None = None, **filters: Any) -> Iterator[McpConfig]:
        """Iterate over every config across pages; takes :meth:`list_configs`'s filters."""
        token: str | None = None
        while True:
            page = self.list_configs(page_size=page_size, page_token=token, **filters)
            yield from page.items
            if not page.next_page_token or page.next_page_token == token:
                return
            token = page.next_page_token

    def update_config(
        self,
        config_id: str,
        *,
        description: str | None = None,
        connection_tool_mappings: Sequence[b.MappingInput] | None = None,
    ) -> McpConfig:
        """Update a config; given mappings replace the existing ones (the name is immutable)."""
        return self._client._send(
            _ops.update_config(config_id, description, connection_tool_mappings)
        )

    def delete_config(self, config_id: str) -> None:
        """Delete a config, and with it every instance of it."""
        self._client._send(_ops.delete_config(config_id))

    def ensure_instance(
        self, config_name: str, user_identifier: str, *, name: str | None = None
    ) -> McpInstance:
        """Get or create a user's instance of a config; see :meth:`AsyncMcpApi.ensure_instance`."""
        return self._client._send(_ops.ensure_instance(config_name, user_identifier, name))

    def get_instance(self, instance_id: str) -> McpInstance:
        """Get an instance by id. Raises ``NotFoundError`` when it does not exist."""
        return self._client._send(_ops.get_instance(instance_id))

    def list_instances(
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
        return self._client._send(
            _ops.list_instances(
                page_size=page_size,
                page_token=page_token,
                filter_id=filter_id,
                filter_name=filter_name,
                filter_config_name=filter_config_name,
                filter_user_identifier=filter_user_identifier,
                search=search,
            )
        )

    def iter_instances(
        self, *, page_size: int | None = None, **filters: Any
    ) -> Iterator[McpInstance]:
        """Iterate over every instance across pages; takes :meth:`list_instances`'s filters."""
        token: str | None = None
        while True:
            page = self.list_instances(page_size=page_size, page_token=token, **filters)
            yield from page.items
            if not page.next_page_token or page.next_page_token == token:
                return
            token = page.next_page_token

    def update_instance(
        self, instance_id: str, *, name: str | None = None, config_name: str | None = None
    ) -> McpInstance:
        """Rename an instance or move it to another config (its mappings are rebuilt)."""
        return self._client._send(_ops.update_instance(instance_id, name, config_name))

    def delete_instance(self, instance_id: str) -> None:
        """Delete an instance; its URL stops working."""
        self._client._send(_ops.delete_instance(instance_id))

    def get_instance_auth_state(
        self, instance_id: str, *, include_auth_links: bool = False
    ) -> list[ConnectionAuthState]:
        """The authorization state of each connection of an instance."""
        return self._client._send(_ops.get_instance_auth_state(instance_id, include_auth_links))

    def list_mcp_connected_accounts(
        self, config_id: str, identifier: str, *, include_auth_link: bool = False
    ) -> list[ConnectionAuthState]:
        """A user's connected account for each connection of a config (session-token mode)."""
        return self._client._send(
            _ops.list_mcp_connected_accounts(config_id, identifier, include_auth_link)
        )

    def create_session_token(
        self, config_id: str, identifier: str, *, expiry: timedelta | float = timedelta(hours=1)
    ) -> SessionToken:
        """Mint a bearer token for the config's virtual MCP server; see the async twin."""
        return self._client._send(_ops.create_session_token(config_id, identifier, expiry))
