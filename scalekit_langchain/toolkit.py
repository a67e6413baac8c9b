"""``ScalekitMCPToolkit``: a user's Scalekit tools as LangChain tools.

The toolkit wires the parts together; each lives in its own module:

* :mod:`~scalekit_langchain._access` — how a user reaches the MCP server (instance, token);
* :mod:`~scalekit_langchain._connection_auth` — last-seen connection states, checks, links;
* :mod:`~scalekit_langchain._session_pool` — one persistent MCP session per user, lent per call;
* :mod:`~scalekit_langchain._calls` — one call: check, send once, classify the answer;
* :mod:`~scalekit_langchain._call_ledger` — answers kept so a resumed node never sends twice;
* :mod:`~scalekit_langchain.langgraph` — pausing the run for authorization.

Example:
    >>> async with ScalekitMCPToolkit(config_name="email-calendar-assistant",
    ...                               user_identifier="john-doe") as toolkit:  # doctest: +SKIP
    ...     tools = await toolkit.aget_tools()
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from types import TracebackType
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, BaseToolkit
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, field_validator, model_validator

from scalekit_langchain import _session_loop
from scalekit_langchain._access.choice import access_for
from scalekit_langchain._access.url import TokenProvider
from scalekit_langchain._call_ledger import CallLedger
from scalekit_langchain._calls import CallRunner
from scalekit_langchain._client_base import state_of
from scalekit_langchain._connection_auth import AuthTracker, wait_until_active
from scalekit_langchain._discovery import discover_tools, mcp_names, merge_tools
from scalekit_langchain._http2 import Http2Option
from scalekit_langchain._mcp_session import KEEPALIVE_EXPIRY
from scalekit_langchain._rest_requests import (
    MAX_IDENTIFIER_LEN,
    check_config_name,
    check_tool_prefix,
    duration_str,
    mappings_body,
    require_identifier,
)
from scalekit_langchain._session_opener import SessionOpener
from scalekit_langchain._session_pool import SessionPool
from scalekit_langchain.client import AccessLevel, AsyncScalekitClient, ScalekitClient
from scalekit_langchain.errors import ScalekitError
from scalekit_langchain.langgraph import run_user
from scalekit_langchain.models import ConnectionAuthState, McpConfigConnectionToolMapping
from scalekit_langchain.tools import approval_policy

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
            An existing config whose mappings differ is a :class:`ConfigDriftError` (naming
            the difference), unless ``sync_config`` is set.
        sync_config: Update an existing config's mappings to ``connection_tool_mappings``
            (logging what changed) instead of refusing to use it.
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
        access_level: ``"READ_ONLY"`` (session-token and connection modes): tokens that see
            and call only the tools annotated read-only; ``None``: Scalekit's default (FULL).
        token_refresh_margin: Reconnect with a new token this many seconds before expiry.
        user_id_key: In multi-user mode, the key holding the user in the run's
            ``configurable`` or in LangGraph's runtime context.
        discovery_user: In multi-user mode, whose session lists the tools (every user of a
            config sees the same tools). Defaults to the first user passed to
            :meth:`aget_tools`.
        max_sessions: Open user sessions kept at most; a new user waits for a free one when
            every session is serving a call (sessions are never closed under a call).
        session_idle_ttl: Seconds after which an unused user session is closed (on a timer).
        keepalive_expiry: Seconds an idle connection to the MCP server is kept for the next
            call (default 50: longer than a model's turn, shorter than the common 60 s idle
            timeout of servers and load balancers). Set it a little below the server's own idle
            timeout (``scalekit-langchain doctor`` measures it: ``idle_timeout``).
        http2: HTTP/2 on https (None: if the ``h2`` extra is installed; True: require it).
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
        auth_state_ttl: Seconds a connection seen ACTIVE is trusted by the checks before the
            model (the middleware, the gate, :meth:`aunauthorized_connections`); older, they
            ask Scalekit again (``0``: every run). Default 60 s: a revocation goes unnoticed
            before the model for about an auth link's lifetime, for at most one request per
            user and minute; :mod:`scalekit_langchain.webhooks` hears of it at once. Warm tool
            calls never ask.
        mcp_era: ``"auto"``: the newest MCP protocol era the server offers (mcp 2: 2026-07-28
            when it answers ``server/discover``); ``"handshake"``: always ``initialize`` (for
            servers whose tools need the handshake era's server-to-client requests).
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
    sync_config: bool = False
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
    access_level: AccessLevel | None = None
    token_refresh_margin: float = Field(default=60.0, ge=0, allow_inf_nan=False)
    user_id_key: str = "user_id"
    discovery_user: str | None = None
    max_sessions: int = Field(default=1000, ge=1)
    session_idle_ttl: float = Field(default=900.0, gt=0, allow_inf_nan=False)
    auth_state_ttl: float = Field(default=60.0, ge=0, allow_inf_nan=False)
    keepalive_expiry: float = Field(default=KEEPALIVE_EXPIRY, gt=0, allow_inf_nan=False)
    http2: Http2Option = None
    interrupt_on_authorization: bool | Literal["auto"] = "auto"
    mcp_era: Literal["auto", "handshake"] = "auto"
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
        return None if value is None else check_tool_prefix(value)

    @model_validator(mode="after")
    def _check_target(self) -> ScalekitMCPToolkit:
        if self.config_name is None and self.url is None:
            raise ValueError("config_name is required (or url, to connect to a URL you have)")
        if self.url is None and (self.bearer_token or self.token_provider):
            raise ValueError("bearer_token and token_provider go with url")
        if (self.mode == "connection") != (self.connection_name is not None):
            raise ValueError("mode='connection' and connection_name go together")
        if self.access_level is not None and (self.url is not None or self.mode == "instance"):
            raise ValueError("access_level goes with mode='session_token' or 'connection' (a "
                             "session token carries it; instance URLs and url= have none)")
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
        mode = "url" if self.url is not None else self.mode
        return f"ScalekitMCPToolkit(config_name={self.config_name!r}, " \
            f"user_identifier={self.user_identifier!r}, mode={mode!r})"

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> ScalekitMCPToolkit:
        try:
            await self.aconnect()
        except BaseException:
            await self.aclose()  # no __aexit__ follows a failed enter: close what we opened
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __enter__(self) -> ScalekitMCPToolkit:
        try:
            self.connect()
        except BaseException:
            self.close()
            raise
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
        await _session_loop.run(self._connect(pool=self._calls().pools.here()))

    def connect(self) -> None:
        """Sync :meth:`aconnect`."""
        _session_loop.run_sync(self._connect())

    async def aclose(self) -> None:
        """Close every MCP session, and the client if the toolkit created it."""
        await _session_loop.run(self._aclose())

    def close(self) -> None:
        """Sync :meth:`aclose`."""
        if self._call_runner is not None:
            self._call_runner.pools.close_here_later()
        _session_loop.run_sync(self._aclose())

    async def aget_tools(self, *, user_identifier: str | None = None) -> list[BaseTool]:
        """The tools (connecting first if needed).

        Args:
            user_identifier: Multi-user mode only: whose session discovers the tools when no
                ``discovery_user`` was configured. Tools route each call to the run's user.
        """
        pool = self._calls().pools.here()  # the tools are listed on the caller's loop
        await _session_loop.run(self._connect(user_identifier, pool=pool))
        assert self._lc_tools is not None
        return list(self._lc_tools)

    def get_tools(self, *, user_identifier: str | None = None) -> list[BaseTool]:
        """The tools (connecting first if needed); the sync twin of :meth:`aget_tools`."""
        if self._lc_tools is None or self._tools_stale:
            _session_loop.run_sync(self._connect(user_identifier))
        assert self._lc_tools is not None
        return list(self._lc_tools)

    def approval_policy(self, *, only_destructive: bool = False) -> dict[str, bool]:
        """``interrupt_on`` for ``HumanInTheLoopMiddleware`` over the listed tools (see
        :func:`~scalekit_langchain.tools.approval_policy`).

        Raises:
            ScalekitError: No tools listed yet (call :meth:`aget_tools` first).
        """
        if self._lc_tools is None:
            raise ScalekitError("approval_policy() needs the tools: call aget_tools() first")
        return approval_policy(self._lc_tools, only_destructive=only_destructive)

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

    async def aauthorization_link(
        self, connection_name: str, *, user_identifier: str | None = None
    ) -> str | None:
        """A fresh authentication link for one of the user's connections, minted now (links
        live about a minute: call this when the person clicks, as
        :func:`scalekit_langchain.web.authorization_route` does); ``None`` when Scalekit gives
        none (an ACTIVE connection, say).

        Raises:
            ValueError: No user, or the config has no connection of that name.
        """
        user = self._require_user(user_identifier)
        return await _session_loop.run(self._calls().tracker.fresh_link(user, connection_name))

    def authorization_link(
        self, connection_name: str, *, user_identifier: str | None = None
    ) -> str | None:
        """Sync :meth:`aauthorization_link`."""
        user = self._require_user(user_identifier)
        return _session_loop.run_sync(self._calls().tracker.fresh_link(user, connection_name))

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
        tracker = self._calls().tracker
        return await _session_loop.run(wait_until_active(tracker, user, timeout, poll_interval))

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

        Costs no request while every connection of the config was seen ACTIVE less than
        ``auth_state_ttl`` seconds ago (this is the check
        :class:`~scalekit_langchain.middleware.AuthorizationMiddleware` and
        :func:`~scalekit_langchain.langgraph.authorization_gate` run before the model).
        """
        user = self._require_user(user_identifier)
        calls = self._calls()
        return await _session_loop.run(calls.pending_all(user, max_age=self.auth_state_ttl))

    def unauthorized_connections(
        self, *, user_identifier: str | None = None
    ) -> list[ConnectionAuthState]:
        """Sync :meth:`aunauthorized_connections`."""
        user = self._require_user(user_identifier)
        calls = self._calls()
        return _session_loop.run_sync(calls.pending_all(user, max_age=self.auth_state_ttl))

    def forget_auth_state(self, user_identifier: str | None = None) -> None:
        """Forget the connection states last seen for ``user_identifier`` (for everyone when
        ``None``), so the next check asks Scalekit.

        The states are shared by every toolkit built on the same client, so they are
        forgotten for all of them. No I/O (hence no async twin). The webhook receiver
        (:mod:`scalekit_langchain.webhooks`) calls this when Scalekit says a status changed;
        on a closed toolkit it does nothing (nothing of it is used again).
        """
        if not self._closed:
            self._calls().tracker.forget_user(user_identifier)

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
        return self._calls().pools.here()

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

    def _calls(self) -> CallRunner:
        runner = self._call_runner  # one look-up on every call's path (closing clears it)
        if runner is not None:
            return runner
        if self._closed:
            raise ScalekitError("This toolkit is closed; create a new one")
        access = access_for(self, self._client)
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
        opener = SessionOpener(
            access.connect_params,
            scope=access.scope,
            call_timeout=self.call_timeout,
            connect_timeout=self.connect_timeout,
            refresh_margin=self.token_refresh_margin,
            sampling_model=self.sampling_model,
            elicitation_handler=self.elicitation_handler,
            on_tools_changed=self._mark_tools_stale,
            handshake_only=self.mcp_era == "handshake",
            keepalive_expiry=self.keepalive_expiry,
            http2=self.http2,
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
            on_new_tools=self._mark_tools_stale,
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
                listings=calls.listings,
            )
            self._pending_at_connect = found.pending
            self._lc_tools = merge_tools(self._lc_tools, found.tools)
            calls.tool_names = mcp_names(self._lc_tools)

    def __del__(self) -> None:
        # An abandoned toolkit must not keep sessions and sockets open for the process's life.
        runner = getattr(self, "__pydantic_private__", None) or {}
        calls = runner.get("_call_runner") if isinstance(runner, dict) else None
        if calls is not None:
            calls.pools.close_abandoned(self)

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
        return require_identifier(str(user), self.user_id_key, max_len=MAX_IDENTIFIER_LEN)

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
