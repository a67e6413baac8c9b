"""``ScalekitMCPToolkit``: a user's Scalekit tools as LangChain tools.

The toolkit wires the parts together; each lives in its own module:

* :mod:`~scalekit_langchain._access` — how a user reaches the MCP server (instance URL or
  session token);
* :mod:`~scalekit_langchain._connection_auth` — last-seen connection states and the checks
  around a call;
* :mod:`~scalekit_langchain._session_pool` — one persistent MCP session per user, lent per call;
* :mod:`~scalekit_langchain._calls` — one call: check, send once, classify the answer;
* :mod:`~scalekit_langchain._call_ledger` — answers kept so a resumed or retried node never
  sends twice;
* :mod:`~scalekit_langchain.langgraph` — pausing the run for authorization.

Example:
    >>> async with ScalekitMCPToolkit(config_name="email-calendar-assistant",
    ...                               user_identifier="john-doe") as toolkit:  # doctest: +SKIP
    ...     tools = await toolkit.aget_tools()
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import warnings
from datetime import timedelta
from types import TracebackType
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, BaseToolkit
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, field_validator, model_validator

from scalekit_langchain import _session_loop
from scalekit_langchain._access import (
    ConnectionTokenAccess,
    InstanceAccess,
    SessionTokenAccess,
    UserAccess,
)
from scalekit_langchain._access.url import TokenProvider, UrlAccess
from scalekit_langchain._call_ledger import CallLedger
from scalekit_langchain._calls import CallRunner
from scalekit_langchain._client_base import state_of
from scalekit_langchain._connection_auth import AuthTracker, ConnectionMap
from scalekit_langchain._discovery import discover_tools, merge_tools
from scalekit_langchain._mcp_session import ConnectParams, SessionOpener
from scalekit_langchain._mcp_transport import KEEPALIVE_EXPIRY
from scalekit_langchain._rest_requests import (
    MAX_IDENTIFIER_LEN,
    check_config_name,
    duration_str,
    mappings_body,
    require_identifier,
)
from scalekit_langchain._session_pool import SessionPool
from scalekit_langchain.client import AsyncScalekitClient, ScalekitClient
from scalekit_langchain.errors import AuthorizationRequired, ScalekitError
from scalekit_langchain.langgraph import run_user
from scalekit_langchain.models import ConnectionAuthState, McpConfigConnectionToolMapping

__all__ = ["ScalekitMCPToolkit"]

logger = logging.getLogger("scalekit_langchain")


class ScalekitMCPToolkit(BaseToolkit):
    """A user's Scalekit MCP tools as LangChain tools, over one persistent MCP session.

    Args:
        client: An :class:`AsyncScalekitClient` or a :class:`ScalekitClient` (its credentials and
            access token are shared); built from ``SCALEKIT_*`` env vars when omitted.
        config_name: The MCP config to use (``^[a-z0-9_-]{1,100}$``). Optional with ``url``
            (then it only names the config whose connected accounts tell the auth state).
        user_identifier: Whose accounts the tools act on. ``None`` resolves the user per call
            from the run's config (``configurable[user_id_key]``): one tool set for many users.
        connection_tool_mappings: Create the config with these when it does not exist yet.
        description: The description of a config created here.
        instance_name: Optional name of the user's instance.
        tools: Only expose these MCP tool names (a ``ValueError`` lists unknown ones).
        tool_name_prefix: Expose tools as ``{prefix}_{name}``.
        mode: ``"instance"`` (per-user pre-authenticated instance URL), ``"session_token"``
            (the config's virtual MCP server with a per-user bearer token) or ``"connection"``
            (one connection's virtual server, ``connection_name``, with a token minted for it).
        connection_name: The connection whose server ``mode="connection"`` uses.
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
        max_sessions: Open user sessions kept at most; a new user waits for a free one when
            every session is serving a call (sessions are never closed under a call).
        session_idle_ttl: Seconds after which an unused user session is closed (on a timer).
        keepalive_expiry: Seconds an idle connection to the MCP server is kept; keep it below
            the server's ``idle_timeout`` (the doctor measures it). Default 50.
        url: Connect to this MCP URL instead of asking Scalekit for one: a pre-authenticated
            instance URL you already have, or any MCP URL (with ``bearer_token`` or
            ``token_provider``). Treated as a secret.
        bearer_token: A fixed token sent as ``Authorization: Bearer`` to ``url``.
        token_provider: Called (sync or async) for a fresh bearer token on every connect to
            ``url`` and again after a 401, so tokens can be renewed.
        sampling_model: A LangChain chat model that answers the servers' sampling requests
            (``sampling/createMessage``); without one they are refused.
        elicitation_handler: Answers the servers' elicitation requests (``(request) ->
            {"action": "accept" | "decline" | "cancel", "content"?}``, sync or async); without
            one they are declined. A URL elicitation a server requires before running a tool
            pauses the run instead (an ``mcp_elicitation`` interrupt).
        interrupt_on_authorization: Pause a LangGraph run with ``interrupt()`` when a
            connection needs authorization (``"auto"`` or ``True``: inside a graph that has a
            checkpointer; ``False``: always raise :class:`AuthorizationRequired`).
    """

    # Unknown options are an error, not silently ignored (a typo would change nothing).
    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    client: AsyncScalekitClient | ScalekitClient | None = None
    config_name: str | None = None
    user_identifier: str | None = None
    connection_tool_mappings: list[McpConfigConnectionToolMapping] | None = None
    description: str | None = None
    instance_name: str | None = None
    tools: list[str] | None = None
    tool_name_prefix: str | None = None
    mode: Literal["instance", "session_token", "connection"] = "instance"
    connection_name: str | None = None
    instance_cache_ttl: float = Field(default=900.0, ge=0, allow_inf_nan=False)
    call_timeout: float = Field(default=60.0, gt=0, allow_inf_nan=False)
    connect_timeout: float = Field(default=30.0, gt=0, allow_inf_nan=False)
    session_token_expiry: timedelta = timedelta(hours=1)
    token_refresh_margin: float = Field(default=60.0, ge=0, allow_inf_nan=False)
    user_id_key: str = "user_id"
    discovery_user: str | None = None
    max_sessions: int = Field(default=1000, ge=1)
    session_idle_ttl: float = Field(default=900.0, gt=0, allow_inf_nan=False)
    keepalive_expiry: float = Field(default=KEEPALIVE_EXPIRY, gt=0, allow_inf_nan=False)
    interrupt_on_authorization: bool | Literal["auto"] = "auto"
    sampling_model: Any | None = None
    elicitation_handler: Any | None = None
    url: SecretStr | None = None
    bearer_token: SecretStr | None = None
    token_provider: TokenProvider | None = None

    _owned_client: AsyncScalekitClient | None = PrivateAttr(default=None)
    _call_runner: CallRunner | None = PrivateAttr(default=None)
    _pending_at_connect: list[ConnectionAuthState] = PrivateAttr(default_factory=list)
    _lc_tools: list[BaseTool] | None = PrivateAttr(default=None)
    _connect_lock: asyncio.Lock | None = PrivateAttr(default=None)
    _closed: bool = PrivateAttr(default=False)
    _tools_stale: bool = PrivateAttr(default=False)
    _ledger: CallLedger = PrivateAttr(default_factory=CallLedger)

    # ------------------------------------------------------------------ validation

    @field_validator("config_name")
    @classmethod
    def _check_config_name(cls, value: str | None) -> str | None:
        return None if value is None else check_config_name(value, "config_name")

    @field_validator("tool_name_prefix")
    @classmethod
    def _check_prefix(cls, value: str | None) -> str | None:
        # Tool names must match ^[a-zA-Z0-9_-]{1,64}$ for OpenAI and Anthropic models.
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", value):
            raise ValueError(
                "tool_name_prefix must be 1-40 letters, digits, '_' or '-' (tool names sent to "
                f"models allow only those), got {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _check_target(self) -> ScalekitMCPToolkit:
        if self.config_name is None and self.url is None:
            raise ValueError("config_name is required (or url, to connect to a URL you have)")
        if self.url is None and (self.bearer_token or self.token_provider):
            raise ValueError("bearer_token and token_provider go with url")
        if (self.mode == "connection") != (self.connection_name is not None):
            raise ValueError("mode='connection' and connection_name go together")
        return self

    @property
    def _scope(self) -> str:
        return self.config_name or "mcp-url"

    @field_validator("user_identifier")
    @classmethod
    def _check_user(cls, value: str | None) -> str | None:
        if value is not None:
            require_identifier(value, "user_identifier", max_len=MAX_IDENTIFIER_LEN)
        return value

    @field_validator("connection_tool_mappings", mode="before")
    @classmethod
    def _check_mappings(cls, value: Any) -> Any:
        if value is not None:
            mappings_body(value)
        return value

    @field_validator("session_token_expiry")
    @classmethod
    def _check_expiry(cls, value: timedelta) -> timedelta:
        duration_str(value)
        return value

    def __repr__(self) -> str:
        return (
            f"ScalekitMCPToolkit(config_name={self.config_name!r}, "
            f"user_identifier={self.user_identifier!r}, "
            f"mode={'url' if self.url is not None else self.mode!r})"
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
        await _session_loop.run(self._connect(pool=self._calls().pool_here()))

    def connect(self) -> None:
        """Sync :meth:`aconnect`."""
        _session_loop.run_sync(self._connect())

    async def aclose(self) -> None:
        """Close every MCP session, and the client if the toolkit created it."""
        await _session_loop.run(self._aclose())

    def close(self) -> None:
        """Sync :meth:`aclose`."""
        if self._call_runner is not None:
            self._call_runner.close_here_later()
        _session_loop.run_sync(self._aclose())

    async def aget_tools(self, *, user_identifier: str | None = None) -> list[BaseTool]:
        """The tools (connecting first if needed).

        Args:
            user_identifier: Multi-user mode only: whose session discovers the tools when no
                ``discovery_user`` was configured. Tools route each call to the run's user.
        """
        pool = self._calls().pool_here()  # the tools are listed on the caller's loop
        await _session_loop.run(self._connect(user_identifier, pool=pool))
        assert self._lc_tools is not None
        return list(self._lc_tools)

    def get_tools(self, *, user_identifier: str | None = None) -> list[BaseTool]:
        """The tools (connecting first if needed); the sync twin of :meth:`aget_tools`."""
        if self._lc_tools is None or self._tools_stale:
            _session_loop.run_sync(self._connect(user_identifier))
        assert self._lc_tools is not None
        return list(self._lc_tools)

    # ------------------------------------------------------------------ auth

    async def aauth_state(
        self, include_links: bool = True, *, user_identifier: str | None = None
    ) -> list[ConnectionAuthState]:
        """Each connection's name, provider, status and (optionally) authentication link."""
        user = self._require_user(user_identifier)
        calls = self._calls()
        return await _session_loop.run(calls.tracker.fetch(user, include_links=include_links))

    def auth_state(
        self, include_links: bool = True, *, user_identifier: str | None = None
    ) -> list[ConnectionAuthState]:
        """Sync :meth:`aauth_state`."""
        user = self._require_user(user_identifier)
        calls = self._calls()
        return _session_loop.run_sync(calls.tracker.fetch(user, include_links=include_links))

    async def aensure_authorized(self, *, user_identifier: str | None = None) -> None:
        """Raise :class:`AuthorizationRequired` (with links) unless every connection is ACTIVE."""
        user = self._require_user(user_identifier)
        await _session_loop.run(self._calls().tracker.require(user))

    def ensure_authorized(self, *, user_identifier: str | None = None) -> None:
        """Sync :meth:`aensure_authorized`."""
        user = self._require_user(user_identifier)
        _session_loop.run_sync(self._calls().tracker.require(user))

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

    def wait_for_authorization(
        self,
        timeout: float = 300.0,
        poll_interval: float = 2.0,
        *,
        user_identifier: str | None = None,
    ) -> list[ConnectionAuthState]:
        """Sync :meth:`await_authorization` (blocks the calling thread while it polls)."""
        return _session_loop.run_sync(
            self.await_authorization(timeout, poll_interval, user_identifier=user_identifier)
        )

    async def aunauthorized_connections(
        self, *, user_identifier: str | None = None
    ) -> list[ConnectionAuthState]:
        """Every connection of the user that is not ACTIVE now, with fresh links.

        Costs no request while every connection of the config was last seen ACTIVE (this is
        the check :class:`~scalekit_langchain.middleware.AuthorizationMiddleware` runs before
        the model).
        """
        user = self._require_user(user_identifier)
        return await _session_loop.run(self._calls().pending_all(user))

    def unauthorized_connections(
        self, *, user_identifier: str | None = None
    ) -> list[ConnectionAuthState]:
        """Sync :meth:`aunauthorized_connections`."""
        user = self._require_user(user_identifier)
        return _session_loop.run_sync(self._calls().pending_all(user))

    @property
    def pending_connections(self) -> list[ConnectionAuthState]:
        """Connections found not ACTIVE when the tools were discovered (a snapshot: empty if
        none or unknown). For the state now, use :meth:`aunauthorized_connections`."""
        return list(self._pending_at_connect)

    @property
    def session_pool(self) -> SessionPool:
        """The pool of per-user MCP sessions the calls of the running event loop use (sync
        calls: the background loop's), for diagnostics, tests and benchmarks: ``len(pool)``
        sessions are open, ``pool.peek(user)`` is one user's session."""
        return self._calls().pool_here()

    # ------------------------------------------------------------------ wiring

    def _client(self) -> AsyncScalekitClient:
        if isinstance(self.client, AsyncScalekitClient):
            return self.client
        if self._owned_client is None:
            # A sync client lends its credentials and access token; the async twin is ours.
            self._owned_client = (
                self.client.to_async() if self.client is not None else AsyncScalekitClient()
            )
        return self._owned_client

    def _access(self) -> UserAccess:
        if self.url is not None:
            auth_source = None
            if self.config_name is not None:
                accounts = SessionTokenAccess(self._client(), self.config_name)
                auth_source = accounts.auth_state
            return UrlAccess(
                self.url,
                token=self.bearer_token,
                token_provider=self.token_provider,
                auth_state=auth_source,
                connection_map=ConnectionMap(self.connection_tool_mappings or []),
                scope=self._scope,
            )
        assert self.config_name is not None
        client = self._client()
        if self.mode == "instance":
            return InstanceAccess(
                client,
                self.config_name,
                mappings=self.connection_tool_mappings,
                description=self.description,
                instance_name=self.instance_name,
                cache_ttl=self.instance_cache_ttl,
            )
        if self.mode == "connection":
            assert self.connection_name is not None
            return ConnectionTokenAccess(
                client,
                self.connection_name,
                self.config_name,
                expiry=self.session_token_expiry,
            )
        return SessionTokenAccess(
            client,
            self.config_name,
            mappings=self.connection_tool_mappings,
            description=self.description,
            expiry=self.session_token_expiry,
        )

    def _calls(self) -> CallRunner:
        if self._closed:
            raise ScalekitError("This toolkit is closed; create a new one")
        if self._call_runner is None:
            access = self._access()
            # Last-seen states live in the client's state (shared by its toolkits and twins); a
            # bare URL toolkit has no client and keeps its own.
            states = (
                None
                if self.url is not None and self.config_name is None
                else state_of(self._client()).connection_states
            )
            tracker = AuthTracker(
                access.auth_state, scope=f"{self.mode}:{self._scope}", states=states
            )
            async def connect_params(user: str) -> ConnectParams:
                # From sessions on any loop; REST clients and per-user caches: session loop.
                return await _session_loop.run(access.connect_params(user))

            opener = SessionOpener(
                connect_params,
                scope=access.scope,
                call_timeout=self.call_timeout,
                connect_timeout=self.connect_timeout,
                refresh_margin=self.token_refresh_margin,
                sampling_model=self.sampling_model,
                elicitation_handler=self.elicitation_handler,
                on_tools_changed=self._mark_tools_stale,
                keepalive_expiry=self.keepalive_expiry,
            )
            pool = SessionPool(
                opener, max_sessions=self.max_sessions, idle_ttl=self.session_idle_ttl
            )
            self._call_runner = CallRunner(
                access,
                tracker,
                pool,
                ledger=self._ledger,
                interrupt=self.interrupt_on_authorization is not False,
            )
        return self._call_runner

    def _require_user(self, user: str | None) -> str:
        user = user or self.user_identifier
        if not user:
            raise ValueError("user_identifier is required: pass it to the toolkit or to this call")
        return require_identifier(user, "user_identifier", max_len=MAX_IDENTIFIER_LEN)

    def _mark_tools_stale(self) -> None:
        # A server said its tool list changed: the next get_tools() lists them again.
        self._tools_stale = True

    async def _connect(
        self, discovery_user: str | None = None, *, pool: SessionPool | None = None
    ) -> None:
        calls = self._calls()
        if self._lc_tools is not None and not self._tools_stale:
            return
        if self._connect_lock is None:
            self._connect_lock = asyncio.Lock()
        async with self._connect_lock:
            if self._lc_tools is not None and not self._tools_stale:
                return
            self._tools_stale = False
            user = self.user_identifier or self.discovery_user or discovery_user
            if user is None:
                raise ValueError(
                    "Discovering tools needs a user: pass user_identifier (one user), or in "
                    "multi-user mode discovery_user=... or aget_tools(user_identifier=...)"
                )
            user = require_identifier(user, "user_identifier")
            found = await discover_tools(  # on the session loop (see aconnect)
                user,
                pool=pool if pool is not None else calls.pool,
                tracker=calls.tracker,
                connection_map=await calls.connection_map(user),
                only=self.tools,
                name_prefix=self.tool_name_prefix,
                backend=self,
                config_name=self._scope,
            )
            self._pending_at_connect = found.pending
            self._lc_tools = merge_tools(self._lc_tools, found.tools)

    def __del__(self) -> None:
        # An abandoned toolkit must not keep sessions and sockets open for the process's life.
        runner = getattr(self, "__pydantic_private__", None) or {}
        calls = runner.get("_call_runner") if isinstance(runner, dict) else None
        if calls is None or not any(len(pool) for pool in calls.pools()):
            return
        warnings.warn(
            f"{self!r} was not closed; closing its MCP sessions now (use `async with` or aclose())",
            ResourceWarning,
            stacklevel=2,
        )
        calls.close_soon()

    async def _aclose(self) -> None:
        self._closed = True
        runner, self._call_runner = self._call_runner, None
        if runner is not None:
            await runner.aclose()
        if self._owned_client is not None:
            await self._owned_client.aclose()
            self._owned_client = None

    # ------------------------------------------------------------------ ToolBackend

    def user_for_run(self, config: RunnableConfig | None) -> str:
        """The user a call of this run acts for.

        The toolkit's ``user_identifier``; in multi-user mode ``configurable[user_id_key]``,
        the run's context (``context_schema``), or the LangGraph Platform user.

        Raises:
            ValueError: No user could be found (the message says where to put it).
        """
        if self.user_identifier is not None:
            return self.user_identifier
        user = run_user(config, self.user_id_key)
        if user is None:
            raise ValueError(
                "No user for this run: pass config={'configurable': "
                f"{{'{self.user_id_key}': ...}}}}, "
                f"a LangGraph context with {self.user_id_key!r}, or create the toolkit with "
                "user_identifier"
            )
        return require_identifier(
            str(user), self.user_id_key, max_len=MAX_IDENTIFIER_LEN
        )

    async def arun_tool(
        self,
        mcp_name: str,
        arguments: dict[str, Any],
        config: RunnableConfig | None,
        tool_call_id: str | None,
    ) -> tuple[Any, Any, bool]:
        """Run one tool call for the run's user (see :class:`CallRunner`)."""
        return await self._calls().arun(
            self.user_for_run(config), mcp_name, arguments, config, tool_call_id
        )

    def run_tool(
        self,
        mcp_name: str,
        arguments: dict[str, Any],
        config: RunnableConfig | None,
        tool_call_id: str | None,
    ) -> tuple[Any, Any, bool]:
        """Sync twin of :meth:`arun_tool`."""
        return self._calls().run(
            self.user_for_run(config), mcp_name, arguments, config, tool_call_id
        )
