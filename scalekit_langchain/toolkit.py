"""``ScalekitMCPToolkit``: a user's Scalekit tools as LangChain tools.

Config → instance (or session token) → auth state → one persistent MCP session → tools.

Example:
    >>> async with ScalekitMCPToolkit(config_name="email-calendar-assistant",
    ...                               user_identifier="john-doe") as toolkit:  # doctest: +SKIP
    ...     tools = await toolkit.aget_tools()
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, BaseToolkit
from langchain_mcp_adapters.interceptors import ToolCallInterceptor
from mcp.types import CallToolResult
from mcp.types import Tool as MCPTool
from pydantic import ConfigDict, Field, PrivateAttr, field_validator

from scalekit_langchain import _base, _redact, _runner
from scalekit_langchain.client import AsyncScalekitClient
from scalekit_langchain.errors import (
    AuthorizationRequired,
    BadRequestError,
    ConflictError,
    NotFoundError,
    ScalekitError,
)
from scalekit_langchain.models import (
    ConnectionAuthState,
    McpConfig,
    McpConfigConnectionToolMapping,
    McpInstance,
)
from scalekit_langchain.session import ConnectParams, McpSession
from scalekit_langchain.tools import ScalekitMCPTool

__all__ = ["ScalekitMCPToolkit"]

logger = logging.getLogger("scalekit_langchain")


@dataclass
class _CachedInstance:
    instance: McpInstance
    expires_at: float


# Ensured instances, shared by every toolkit made from the same client: a returning user within
# the TTL costs no REST call.
_instance_caches: weakref.WeakKeyDictionary[
    AsyncScalekitClient, dict[tuple[str, str, str | None], _CachedInstance]
] = weakref.WeakKeyDictionary()


def _fixed_params(params: ConnectParams) -> Callable[[], Awaitable[ConnectParams]]:
    async def factory() -> ConnectParams:
        return params

    return factory


class _UserState:
    """One user's persistent session and when it was last used."""

    def __init__(self, user: str, session: McpSession) -> None:
        self.user = user
        self.session = session
        self.last_used = time.monotonic()


