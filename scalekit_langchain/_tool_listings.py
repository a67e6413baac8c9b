"""Per-user tool listings in the MCP 2026-07-28 era (``tools/list`` ``ttlMs`` / ``cacheScope``).

A 2026-07-28 ``tools/list`` answer says how long it may be reused (``ttlMs``) and for whom
(``cacheScope``: ``"private"``, the list depends on who asks; ``"public"``, anyone's). The toolkit
lists its tools once, through one user's session; in multi-user mode every user's calls go
through those tools, so before a call for user U, :meth:`ToolListings.admit` makes sure U's own
listing allows it:

* U's listing is fresh (or, public, anyone's is): nothing is sent, the call is the one request;
* none, or expired: U's session lists the tools first (one ``tools/list``, shared by U's
  concurrent calls), then the call goes;
* the tool is not in U's listing (listed again once if that listing was not just made): the
  call is not sent; the answer is an error naming the tool and saying the server does not offer
  it to this user (the caller asks Scalekit first: a tool hidden until its connection is
  authorized pauses for authorization instead);
* U's listing gives the tool another input schema than the toolkit's tool holds: the
  arguments are checked against U's schema (:class:`~._call_arguments.SchemaCheck`).

A listing that offers tools the toolkit does not hold yet keeps them in :attr:`ToolListings.extra`
and calls ``on_new_tools`` (the toolkit marks its tools stale), so the next ``get_tools()`` adds
them like a ``list_changed`` re-listing; tools an agent holds are never taken away (a user whose
listing lacks one is refused as above).

Listings without ``ttlMs`` (the handshake era, mcp 1.x) never expire and are never asked for
per user: the toolkit's one listing serves every call, as before. No I/O here besides the
``lister`` the caller gives.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from scalekit_langchain._call_arguments import SchemaCheck
from scalekit_langchain._client_state import BoundedCache
from scalekit_langchain._mcp_content import ToolSpec
from scalekit_langchain._mcp_features import weak_callback

__all__ = ["MAX_LISTINGS", "ToolListing", "ToolListings"]

#: Users whose listings are kept at most (the least recently used is listed again when needed).
MAX_LISTINGS = 1024

#: The most tools :attr:`ToolListings.extra` keeps.
_MAX_EXTRA = 1000


@dataclass(frozen=True)
class ToolListing:
    """One complete ``tools/list`` answer (every page).

    Attributes:
        specs: The tools, in the server's order.
        ttl_seconds: How long it may be reused (``ttlMs`` / 1000); ``None``: no expiry (the
            handshake era, mcp 1.x).
        scope: ``"private"`` (for the user who listed only) or ``"public"``; ``None`` with no
            ``ttlMs``.
        listed_at: When it was listed (monotonic clock).
    """

    specs: tuple[ToolSpec, ...]
    ttl_seconds: float | None
    scope: str | None
    listed_at: float

    @functools.cached_property
    def by_name(self) -> dict[str, ToolSpec]:
        """The tools by name."""
        return {s.name: s for s in self.specs}

    @classmethod
    def of(cls, specs: list[ToolSpec], terms: tuple[int, str] | None) -> ToolListing:
        """A listing made now from the tools and the first page's ``(ttlMs, cacheScope)``."""
        ttl, scope = (terms[0] / 1000.0, terms[1]) if terms is not None else (None, None)
        return cls(tuple(specs), ttl, scope, time.monotonic())


class Lister(Protocol):
    """What lists a user's tools: a session pool (:meth:`SessionPool.listing`)."""

    def listing(self, user: str) -> Awaitable[ToolListing]: ...  # pragma: no cover


def _weak(callback: Callable[[], None] | None) -> Callable[[], None]:
    """``callback`` held weakly when a bound method (a toolkit must not be kept alive by it)."""
    return weak_callback(callback) or (lambda: None)


