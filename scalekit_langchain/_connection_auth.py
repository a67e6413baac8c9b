"""A user's connection states: which connection a tool needs, and whether it is ACTIVE.

How a real Scalekit MCP server refuses a tool whose connection is not ACTIVE is not documented
(an ``isError`` text, a JSON-RPC error, HTTP 401/403, a successful answer asking the user to
connect, or the tool left out of ``tools/list`` are all plausible). So the decision "this call
needs authorization" is never taken from the refusal's wording: it is taken from Scalekit's
auth-state API (``get_instance_auth_state`` / ``list_mcp_connected_accounts``), which owns the
truth. The wording only decides *whether to ask*:

* before a call whose connection was last seen not ACTIVE (or never seen), ask;
* after any refusal-like answer (see :func:`looks_like_refusal`), ask again;
* a call on a connection last seen ACTIVE that gets an ordinary answer asks nothing (the warm
  path costs no REST request).

Last-seen statuses are shared by every toolkit built on the same client (like the instance
cache), so a returning user costs no REST request either.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from scalekit_langchain._client_state import BoundedCache, forget_states
from scalekit_langchain._mcp_content import ToolResult
from scalekit_langchain.errors import AuthorizationRequired
from scalekit_langchain.models import ConnectionAuthState, McpConfigConnectionToolMapping

__all__ = ["AuthTracker", "ConnectionMap", "is_active", "looks_like_refusal", "pending_among"]

#: The only status that lets a tool run; any other (``EXPIRED``, ``PENDING_AUTH``,
#: ``PENDING_VERIFICATION``, ``DISCONNECTED``, unknown, none) needs the user.
ACTIVE = "ACTIVE"


def is_active(status: str | None) -> bool:
    """Whether a connected-account status lets tools run (``ACTIVE``, any case)."""
    return bool(status) and str(status).strip().upper() == ACTIVE


# ---------------------------------------------------------------------------- tool -> connection


class ConnectionMap:
    """Which connections a tool needs, from the config's ``connection_tool_mappings``.

    A mapping that lists tools covers exactly those. A mapping with no tools covers every tool
    named with its connector's slug (``gmail_...`` for provider ``GMAIL``). A tool nothing covers
    is attributed to every connection of the config (the safe side: all must be ACTIVE).

    Args:
        mappings: The config's mappings.
        providers: Connection name -> provider, for mappings whose ``provider`` is empty (the
            auth state names it too).
    """

    def __init__(
        self,
        mappings: Sequence[McpConfigConnectionToolMapping],
        providers: dict[str, str | None] | None = None,
    ) -> None:
        self._explicit: dict[str, list[str]] = {}
        self._by_slug: list[tuple[str, str]] = []
        self.connections: tuple[str, ...] = tuple(
            dict.fromkeys(m.connection_name for m in mappings)
        )
        providers = providers or {}
        for m in mappings:
            for tool in m.tools:
                self._explicit.setdefault(tool, []).append(m.connection_name)
            if not m.tools:
                provider = m.provider or providers.get(m.connection_name)
                if provider:
                    slug = re.sub(r"[^a-z0-9]", "", provider.lower())
                    self._by_slug.append((slug, m.connection_name))

    def connections_for(self, tool_name: str) -> tuple[str, ...]:
        """The connections ``tool_name`` needs (all of the config's when unknown)."""
        if tool_name in self._explicit:
            return tuple(self._explicit[tool_name])
        prefix = tool_name.split("_", 1)[0].lower()
        found = tuple(c for slug, c in self._by_slug if slug == prefix)
        return found or self.connections

    def explicit_tools(self) -> dict[str, str]:
        """Tool name -> its (first) connection, for tools the config names explicitly."""
        return {tool: conns[0] for tool, conns in self._explicit.items()}


# ---------------------------------------------------------------------------- refusal hints

_URL = re.compile(r"https?://", re.IGNORECASE)
_ASKS_TO_CONNECT = re.compile(
    r"connect|authori[sz]|authenticat|sign[ -]?in|log[ -]?in|re-?auth|permission|"
    r"not (?:been )?(?:linked|authorized|connected)|account required|consent",
    re.IGNORECASE,
)
_META_HINT = re.compile(r"auth|connect|account|consent|login", re.IGNORECASE)
#: Refusals are short; a long answer mentioning "log in" is content, not a refusal.
_SHORT_ANSWER = 800


def looks_like_refusal(result: ToolResult) -> bool:
    """Whether an answer *might* be a refusal for authorization (then the auth state decides).

    True for any ``isError`` result, a ``_meta`` key about auth/connection/account, and a short
    answer without structured content that asks to connect, authorize or sign in. A false
    positive costs one auth-state request; the answer still goes on when the state is ACTIVE.
    """
    if result.is_error:
        return True
    if any(_META_HINT.search(str(key)) for key in result.meta):
        return True
    structured = result.structured_content
    if isinstance(structured, dict) and any(
        v is True or (isinstance(v, str) and _URL.search(v))
        for k, v in structured.items()
        if _META_HINT.search(str(k))
    ):
        return True
    if structured is not None:
        return False
    text = result.text
    return len(text) <= _SHORT_ANSWER and bool(_ASKS_TO_CONNECT.search(text))


# ---------------------------------------------------------------------------- last-seen states


def pending_among(
    states: Sequence[ConnectionAuthState], connections: Iterable[str]
) -> list[ConnectionAuthState]:
    """Which of ``connections`` are not ACTIVE in ``states`` (in the order given); a connection
    ``states`` does not report at all counts as not set up (pending)."""
    by_name = {s.connection_name: s for s in states}
    out: list[ConnectionAuthState] = []
    for name in dict.fromkeys(connections):
        state = by_name.get(name)
        if state is None:
            out.append(ConnectionAuthState(connection_name=name))
        elif not state.is_active:
            out.append(state)
    return out


@dataclass
class _Seen:
    statuses: dict[str, str | None] = field(default_factory=dict)
    providers: dict[str, str | None] = field(default_factory=dict)
    at: float = 0.0


AuthFetcher = Callable[[str, bool], Awaitable[list[ConnectionAuthState]]]



class AuthTracker:
    """Last-seen connection statuses per user, and the checks that keep them honest.

    Args:
        fetch: ``(user, include_links) -> states``: the auth-state API of the access in use.
        scope: A non-secret name of what the states belong to (config name or URL label).
        states: Where last-seen states are kept, keyed by (scope, user): the client's
            :attr:`~scalekit_langchain._client_state.ClientState.connection_states`, shared by
            every toolkit of that client; ``None`` keeps them in a cache of this tracker's own.
    """

    def __init__(
        self,
        fetch: AuthFetcher,
        *,
        scope: str,
        states: BoundedCache[tuple[str, str], Any] | None = None,
    ) -> None:
        self._fetch = fetch
        self._scope = scope
        self._seen: BoundedCache[tuple[str, str], Any] = (
            states if states is not None else BoundedCache()
        )
        #: How many auth-state requests this tracker sent (for tests and benchmarks).
        self.checks = 0

    def _entry(self, user: str) -> _Seen:
        entry: _Seen = self._seen.setdefault((self._scope, user), _Seen)
        return entry

    def record(self, user: str, states: Iterable[ConnectionAuthState]) -> None:
        """Remember statuses just read from Scalekit."""
        entry = self._entry(user)
        for state in states:
            entry.statuses[state.connection_name] = state.status
            if state.provider:
                entry.providers[state.connection_name] = state.provider
        entry.at = time.monotonic()

    def forget(self, user: str) -> None:
        """Drop what is known of ``user`` in this tracker's scope (their instance was
        recreated, for example)."""
        self._seen.pop((self._scope, user))

    def forget_user(self, user: str | None = None) -> int:
        """Drop what is known of ``user`` (of everyone when ``None``) in every scope of the
        store this tracker uses (shared by every toolkit of the same client).

        Returns:
            How many entries were forgotten.
        """
        return forget_states(self._seen, user)

    def known_active(
        self, user: str, connections: Iterable[str], *, max_age: float | None = None
    ) -> bool:
        """Whether every one of ``connections`` was last seen ACTIVE (no request).

        Args:
            user: Whose connections.
            connections: The connections that must be ACTIVE.
            max_age: Seconds a last-seen state is trusted; an older one counts as unknown
                (``0``: never trusted). ``None`` trusts it until something says otherwise.
        """
        entry: _Seen | None = self._seen.get((self._scope, user))
        if entry is None:
            return False
        if max_age is not None and time.monotonic() - entry.at >= max_age:
            return False
        return all(is_active(entry.statuses.get(c)) for c in connections)

    def last_seen(self, user: str) -> list[ConnectionAuthState] | None:
        """The states last read for ``user`` (no links), or ``None`` when never read."""
        entry: _Seen | None = self._seen.get((self._scope, user))
        if entry is None or not entry.statuses:
            return None
        return [
            ConnectionAuthState(
                connection_name=name,
                provider=entry.providers.get(name),
                connected_account_status=status,
            )
            for name, status in entry.statuses.items()
        ]

    def providers(self, user: str) -> dict[str, str | None]:
        """Connection -> provider as last seen for ``user``."""
        entry: _Seen | None = self._seen.get((self._scope, user))
        return dict(entry.providers) if entry else {}

    async def fetch(self, user: str, *, include_links: bool) -> list[ConnectionAuthState]:
        """Read every connection's state from Scalekit and remember it."""
        self.checks += 1
        states = await self._fetch(user, include_links)
        self.record(user, states)
        return states

    async def fresh_link(self, user: str, connection_name: str) -> str | None:
        """A link minted now for one of ``user``'s connections (matched case-insensitively).

        Returns:
            The link, or ``None`` when Scalekit returned none (e.g. the connection is ACTIVE).

        Raises:
            ValueError: Scalekit reports no connection of that name for this config.
        """
        for state in await self.fetch(user, include_links=True):
            if state.connection_name.lower() == connection_name.lower():
                return state.authentication_link or None
        raise ValueError(f"this config has no connection named {connection_name!r}")

    async def pending(
        self, user: str, connections: Sequence[str] | None = None
    ) -> list[ConnectionAuthState]:
        """Ask Scalekit (with links) which of ``connections`` (all when ``None``) are not ACTIVE.

        A connection Scalekit does not report at all counts as not set up (pending).
        """
        states = await self.fetch(user, include_links=True)
        if connections is None:
            return [s for s in states if not s.is_active]
        return pending_among(states, connections)

    async def require(self, user: str, connections: Sequence[str] | None = None) -> None:
        """Raise :class:`AuthorizationRequired` (fresh links) unless all are ACTIVE now."""
        pending = await self.pending(user, connections)
        if pending:
            raise AuthorizationRequired(pending, user_identifier=user)


async def wait_until_active(
    tracker: AuthTracker, user: str, timeout: float, poll_interval: float
) -> list[ConnectionAuthState]:
    """Poll ``user``'s connection states until every one is ACTIVE; their states.

    Raises:
        AuthorizationRequired: Still pending after ``timeout`` seconds (with fresh links).
    """
    deadline = time.monotonic() + timeout
    while True:
        states = await tracker.fetch(user, include_links=False)
        if all(s.is_active for s in states):
            return states
        if time.monotonic() >= deadline:
            pending = [s for s in await tracker.fetch(user, include_links=True) if not s.is_active]
            if not pending:
                return states
            raise AuthorizationRequired(
                pending,
                user_identifier=user,
                message=f"Connections still not authorized after {timeout:g}s: "
                + ", ".join(p.connection_name for p in pending),
            )
        await asyncio.sleep(min(poll_interval, max(0.0, deadline - time.monotonic())))