class ScalekitMCPToolkit(BaseToolkit):
    """A user's Scalekit MCP tools as LangChain tools, over one persistent MCP session.

    Args:
        client: An :class:`AsyncScalekitClient`; built from ``SCALEKIT_*`` env vars when omitted.
        config_name: The MCP config to use (``^[a-z0-9_-]{1,100}$``).
        user_identifier: Whose accounts the tools act on. ``None`` resolves the user per call
            from the run's config (``configurable[user_id_key]``): one tool set for many users.
        connection_tool_mappings: Create the config with these when it does not exist yet.
        description: The description of a config created here.
        instance_name: Optional name of the user's instance.
        tools: Only expose these MCP tool names (a ``ValueError`` lists unknown ones).
        tool_name_prefix: Expose tools as ``{prefix}_{name}``.
        mode: ``"instance"`` (per-user pre-authenticated instance URL) or ``"session_token"``
            (the config's virtual MCP server with a per-user bearer token).
        instance_cache_ttl: Seconds an ensured instance is reused without asking Scalekit.
        call_timeout: Seconds to wait for a tool result.
        connect_timeout: Seconds to open an MCP session.
        session_token_expiry: Lifetime of minted session tokens (session-token mode).
        token_refresh_margin: Reconnect with a new token this many seconds before expiry.
        user_id_key: In multi-user mode, the key holding the user in the run's
            ``configurable`` or in LangGraph's runtime context.
        discovery_user: In multi-user mode, whose session lists the tools (every user of a
            config sees the same tools). Defaults to the first user passed to
            :meth:`aget_tools`.
        max_sessions: Open user sessions kept at most (least recently used closed first).
        session_idle_ttl: Seconds after which an unused user session is closed.
        interrupt_on_authorization: Pause a LangGraph run with ``interrupt()`` when a
            connection needs authorization (``"auto"``: inside a graph only).
        tool_interceptors: langchain-mcp-adapters interceptors run before each call.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    client: AsyncScalekitClient | None = None
    config_name: str
    user_identifier: str | None = None
    connection_tool_mappings: list[McpConfigConnectionToolMapping] | None = None
    description: str | None = None
    instance_name: str | None = None
    tools: list[str] | None = None
    tool_name_prefix: str | None = None
    mode: Literal["instance", "session_token"] = "instance"
    instance_cache_ttl: float = Field(default=900.0, ge=0)
    call_timeout: float = Field(default=60.0, gt=0)
    connect_timeout: float = Field(default=30.0, gt=0)
    session_token_expiry: timedelta = timedelta(hours=1)
    token_refresh_margin: float = Field(default=60.0, ge=0)
    user_id_key: str = "user_id"
    discovery_user: str | None = None
    max_sessions: int = Field(default=1000, ge=1)
    session_idle_ttl: float = Field(default=900.0, gt=0)
    interrupt_on_authorization: bool | Literal["auto"] = "auto"
    tool_interceptors: list[ToolCallInterceptor] = Field(default_factory=list)

    _owned_client: AsyncScalekitClient | None = PrivateAttr(default=None)
    _config: McpConfig | None = PrivateAttr(default=None)
    _users: OrderedDict[str, _UserState] = PrivateAttr(default_factory=OrderedDict)
    _mcp_tools: list[MCPTool] | None = PrivateAttr(default=None)
    _lc_tools: list[BaseTool] | None = PrivateAttr(default=None)
    _auth_state: list[ConnectionAuthState] | None = PrivateAttr(default=None)
    _connect_lock: asyncio.Lock | None = PrivateAttr(default=None)
    _user_locks: dict[str, asyncio.Lock] = PrivateAttr(default_factory=dict)
    _closed: bool = PrivateAttr(default=False)

    # ------------------------------------------------------------------ validation

    @field_validator("config_name")
    @classmethod
    def _check_config_name(cls, value: str) -> str:
        return _base.check_config_name(value, "config_name")

    @field_validator("user_identifier")
    @classmethod
    def _check_user(cls, value: str | None) -> str | None:
        if value is not None:
            _base.require_identifier(value, "user_identifier", max_len=_base.MAX_IDENTIFIER_LEN)
        return value

    @field_validator("connection_tool_mappings", mode="before")
    @classmethod
    def _check_mappings(cls, value: Any) -> Any:
        if value is not None:
            _base.mappings_body(value)
        return value

    @field_validator("session_token_expiry")
    @classmethod
    def _check_expiry(cls, value: timedelta) -> timedelta:
        _base.duration_str(value)
        return value

    def __repr__(self) -> str:
        return (
            f"ScalekitMCPToolkit(config_name={self.config_name!r}, "
            f"user_identifier={self.user_identifier!r}, mode={self.mode!r})"
        )

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> ScalekitMCPToolkit:
        await self.aconnect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __enter__(self) -> ScalekitMCPToolkit:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def aconnect(self) -> None:
        """Resolve the config and the user's instance, open the MCP session, discover tools.

        Raises:
            NotFoundError: The config does not exist and no mappings were given to create it.
            ScalekitError: Any other failure, typed (see :mod:`scalekit_langchain.errors`).
        """
        await _runner.run(self._connect())

    def connect(self) -> None:
        """Sync :meth:`aconnect`."""
        _runner.run_sync(self._connect())

    async def aclose(self) -> None:
        """Close every MCP session, and the client if the toolkit created it."""
        await _runner.run(self._aclose())

    def close(self) -> None:
        """Sync :meth:`aclose`."""
        _runner.run_sync(self._aclose())

    async def aget_tools(self, *, user_identifier: str | None = None) -> list[BaseTool]:
        """The tools (connecting first if needed).

        Args:
            user_identifier: Multi-user mode only: whose session discovers the tools when no
                ``discovery_user`` was configured. Tools route each call to the run's user.
        """
        await _runner.run(self._connect(user_identifier))
        assert self._lc_tools is not None
        return list(self._lc_tools)

    def get_tools(self, *, user_identifier: str | None = None) -> list[BaseTool]:
        """The tools (connecting first if needed); the sync twin of :meth:`aget_tools`."""
        if self._lc_tools is None:
            _runner.run_sync(self._connect(user_identifier))
        assert self._lc_tools is not None
        return list(self._lc_tools)

    # ------------------------------------------------------------------ auth

    async def aauth_state(
        self, include_links: bool = True, *, user_identifier: str | None = None
    ) -> list[ConnectionAuthState]:
        """Each connection's name, provider, status and (optionally) authentication link."""
        user = self._require_user(user_identifier)
        return await _runner.run(self._fetch_auth_state(user, include_links))

    def auth_state(
        self, include_links: bool = True, *, user_identifier: str | None = None
    ) -> list[ConnectionAuthState]:
        """Sync :meth:`aauth_state`."""
        user = self._require_user(user_identifier)
        return _runner.run_sync(self._fetch_auth_state(user, include_links))

    async def aensure_authorized(self, *, user_identifier: str | None = None) -> None:
        """Raise :class:`AuthorizationRequired` (with links) unless every connection is ACTIVE."""
        user = self._require_user(user_identifier)
        error = await _runner.run(self._pending_error(user))
        if error is not None:
            raise error

    def ensure_authorized(self, *, user_identifier: str | None = None) -> None:
        """Sync :meth:`aensure_authorized`."""
        user = self._require_user(user_identifier)
        error = _runner.run_sync(self._pending_error(user))
        if error is not None:
            raise error

    async def _pending_error(self, user: str) -> AuthorizationRequired | None:
        states = await self._fetch_auth_state(user, True)
        pending = [s for s in states if not s.is_active]
        return AuthorizationRequired(pending, user_identifier=user) if pending else None

    async def await_authorization(
        self,
        timeout: float = 300.0,
        poll_interval: float = 2.0,
        *,
        user_identifier: str | None = None,
    ) -> list[ConnectionAuthState]:
        """Wait until every connection is ACTIVE, polling the auth state.

        Raises:
            AuthorizationRequired: Still pending after ``timeout`` seconds (with fresh links).
        """
        user = self._require_user(user_identifier)
        deadline = time.monotonic() + timeout
        while True:
            states = await self.aauth_state(False, user_identifier=user)
            if all(s.is_active for s in states):
                return states
            if time.monotonic() >= deadline:
                pending = [
                    s for s in await self.aauth_state(True, user_identifier=user) if not s.is_active
                ]
                if not pending:
                    return states
                raise AuthorizationRequired(
                    pending,
                    user_identifier=user,
                    message=f"Connections still not authorized after {timeout:g}s: "
                    + ", ".join(p.connection_name for p in pending),
                )
            await asyncio.sleep(min(poll_interval, max(0.0, deadline - time.monotonic())))

    @property
    def pending_connections(self) -> list[ConnectionAuthState]:
        """Connections found not ACTIVE when the toolkit connected (empty if none or unknown)."""
        return [s for s in self._auth_state or [] if not s.is_active]

    # ------------------------------------------------------------------ internals (session loop)

    def _client(self) -> AsyncScalekitClient:
        if self.client is not None:
            return self.client
        if self._owned_client is None:
            self._owned_client = AsyncScalekitClient()
        return self._owned_client

    def _require_user(self, user: str | None) -> str:
        user = user or self.user_identifier
        if not user:
            raise ValueError("user_identifier is required: pass it to the toolkit or to this call")
        return _base.require_identifier(user, "user_identifier", max_len=_base.MAX_IDENTIFIER_LEN)

    async def _connect(self, discovery_user: str | None = None) -> None:
        if self._closed:
            raise ScalekitError("This toolkit is closed; create a new one")
        if self._lc_tools is not None:
            return
        if self._connect_lock is None:
            self._connect_lock = asyncio.Lock()
        async with self._connect_lock:
            if self._lc_tools is not None:
                return
            user = self.user_identifier or self.discovery_user or discovery_user
            if user is None:
                raise ValueError(
                    "Discovering tools needs a user: pass user_identifier (one user), or in "
                    "multi-user mode discovery_user=... or aget_tools(user_identifier=...)"
                )
            await self._discover(_base.require_identifier(user, "user_identifier"))

    async def _discover(self, user: str) -> None:
        state, cold = await self._user_state(user)
        if cold:
            # A new user: check the auth state while the MCP session initializes.
            auth, tools = await asyncio.gather(
                self._fetch_auth_state(user, False), state.session.list_tools()
            )
            self._auth_state = auth
        else:
            tools = await state.session.list_tools()
        for pending in self.pending_connections:
            logger.info(
                "Connection %s (%s) is %s for user %r; tools that use it will ask for "
                "authorization",
                pending.connection_name,
                pending.provider,
                pending.status or "not set up",
                user,
            )
        self._mcp_tools = tools
        self._lc_tools = self._build_tools(tools)

    def _build_tools(self, tools: Sequence[MCPTool]) -> list[BaseTool]:
        available = {t.name for t in tools}
        if self.tools is not None:
            unknown = sorted(set(self.tools) - available)
            if unknown:
                raise ValueError(
                    f"tools: {unknown} not offered by config {self.config_name!r}; "
                    f"available: {sorted(available)}"
                )
            tools = [t for t in tools if t.name in self.tools]
        built: list[BaseTool] = []
        for tool in tools:
            connection, provider = self._connection_of(tool.name)
            metadata = {
                "scalekit_config": self.config_name,
                "scalekit_connection": connection,
                "scalekit_provider": provider,
            }
            tags = ["scalekit", f"scalekit:{self.config_name}"]
            if connection:
                tags.append(f"scalekit_connection:{connection}")
            built.append(
                ScalekitMCPTool.from_mcp_tool(
                    tool,
                    self,
                    name_prefix=self.tool_name_prefix,
                    metadata=metadata,
                    tags=tags,
                    interceptors=self.tool_interceptors,
                )
            )
        return built

    def _connection_of(self, tool_name: str) -> tuple[str | None, str | None]:
        mappings = self._config.connection_tool_mappings if self._config else []
        for m in mappings:
            if tool_name in m.tools:
                return m.connection_name, m.provider
        for m in mappings:
            if not m.tools and m.provider and tool_name.startswith(m.provider.lower() + "_"):
                return m.connection_name, m.provider
        return None, None

    async def _user_state(self, user: str) -> tuple[_UserState, bool]:
        """The user's session state (opened lazily); ``cold`` when REST was needed."""
        state = self._users.get(user)
        if state is not None:
            self._users.move_to_end(user)
            state.last_used = time.monotonic()
            return state, False
        lock = self._user_locks.setdefault(user, asyncio.Lock())
        async with lock:
            state = self._users.get(user)
            if state is not None:
                return state, False
            cold = False
            if self.mode == "instance":
                instance, cold = await self._instance(user)
                url = instance.url
                if not url:
                    raise ScalekitError(f"Scalekit returned no URL for {user!r}'s instance")
                _redact.register_secret(url)
                _redact.register_secret(url.rsplit("/", 1)[-1])
                params = ConnectParams(url=url, label=f"{self.config_name}/{user}")

                factory = _fixed_params(params)
            else:
                config = await self._get_or_create_config()
                cold = True
                if not config.mcp_server_url:
                    raise ScalekitError(
                        f"Config {self.config_name!r} has no mcp_server_url: virtual MCP servers "
                        "are not enabled for this environment; use mode='instance'"
                    )

                factory = functools.partial(self._mint_params, config, user)

            session = McpSession(
                factory,
                label=f"{self.config_name}/{user}",
                call_timeout=self.call_timeout,
                connect_timeout=self.connect_timeout,
                refresh_margin=self.token_refresh_margin,
            )
            state = _UserState(user, session)
            self._users[user] = state
            await self._evict()
            return state, cold

    async def _evict(self) -> None:
        """Close the least recently used sessions beyond ``max_sessions`` and idle ones."""
        idle_before = time.monotonic() - self.session_idle_ttl
        stale = [u for u, st in self._users.items() if st.last_used < idle_before]
        while len(self._users) - len(stale) > self.max_sessions:
            oldest = next(u for u in self._users if u not in stale)
            stale.append(oldest)
        for user in stale:
            old = self._users.pop(user)
            self._user_locks.pop(user, None)
            await old.session.aclose()

    async def _mint_params(self, config: McpConfig, user: str) -> ConnectParams:
        assert config.id and config.mcp_server_url
        try:
            token = await self._client().mcp.create_session_token(
                config.id, user, expiry=self.session_token_expiry
            )
        except BadRequestError:
            # Scalekit refuses to mint while a connection is not ACTIVE for the user.
            states = await self._client().mcp.list_mcp_connected_accounts(
                config.id, user, include_auth_link=True
            )
            pending = [st for st in states if not st.is_active]
            if pending:
                raise AuthorizationRequired(pending, user_identifier=user) from None
            raise
        secret = token.token.get_secret_value()
        _redact.register_secret(secret)
        lifetime = self.session_token_expiry.total_seconds()
        if token.expires_at is not None:
            from datetime import datetime, timezone

            lifetime = (token.expires_at - datetime.now(timezone.utc)).total_seconds()
        return ConnectParams(
            url=config.mcp_server_url,
            headers={"Authorization": f"Bearer {secret}"},
            expires_at=time.monotonic() + lifetime,
            label=f"{self.config_name}/{user}",
        )

    async def _instance(self, user: str) -> tuple[McpInstance, bool]:
        client = self._client()
        cache = _instance_caches.setdefault(client, {})
        key = (self.config_name, user, self.instance_name)
        hit = cache.get(key)
        if hit is not None and time.monotonic() < hit.expires_at:
            if self._config is None:
                self._config = hit.instance.config
            return hit.instance, False
        try:
            instance = await client.mcp.ensure_instance(
                self.config_name, user, name=self.instance_name
            )
        except (NotFoundError, BadRequestError):
            if self.connection_tool_mappings is None:
                raise
            await self._get_or_create_config()
            instance = await client.mcp.ensure_instance(
                self.config_name, user, name=self.instance_name
            )
        if instance.config is not None:
            self._config = instance.config
        cache[key] = _CachedInstance(instance, time.monotonic() + self.instance_cache_ttl)
        return instance, True

    async def _get_or_create_config(self) -> McpConfig:
        if self._config is not None and self._config.id:
            return self._config
        mcp = self._client().mcp
        config = await mcp.get_config_by_name(self.config_name)
        if config is None:
            if self.connection_tool_mappings is None:
                raise NotFoundError(
                    f"MCP config {self.config_name!r} does not exist; pass "
                    "connection_tool_mappings to create it",
                    status_code=404,
                )
            try:
                config = await mcp.create_config(
                    self.config_name,
                    description=self.description,
                    connection_tool_mappings=self.connection_tool_mappings,
                )
                logger.info("Created MCP config %s", self.config_name)
            except ConflictError:
                # Someone created it between our read and our write: read theirs.
                config = await mcp.get_config_by_name(self.config_name)
                if config is None:
                    raise
        self._config = config
        return config

    async def _fetch_auth_state(self, user: str, include_links: bool) -> list[ConnectionAuthState]:
        client = self._client()
        if self.mode == "instance":
            instance, _ = await self._instance(user)
            return await client.mcp.get_instance_auth_state(
                instance.id, include_auth_links=include_links
            )
        config = await self._get_or_create_config()
        assert config.id
        return await client.mcp.list_mcp_connected_accounts(
            config.id, user, include_auth_link=include_links
        )

    async def _aclose(self) -> None:
        self._closed = True
        users, self._users = self._users, OrderedDict()
        await asyncio.gather(*(s.session.aclose() for s in users.values()), return_exceptions=True)
        if self._owned_client is not None:
            await self._owned_client.aclose()
            self._owned_client = None

    # ------------------------------------------------------------------ ToolBackend

    def _user_for_call(self, config: RunnableConfig | None) -> str:
        if self.user_identifier is not None:
            return self.user_identifier
        configurable = (config or {}).get("configurable") or {}
        user = configurable.get(self.user_id_key)
        if user is None:
            context = getattr(configurable.get("__pregel_runtime"), "context", None)
            if isinstance(context, dict):
                user = context.get(self.user_id_key)
            elif context is not None:
                user = getattr(context, self.user_id_key, None)
        if user is None:
            raise ValueError(
                "No user for this run: pass config={'configurable': "
                f"{{'{self.user_id_key}': ...}}}}, "
                f"a LangGraph context with {self.user_id_key!r}, or create the toolkit with "
                "user_identifier"
            )
        return _base.require_identifier(
            str(user), self.user_id_key, max_len=_base.MAX_IDENTIFIER_LEN
        )

    async def call_tool(
        self, mcp_name: str, arguments: dict[str, Any], config: RunnableConfig | None
    ) -> CallToolResult:
        user = self._user_for_call(config)
        return await _runner.run(self._call_on_session(user, mcp_name, arguments))

    async def _call_on_session(
        self, user: str, mcp_name: str, arguments: dict[str, Any]
    ) -> CallToolResult:
        if self._closed:
            raise ScalekitError("This toolkit is closed; create a new one")
        state, _ = await self._user_state(user)
        return await state.session._call_tool(mcp_name, arguments)

    async def authorization_error(
        self, marker: dict[str, Any], config: RunnableConfig | None
    ) -> AuthorizationRequired:
        user = self._user_for_call(config)
        states = await _runner.run(self._fetch_auth_state(user, True))
        pending = [s for s in states if not s.is_active]
        if not pending:  # authorized in the meantime: report what the server said
            pending = [
                ConnectionAuthState(
                    connection_name=str(marker.get("connection_name") or "unknown"),
                    provider=marker.get("provider"),
                    connected_account_status=marker.get("status"),
                )
            ]
        return AuthorizationRequired(pending, user_identifier=user)

    async def handle_authorization(
        self, error: AuthorizationRequired, config: RunnableConfig | None
    ) -> None:
        from scalekit_langchain.langgraph import wait_for_authorization_async

        await wait_for_authorization_async(self, error, config)

    def handle_authorization_sync(
        self, error: AuthorizationRequired, config: RunnableConfig | None
    ) -> None:
        from scalekit_langchain.langgraph import wait_for_authorization_sync

        wait_for_authorization_sync(self, error, config)