class ToolListings:
    """The users' fresh listings of one toolkit (see the module docstring).

    Args:
        on_new_tools: Called when a user's listing offers tools the toolkit does not hold.
        max_entries: Private listings kept at most.

    Attributes:
        clock: The monotonic clock listings age on (tests may replace it).
        extra: Tools seen in users' listings that the toolkit did not hold, by name.
    """

    def __init__(
        self,
        *,
        on_new_tools: Callable[[], None] | None = None,
        max_entries: int = MAX_LISTINGS,
    ) -> None:
        self._on_new_tools = _weak(on_new_tools)
        self.clock: Callable[[], float] = time.monotonic
        self._private: BoundedCache[str, tuple[ToolListing, float]] = BoundedCache(max_entries)
        self._public: tuple[ToolListing, float] | None = None
        self._enforced = False
        self._held: dict[str, ToolSpec | None] = {}
        self._only: frozenset[str] | None = None
        self._listing_now: dict[tuple[str, Any], asyncio.Future[ToolListing]] = {}
        self.extra: dict[str, ToolSpec] = {}

    def __len__(self) -> int:
        return len(self._private) + (self._public is not None)

    def discovered(
        self, user: str, listing: ToolListing, held: dict[str, ToolSpec | None],
        only: list[str] | None,
    ) -> None:
        """The toolkit (re)built its tools from ``user``'s ``listing``: ``held`` are the MCP
        names of its tools -> the specs they were built from (``None``: a placeholder)."""
        self._enforced = listing.ttl_seconds is not None
        self._held = dict(held)
        self._only = frozenset(only) if only is not None else None
        self.keep(user, listing)  # extra stays: a re-discovery must not drop what it added

    def keep(self, user: str, listing: ToolListing) -> None:
        """Remember ``listing`` as ``user``'s (everyone's when its scope is public)."""
        if listing.ttl_seconds is None:
            return
        entry = (listing, self.clock())
        if listing.scope == "public":
            self._public = entry
        else:
            self._private.set(user, entry)

    def current(self, user: str) -> ToolListing | None:
        """``user``'s fresh listing (their own, else a public one), or ``None``."""
        now = self.clock()
        for entry in (self._private.get(user), self._public):
            if entry is not None:
                listing, stamp = entry
                assert listing.ttl_seconds is not None
                if now - stamp < listing.ttl_seconds:
                    return listing
        return None

    async def admit(
        self, user: str, tool: str, arguments: dict[str, Any], pool: Lister
    ) -> str | None:
        """Whether ``user``'s listing lets ``tool`` be called with ``arguments``: ``None`` (send
        it), or the error for the model (nothing is sent). Lists the tools on ``user``'s session
        of ``pool`` when their listing is missing or expired (not when no listing carried
        ``ttlMs``)."""
        if not self._enforced:
            return None
        listing = self.current(user)
        just_listed = listing is None
        if listing is None:
            listing = await self._list(user, pool)
        if tool not in listing.by_name and not just_listed:
            listing = await self._list(user, pool)  # the server may have added it since
        spec = listing.by_name.get(tool)
        if spec is None:
            return (
                f"Error: {tool!r} was not called: the MCP server does not offer this tool to "
                f"user {user!r} (it is not in the tools the server lists for them)."
            )
        held = self._held.get(tool)
        if held is not None and spec is not held and spec.input_schema != held.input_schema:
            problem = SchemaCheck(spec.input_schema).problem(arguments)
            if problem is not None:
                return f"Error: {tool} was not called (nothing was sent): {problem}."
        return None

    async def _list(self, user: str, pool: Lister) -> ToolListing:
        """List ``user``'s tools once for all of their concurrent calls (of this event loop);
        keep the listing."""
        key = (user, asyncio.get_running_loop())
        pending = self._listing_now.get(key)
        if pending is None:
            pending = asyncio.ensure_future(pool.listing(user))
            self._listing_now[key] = pending
            pending.add_done_callback(lambda _f: self._listing_now.pop(key, None))
        listing = await asyncio.shield(pending)
        self.keep(user, listing)
        self._note_new(listing)
        return listing

    def _note_new(self, listing: ToolListing) -> None:
        new = [
            s for s in listing.specs
            if s.name not in self._held and s.name not in self.extra
            and (self._only is None or s.name in self._only)
        ]
        if new and len(self.extra) + len(new) <= _MAX_EXTRA:
            self.extra.update((s.name, s) for s in new)
            self._on_new_tools()
