"""Making users' MCP sessions: :class:`SessionOpener`, the session pool's factory."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from scalekit_langchain import _session_loop
from scalekit_langchain._mcp_features import ElicitationHandler, SessionHooks, weak_callback
from scalekit_langchain._mcp_session import KEEPALIVE_EXPIRY, ConnectParams, McpSession

__all__ = ["SessionOpener"]


class SessionOpener:
    """Makes a user's (lazily connecting) :class:`McpSession`: the session pool's factory
    (call it with the user).

    Args:
        params_for: ``user -> ConnectParams`` (URL, headers, expiry), asked on every connect;
            kept as :attr:`params_for` (a benchmark may wrap it to route through a proxy).
        scope: A non-secret name of what is reached (config name or URL label), for logs.
        call_timeout: Seconds to wait for a tool's answer.
        connect_timeout: Seconds to open an MCP session.
        refresh_margin: Reconnect this many seconds before expiring credentials expire.
        sampling_model: Answers the servers' sampling requests (none: refused).
        elicitation_handler: Answers the servers' elicitation requests (none: declined).
        on_tools_changed: Called when a server says its tool list changed (held weakly when a
            bound method: live sessions must not keep a toolkit alive).
        handshake_only: Open every session with ``initialize`` (never the 2026-07-28 era).
        keepalive_expiry: Seconds an idle HTTP connection to the server is kept.
        http2: Offer HTTP/2 on https URLs (None: when the ``h2`` extra is installed).
    """

    def __init__(
        self,
        params_for: Callable[[str], Coroutine[Any, Any, ConnectParams]],
        *,
        scope: str,
        call_timeout: float,
        connect_timeout: float,
        refresh_margin: float,
        sampling_model: Any | None = None,
        elicitation_handler: ElicitationHandler | None = None,
        on_tools_changed: Callable[[], None] | None = None,
        handshake_only: bool = False,
        keepalive_expiry: float = KEEPALIVE_EXPIRY,
        http2: bool | None = None,
    ) -> None:
        self._http2 = http2
        self.params_for = params_for
        self._handshake_only = handshake_only
        self._keepalive_expiry = keepalive_expiry
        self.scope = scope
        self._call_timeout = call_timeout
        self._connect_timeout = connect_timeout
        self._refresh_margin = refresh_margin
        self._sampling_model = sampling_model
        self._elicitation_handler = elicitation_handler
        self._on_tools_changed = weak_callback(on_tools_changed)

    async def __call__(self, user: str) -> McpSession:
        """A new session for ``user``; it connects on first use."""

        async def params() -> ConnectParams:
            # A session opens on its caller's loop; the REST clients and per-user caches that
            # give its params live on the session loop.
            return await _session_loop.run(self.params_for(user))

        label = f"{self.scope}/{user}"
        hooks = SessionHooks(
            label,
            on_tools_changed=self._on_tools_changed,
            sampling_model=self._sampling_model,
            elicitation_handler=self._elicitation_handler,
        )
        return McpSession(
            params,
            label=label,
            call_timeout=self._call_timeout,
            connect_timeout=self._connect_timeout,
            refresh_margin=self._refresh_margin,
            hooks=hooks,
            handshake_only=self._handshake_only,
            keepalive_expiry=self._keepalive_expiry,
            http2=self._http2,
        )
