"""What clients built on one set of credentials share: the access token and the per-user caches.

A :class:`ClientState` belongs to a Scalekit client and to every twin made from it
(``from_client``, ``to_async``). Toolkits built on those clients keep their per-user knowledge
here rather than in process-wide tables, so it lives and dies with the client, and every table is
a :class:`BoundedCache`: a server that meets a hundred thousand users keeps at most
``max_entries`` of each. No I/O.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from scalekit_langchain._access_token import TokenStore

__all__ = ["DEFAULT_MAX_ENTRIES", "BoundedCache", "ClientState", "forget_states"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: Users remembered per table before the least recently used is forgotten.
DEFAULT_MAX_ENTRIES = 10_000


class BoundedCache(Generic[K, V]):
    """A thread-safe map that forgets its least recently used entries past ``max_entries`` and,
    with a ``ttl``, entries older than ``ttl`` seconds (on the monotonic clock).

    Args:
        max_entries: How many entries are kept at most.
        ttl: Seconds an entry lives after it was set; ``None`` keeps it until evicted.
        on_evict: Called with each value that leaves the cache (evicted, expired, popped or
            cleared), outside the lock, e.g. to forget the secrets it held.
    """

    def __init__(
        self,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        *,
        ttl: float | None = None,
        on_evict: Callable[[V], None] | None = None,
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.max_entries = max_entries
        self.ttl = ttl
        self._on_evict = on_evict
        self._items: OrderedDict[K, tuple[V, float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return self.get(key) is not None  # type: ignore[arg-type]

    def _fresh(self, stamp: float) -> bool:
        return self.ttl is None or time.monotonic() - stamp < self.ttl

    def get(self, key: K) -> V | None:
        """The value of ``key`` (and mark it recently used), or ``None`` (missing or expired)."""
        gone: V | None = None
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            value, stamp = found
            if not self._fresh(stamp):
                del self._items[key]
                gone = value
            else:
                self._items.move_to_end(key)
                return value
        self._evicted([gone] if gone is not None else [])
        return None

    def set(self, key: K, value: V) -> None:
        """Keep ``value`` under ``key``, forgetting the least recently used past the bound."""
        dropped: list[V] = []
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None and old[0] is not value:
                dropped.append(old[0])
            self._items[key] = (value, time.monotonic())
            while len(self._items) > self.max_entries:
                dropped.append(self._items.popitem(last=False)[1][0])
        self._evicted(dropped)

    def setdefault(self, key: K, make: Callable[[], V]) -> V:
        """The value of ``key``, or a new one from ``make()`` kept under it."""
        found = self.get(key)
        if found is not None:
            return found
        value = make()
        with self._lock:
            present = self._items.get(key)
            if present is not None and self._fresh(present[1]):
                return present[0]
        self.set(key, value)
        return value

    def pop(self, key: K) -> V | None:
        """Forget ``key``; its value, or ``None``."""
        with self._lock:
            found = self._items.pop(key, None)
        if found is None:
            return None
        self._evicted([found[0]])
        return found[0]

    def discard_where(self, predicate: Callable[[K], bool]) -> int:
        """Forget every key for which ``predicate`` is true; how many were forgotten."""
        with self._lock:
            keys = [k for k in self._items if predicate(k)]
            dropped = [self._items.pop(k)[0] for k in keys]
        self._evicted(dropped)
        return len(dropped)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            dropped = [value for value, _ in self._items.values()]
            self._items.clear()
        self._evicted(dropped)

    def _evicted(self, values: list[V]) -> None:
        if self._on_evict is not None:
            for value in values:
                self._on_evict(value)


@dataclass
class ClientState:
    """Shared by a client and its twins; see the module docstring.

    Attributes:
        tokens: The one access token of these credentials.
        instances: Ensured MCP instances, keyed by (config, user, instance name).
        connection_states: Last-seen connection states, keyed by (scope, user).
    """

    tokens: TokenStore = field(default_factory=TokenStore)
    instances: BoundedCache[tuple[str, str, str | None], Any] = field(
        default_factory=BoundedCache
    )
    connection_states: BoundedCache[tuple[str, str], Any] = field(default_factory=BoundedCache)

    def forget_user(self, user: str | None = None) -> None:
        """Forget the last-seen connection states of ``user`` (of everyone when ``None``)."""
        forget_states(self.connection_states, user)


def forget_states(states: BoundedCache[tuple[str, str], Any], user: str | None) -> int:
    """Forget the last-seen states of ``user`` (of everyone when ``None``) in every scope of
    ``states`` (keyed by (scope, user)); how many entries were forgotten."""
    if user is None:
        count = len(states)
        states.clear()
        return count
    return states.discard_where(lambda key: key[1] == user)
