"""A local Scalekit (AgentKit MCP) emulator: a real HTTP server on loopback.

:class:`ScalekitEmulator` serves, from a daemon thread with its own event loop (uvicorn +
starlette):

* the REST API of the wire contract: ``POST /oauth/token`` (client credentials), ``GET /keys``
  (JWKS), MCP configs, MCP instances, ``:get_auth_state``, config ``connected_accounts`` and
  ``tokens`` (RS256 session tokens);
* authorization pages at ``/connect/<token>`` that turn a connected account ACTIVE;
* streamable-HTTP MCP servers at instance URLs, at each config's virtual server URL and at
  per-connection server URLs, whose demo Gmail / Google Calendar / Slack tools act on per-user
  in-memory data (:meth:`ScalekitEmulator.user_data`). The MCP endpoint is the emulator's own
  (:mod:`~scalekit_langchain.testing._mcp_host`): it imports nothing from the ``mcp`` SDK and
  serves mcp 1.x and mcp 2.x clients alike;
* fault injection, request counting and ``/_emulator/...`` control routes.

Refusals: Scalekit does not document how its MCP servers refuse a tool whose connection is
not ACTIVE, so the emulator plays each plausible answer, chosen with ``refusal_mode``
(:data:`REFUSAL_MODES`, default ``is_error_text``, or the ``SCALEKIT_EMULATOR_REFUSAL_MODE``
environment variable; wire shapes in :mod:`~scalekit_langchain.testing._refusals`). The tool
never runs; the auth-state REST APIs stay the source of truth. ``answer_mode`` picks SSE
(default) or JSON answers to MCP POSTs, ``status_case`` the case of ``connected_account_status``.
``profile=`` takes a ``scalekit-langchain doctor`` report (or the shipped
``profiles/default.json``) and sets these from what a live environment answered
(:mod:`~scalekit_langchain.testing._profile`); explicit arguments win over the profile.

Control routes (POST JSON under ``/_emulator/``, table in
:mod:`~scalekit_langchain.testing._control`) need :attr:`control_token` (401 without, 403 when
wrong); the Python methods act on the state directly. Every status change (authorized,
expired, disconnected) is sent as a signed webhook to ``webhook_url`` when one is set.

Hardening: requests whose ``Host`` is not the loopback interface with the bound port, or whose
``Origin`` is not their own origin, get 403 (DNS-rebinding and cross-site protection; see
:mod:`~scalekit_langchain.testing._guard`). Binding a non-loopback interface needs
``allow_remote=True``, which also lifts the ``Host`` check.

The readings chosen where the contract is unsure (its section 11), and the emulator's other
choices, are listed in the :mod:`scalekit_langchain.testing` package docstring. MCP protocol
eras (``mcp_era``: handshake only, both, or 2026-07-28 only) are described in
:mod:`~scalekit_langchain.testing._mcp_eras`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING

import uvicorn

from scalekit_langchain.testing._accounts import ACTIVE, DISCONNECTED, EXPIRED
from scalekit_langchain.testing._faults import Fault, FaultBoard, FaultMode
from scalekit_langchain.testing._guard import TOKEN_HEADER
from scalekit_langchain.testing._mcp_eras import MCP_ERAS, McpEra, check_mcp_era
from scalekit_langchain.testing._mcp_protocol import (
    ANSWER_MODES,
    AnswerMode,
    McpSettings,
    check_answer_mode,
)
from scalekit_langchain.testing._profile import (
    ProfileSource,
    StatusCase,
    check_status_case,
    load_profile,
)
from scalekit_langchain.testing._refusals import (
    DEFAULT_REFUSAL_MODE,
    REFUSAL_MODES,
    RefusalMode,
    check_refusal_mode,
)
from scalekit_langchain.testing._server import ServerParts, ServerRun, is_loopback
from scalekit_langchain.testing._session_jwts import SigningKey
from scalekit_langchain.testing._state import EmulatorState, as_clock
from scalekit_langchain.testing._webhooks import WebhookSender

if TYPE_CHECKING:
    from scalekit_langchain.testing._providers import UserData

__all__ = [
    "ANSWER_MODES",
    "MCP_ERAS",
    "MCP_ERA_ENV",
    "REFUSAL_MODES",
    "REFUSAL_MODE_ENV",
    "AnswerMode",
    "McpEra",
    "McpSettings",
    "RefusalMode",
    "ScalekitEmulator",
]

#: Environment variable naming the refusal mode of emulators created without ``refusal_mode``.
REFUSAL_MODE_ENV = "SCALEKIT_EMULATOR_REFUSAL_MODE"
#: Environment variable naming the default MCP era (``handshake``, ``both`` or ``new``).
MCP_ERA_ENV = "SCALEKIT_EMULATOR_MCP_ERA"

_START_TIMEOUT = 15.0
_STOP_TIMEOUT = 15.0


class ScalekitEmulator:
    """A local Scalekit environment for tests, demos and offline development.

    Use it as a (sync or async) context manager, or call :meth:`start` and :meth:`stop`::

        with ScalekitEmulator() as emu:
            client = ScalekitClient(env_url=emu.env_url, client_id=emu.client_id,
                                    client_secret=emu.client_secret)

    Every control method may be called from any thread while the server runs.

    Args:
        host: Interface to bind (loopback by default).
        port: Port to bind; 0 picks a free one (kept across :meth:`restart`).
        client_id: Accepted client id; random when omitted.
        client_secret: Accepted client secret; random when omitted.
        token_ttl: Lifetime of access tokens in seconds (``expires_in``).
        connections: Connection name -> provider slug (``gmail``, ``googlecalendar``,
            ``slack``). Defaults to ``MY_GMAIL``, ``MY_CALENDAR`` and ``MY_SLACK``.
        auth_link_ttl: Lifetime of authorization links in seconds (Scalekit's: 60).
        now: Clock returning UNIX seconds (or an aware datetime); defaults to ``time.time``.
        refusal_mode: How MCP servers refuse a tool whose connection is not ACTIVE for the
            user; one of :data:`REFUSAL_MODES` (wire shapes in
            :mod:`~scalekit_langchain.testing._refusals`). When omitted (and no profile names
            one), the environment variable ``SCALEKIT_EMULATOR_REFUSAL_MODE`` decides (so a
            whole test suite can be run once per mode), else ``"is_error_text"``.
        answer_mode: ``"sse"`` answers each MCP POST as ``text/event-stream`` (the default);
            ``"json"`` as ``application/json``.
        status_case: ``"upper"`` (default) or ``"lower"``: the case of
            ``connected_account_status`` in the REST answers.
        mcp_era: Which MCP protocol eras the servers speak (:data:`MCP_ERAS`):
            ``"handshake"`` (``initialize`` and sessions; the default), ``"both"`` (also
            2026-07-28: ``server/discover``, no session) or ``"new"`` (2026-07-28 only). When
            omitted (and no profile names one), ``SCALEKIT_EMULATOR_MCP_ERA`` decides.
        profile: A doctor report or profile (path or dict) whose ``refusal_mode``,
            ``answer_mode``, ``status_case``, ``mcp_era`` and ``protocol_version`` become the
            defaults of the arguments above (see :mod:`~scalekit_langchain.testing._profile`).
        tools_page_size: Tools per ``tools/list`` page (``nextCursor`` beyond); None = all.
        control_token: Token the ``/_emulator/...`` routes require; random when omitted.
        allow_remote: Allow binding a non-loopback ``host`` (and accept any ``Host`` header).
        webhook_url: Where to POST a signed ``connected_account.status_updated`` webhook on
            every status change (:attr:`webhooks`, :mod:`~scalekit_langchain.testing._webhooks`).
        webhook_secret: The webhooks' signing secret (``whsec_…``); random when omitted.
        idle_timeout: Seconds an idle connection is kept open (profile's, else uvicorn's 5).

    Raises:
        ValueError: Unknown refusal or answer mode, era or status case, a bad profile, a page size
            below 1, or a non-loopback ``host`` without ``allow_remote``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        client_id: str | None = None,
        client_secret: str | None = None,
        token_ttl: float = 3600.0,
        connections: dict[str, str] | None = None,
        auth_link_ttl: float = 60.0,
        now: Callable[[], float | datetime] | None = None,
        refusal_mode: RefusalMode | None = None,
        answer_mode: AnswerMode | None = None,
        tools_page_size: int | None = None,
        control_token: str | None = None,
        allow_remote: bool = False,
        status_case: StatusCase | None = None,
        profile: ProfileSource | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        mcp_era: McpEra | None = None,
        idle_timeout: float | None = None,
    ) -> None:
        from scalekit_langchain.testing._accounts import DEFAULT_CONNECTIONS

        if not allow_remote and not is_loopback(host):
            raise ValueError(
                f"host {host!r} is not a loopback address; pass allow_remote=True to serve"
                " other machines (the emulator has no real security)"
            )
        if tools_page_size is not None and tools_page_size < 1:
            raise ValueError("tools_page_size must be >= 1")
        recorded = load_profile(profile) if profile is not None else None
        if recorded is not None:
            refusal_mode = refusal_mode or recorded.refusal_mode
            answer_mode = answer_mode or recorded.answer_mode
            status_case = status_case or recorded.status_case
            mcp_era = mcp_era or recorded.mcp_era
            idle_timeout = idle_timeout if idle_timeout is not None else recorded.idle_timeout
        self._idle_timeout = idle_timeout if idle_timeout is not None else 5.0
        self._mcp_settings = McpSettings(
            refusal_mode=check_refusal_mode(
                refusal_mode or os.environ.get(REFUSAL_MODE_ENV) or DEFAULT_REFUSAL_MODE
            ),
            answer_mode=check_answer_mode(answer_mode or "sse"),
            tools_page_size=tools_page_size,
            protocol_version=recorded.protocol_version if recorded else None,
            era=check_mcp_era(mcp_era or os.environ.get(MCP_ERA_ENV) or "handshake"),
        )
        self._control_token = control_token or "ske_" + secrets.token_urlsafe(24)
        self._allow_remote = allow_remote

        self._host = host
        self._port = port
        self._state = EmulatorState(
            client_id=client_id or "skc_" + secrets.token_hex(8),
            client_secret=client_secret or "sks_" + secrets.token_urlsafe(24),
            token_ttl=float(token_ttl),
            auth_link_ttl=float(auth_link_ttl),
            clock=as_clock(now),
            connections_by_name=dict(connections or DEFAULT_CONNECTIONS),
            status_case=check_status_case(status_case or "upper"),
        )
        hooks = WebhookSender(webhook_url, webhook_secret, clock=self._state.clock,
                              wire_status=self._state.wire_status)
        self._webhooks = hooks
        self._state.on_status_change = hooks.status_changed
        self._faults = FaultBoard()
        self._key = SigningKey()
        self._lifecycle = threading.Lock()
        self._run: ServerRun | None = None

    def __repr__(self) -> str:
        state = "running" if self._run else "stopped"
        return f"<ScalekitEmulator {self._state.env_url or self._host} {state}>"

    # properties ---------------------------------------------------------------

    @property
    def env_url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (known once started)."""
        return self._state.env_url

    @property
    def port(self) -> int:
        """The bound port (0 until first started with ``port=0``)."""
        return self._port

    @property
    def client_id(self) -> str:
        """The OAuth client id the token endpoint accepts."""
        return self._state.client_id

    @property
    def client_secret(self) -> str:
        """The OAuth client secret the token endpoint accepts."""
        return self._state.client_secret

    @property
    def control_token(self) -> str:
        """The token the ``/_emulator/...`` control routes require (kept across restarts)."""
        return self._control_token

    @property
    def control_headers(self) -> dict[str, str]:
        """Headers that authenticate a control request: ``{"X-Emulator-Token": <token>}``."""
        return {TOKEN_HEADER: self._control_token}

    @property
    def webhooks(self) -> WebhookSender:
        """The webhook sender: ``url`` (settable), ``secret``, ``deliveries``, ``flush()``."""
        return self._webhooks

    @property
    def idle_timeout(self) -> float:
        """Seconds the server keeps an idle client connection open."""
        return self._idle_timeout

    @property
    def refusal_mode(self) -> RefusalMode:
        """How MCP servers refuse a tool of a non-ACTIVE connection (:data:`REFUSAL_MODES`)."""
        return self._mcp_settings.refusal_mode

    def set_refusal_mode(self, mode: str) -> None:
        """Change the refusal mode; it applies to the next MCP request, sessions are kept.

        Raises:
            ValueError: Unknown mode.
        """
        self._mcp_settings.refusal_mode = check_refusal_mode(mode)

    @property
    def answer_mode(self) -> AnswerMode:
        """``"sse"`` or ``"json"``: how MCP POSTs are answered."""
        return self._mcp_settings.answer_mode

    def set_answer_mode(self, mode: str) -> None:
        """Change the answer mode; it applies to the next MCP request.

        Raises:
            ValueError: Unknown mode.
        """
        self._mcp_settings.answer_mode = check_answer_mode(mode)

    @property
    def mcp_era(self) -> McpEra:
        """Which MCP protocol eras the servers speak (:data:`MCP_ERAS`)."""
        return self._mcp_settings.era

    def set_mcp_era(self, era: str) -> None:
        """Change the eras spoken; it applies to the next MCP request (in era ``new`` an open
        handshake session's id answers 404).

        Raises:
            ValueError: Unknown era.
        """
        self._mcp_settings.era = check_mcp_era(era)

    @property
    def mcp_settings(self) -> McpSettings:
        """The MCP servers' live behaviour switches (eras, paging, the 2026-07-28 extras such
        as ``tools_ttl_ms``); a change applies to the next MCP request."""
        return self._mcp_settings

    @property
    def status_case(self) -> StatusCase:
        """``"upper"`` or ``"lower"``: the case of ``connected_account_status`` on the wire."""
        return check_status_case(self._state.status_case)

    @property
    def protocol_version(self) -> str | None:
        """The newest MCP revision served (from a profile); None: every known one."""
        return self._mcp_settings.protocol_version

    @property
    def running(self) -> bool:
        """Whether the HTTP server is up."""
        return self._run is not None

    # lifecycle ----------------------------------------------------------------

    def start(self) -> ScalekitEmulator:
        """Bind the port and start serving in a daemon thread.

        Returns:
            ``self``.

        Raises:
            RuntimeError: Already running, or the server failed to start.
            OSError: The port cannot be bound.
        """
        with self._lifecycle:
            if self._run is not None:
                raise RuntimeError("the emulator is already running")
            family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
            # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose
            # proto says TCP, and without it every response waits ~40 ms for a delayed ACK.
            sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((self._host, self._port))
            except BaseException:
                sock.close()
                raise
            self._port = sock.getsockname()[1]
            netloc = f"[{self._host}]" if family == socket.AF_INET6 else self._host
            self._state.env_url = f"http://{netloc}:{self._port}"
            parts = ServerParts(
                state=self._state,
                key=self._key,
                mcp_settings=self._mcp_settings,
                faults=self._faults,
                host=self._host,
                port=self._port,
                control_token=self._control_token,
                allow_remote=self._allow_remote,
            )
            run = ServerRun(parts, self)
            config = uvicorn.Config(
                run.app,
                log_level="warning",
                access_log=False,
                lifespan="on",
                http="h11",
                ws="none",
                timeout_graceful_shutdown=3,
                timeout_keep_alive=self._idle_timeout,  # type: ignore[arg-type]  # a call_later delay
            )
            run.server = uvicorn.Server(config)
            run.thread = threading.Thread(
                target=self._serve, args=(run, sock), name=f"scalekit-emulator:{self._port}",
                daemon=True,
            )
            run.thread.start()
            deadline = time.monotonic() + _START_TIMEOUT
            while not run.server.started:
                if not run.thread.is_alive() or time.monotonic() > deadline:
                    run.server.should_exit = True
                    run.thread.join(_STOP_TIMEOUT)
                    raise RuntimeError("the emulator failed to start") from run.error
                time.sleep(0.005)
            self._run = run
            return self

    @staticmethod
    def _serve(run: ServerRun, sock: socket.socket) -> None:
        loop = asyncio.new_event_loop()
        run.loop = loop
        try:
            asyncio.set_event_loop(loop)
            assert run.server is not None
            loop.run_until_complete(run.server.serve(sockets=[sock]))
        except BaseException as exc:  # reported to start() / stop()
            run.error = exc
        finally:
            try:
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                asyncio.set_event_loop(None)
                loop.close()
                sock.close()

    def stop(self) -> None:
        """Stop serving and wait for the server thread to end. Safe to call twice."""
        with self._lifecycle:
            run, self._run = self._run, None
            if run is None:
                return
            assert run.server is not None and run.thread is not None
            if run.loop is not None and not run.loop.is_closed():
                with contextlib.suppress(Exception):
                    asyncio.run_coroutine_threadsafe(run.begin_shutdown(), run.loop).result(5)
            run.server.should_exit = True
            run.thread.join(_STOP_TIMEOUT)
            if run.thread.is_alive():  # pragma: no cover - defensive
                run.server.force_exit = True
                run.thread.join(_STOP_TIMEOUT)

    def restart(self) -> ScalekitEmulator:
        """Stop the HTTP server and start it again on the same port; return ``self``.

        Every MCP session is lost; configs, instances, accounts, tokens and user data are kept.
        """
        self.stop()
        return self.start()

    def __enter__(self) -> ScalekitEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> ScalekitEmulator:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    # users & connections ------------------------------------------------------

    def _set(self, user_identifier: str, connection_name: str, status: str) -> None:
        try:
            self._state.set_status(user_identifier, connection_name, status)
        except KeyError:
            raise ValueError(f"unknown connection {connection_name!r}") from None
        run = self._run
        if run is None or threading.current_thread() is not run.thread:
            self._webhooks.flush()  # the change is delivered when a test's call returns

    def authorize(self, user_identifier: str, connection_name: str) -> None:
        """Make the user's account on a connection ACTIVE (creating it when missing).

        Raises:
            ValueError: Unknown connection.
        """
        self._set(user_identifier, connection_name, ACTIVE)

    def expire_connection(self, user_identifier: str, connection_name: str) -> None:
        """Mark the user's account on a connection EXPIRED.

        Raises:
            ValueError: Unknown connection.
        """
        self._set(user_identifier, connection_name, EXPIRED)

    def disconnect(self, user_identifier: str, connection_name: str) -> None:
        """Mark the user's account on a connection DISCONNECTED.

        Raises:
            ValueError: Unknown connection.
        """
        self._set(user_identifier, connection_name, DISCONNECTED)

    def connection_status(self, user_identifier: str, connection_name: str) -> str | None:
        """Return the account status (``ACTIVE``, ``PENDING_AUTH``, ...) or None if none exists.

        Raises:
            ValueError: Unknown connection.
        """
        try:
            return self._state.status(user_identifier, connection_name)
        except KeyError:
            raise ValueError(f"unknown connection {connection_name!r}") from None

    def user_data(self, user_identifier: str) -> UserData:
        """Return the user's demo data (mail, events, Slack messages); the tools mutate it."""
        return self._state.user_data(user_identifier)

    def live_secrets(self) -> set[str]:
        """Return the instance URL secrets, link tokens and access tokens held now (leak tests)."""
        return self._state.live_secrets()

    def known_users(self) -> set[str]:
        """Return the user identifiers that have an MCP instance or a connected account."""
        return self._state.known_users()

    # faults -------------------------------------------------------------------

    def set_latency(self, seconds: float, *, kind: str | None = None) -> None:
        """Sleep ``seconds`` before handling each request (of kinds starting with ``kind``).

        ``0`` removes the delay for ``kind`` (every delay when ``kind`` is None).
        """
        self._faults.set_latency(seconds, kind)

    def fail_next(
        self,
        status: int,
        count: int = 1,
        *,
        kind: str | None = None,
        retry_after: float | None = None,
        mode: FaultMode = "status",
    ) -> None:
        """Make the next ``count`` matching requests fail.

        Args:
            status: HTTP status for ``mode="status"`` (ignored by the other modes).
            count: How many requests.
            kind: Kind prefix to match (e.g. ``"configs."``, ``"mcp.tools/call"``); None = any.
            retry_after: ``Retry-After`` seconds sent with the status.
            mode: ``status``, ``hang``, ``garbage``, ``malformed_json``, ``wrong_content_type``
                or ``drop_after`` (serve, then cut the connection before the body).

        Raises:
            ValueError: Bad mode, count or status.
        """
        self._faults.add_fault(Fault(status, count, kind, retry_after, mode))

    def clear_faults(self) -> None:
        """Drop queued faults and injected latency."""
        self._faults.clear_faults()

    def expire_access_tokens(self) -> None:
        """Invalidate every access token issued so far (new ones can be fetched)."""
        self._state.expire_access_tokens()

    def drop_mcp_sessions(self) -> None:
        """Terminate every live MCP session; old ``Mcp-Session-Id`` values then get 404."""
        run = self._run
        if run is None or run.loop is None:
            return
        if threading.current_thread() is run.thread:
            raise RuntimeError("use POST /_emulator/drop_mcp_sessions from inside the server")
        asyncio.run_coroutine_threadsafe(run.host.drop_sessions(), run.loop).result(10)

    # counting -----------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Return a copy of the request counts by kind."""
        return self._faults.counts()

    def count(self, prefix: str) -> int:
        """Return the number of requests whose kind starts with ``prefix``."""
        return self._faults.count(prefix)

    def reset_counts(self) -> None:
        """Reset all request counts to zero."""
        self._faults.reset_counts()
