"""Keep credentials out of log records, including those of libraries we drive.

httpx logs every request URL at INFO and the MCP SDK logs its endpoint at DEBUG; for an instance
URL the path *is* the credential. Every secret we handle is registered here, and a filter on
those libraries' loggers rewrites any record that contains one.

A server meets secrets without end (an instance URL per user, a session token per connect), so
most are registered with an *owner*: the open session, the cached instance or the connect
parameters that hold them. The secret leaves the set when its last owner is closed or
collected (after a grace of :data:`RECENTLY_RELEASED` later releases), so the set, and the cost
of redacting a record, stays bounded by what is live plus that grace.
Filters run only for records a logger actually emits, so this costs nothing while logging is
off.
"""

from __future__ import annotations

import logging
import threading
import traceback
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from typing import Any

_MASK = "***"
_lock = threading.Lock()
#: Secrets kept for the process's life (client secrets, URLs the CLI prints).
_permanent: set[str] = set()
#: Secrets held by live objects (sessions, cached instances, minted tokens): how many hold each.
_held: dict[str, int] = {}
#: How many released secrets stay redacted a little longer (an error echoing a token that was
#: just replaced, or an instance URL just evicted, is still cleaned).
RECENTLY_RELEASED = 256
#: The most recently released secrets, oldest first (at most ``RECENTLY_RELEASED``).
_recent: OrderedDict[str, None] = OrderedDict()
#: Releases not applied yet (queued by finalizers, see :func:`_release`).
_released: deque[str] = deque()
#: Every secret, longest first; ``None`` after a change (rebuilt by the next record that
#: needs it, so a registration costs no sort and an unchanged set costs a record no sort).
_ordered: tuple[str, ...] | None = ()

#: Loggers of libraries that may print a URL or message holding one of our secrets.
_WATCHED_LOGGERS = (
    "httpx",
    "httpcore",
    "httpx2",  # the HTTP stack of mcp 2.x
    "httpcore2",
    "mcp",
    "mcp.client.streamable_http",
    "mcp.client.session",
    "mcp.shared.session",
    "langchain_mcp_adapters",
    "langchain.mcp",
    "fastmcp",
    "scalekit_langchain",
)


def _reorder() -> None:
    global _ordered
    _ordered = None


def _snapshot() -> tuple[str, ...]:
    global _ordered
    if _released:
        with _lock:
            _apply_releases()
    ordered = _ordered
    if ordered is None:
        with _lock:
            every = _permanent | _held.keys() | _recent.keys()
            ordered = _ordered = tuple(sorted(every, key=len, reverse=True))
    return ordered


def register_secret(value: str | None, owner: object = None) -> Callable[[], Any] | None:
    """Treat ``value`` as a credential (at least 8 characters).

    Args:
        value: The secret.
        owner: Keep it only while this object lives (a session, a cached instance, minted
            connect parameters); ``None`` keeps it for the process's life.

    Returns:
        For an owned secret, a callable that lets it go now (idempotent; it also runs when
        ``owner`` is collected); else ``None``.
    """
    if not value or len(value) < 8:
        return None
    with _lock:
        _apply_releases()
        if owner is None:
            _permanent.add(value)
        else:
            _held[value] = _held.get(value, 0) + 1
        _reorder()
    if owner is None:
        return None
    return weakref.finalize(owner, _release, value)


def _retire(value: str) -> None:
    """Keep ``value`` among the recently released (the lock is held)."""
    _recent[value] = None
    _recent.move_to_end(value)
    while len(_recent) > RECENTLY_RELEASED:
        _recent.popitem(last=False)


def _release(value: str) -> None:
    # Finalizers run wherever the garbage collector does, possibly inside one of this module's
    # locked sections on the same thread: only queue the release (deque.append is atomic); the
    # next locked operation applies it.
    _released.append(value)


def _apply_releases() -> None:
    """Apply queued releases (the lock is held)."""
    changed = False
    while _released:
        value = _released.popleft()
        count = _held.get(value, 0) - 1
        if count > 0:
            _held[value] = count
        else:
            _held.pop(value, None)
            _retire(value)
        changed = True
    if changed:
        _reorder()


def forget_secret(value: str | None) -> None:
    """Stop treating ``value`` as a permanent credential (an access token that was replaced);
    it stays among the recently released for a while."""
    if value:
        with _lock:
            _apply_releases()
            if value in _permanent:
                _permanent.discard(value)
                _retire(value)
            _reorder()


def secret_count() -> int:
    """How many distinct secrets are redacted now (the cost of redacting one record grows
    with it; tests assert it stays bounded)."""
    with _lock:
        _apply_releases()
        return len(_permanent | _held.keys() | _recent.keys())


def held_secret_count() -> int:
    """How many distinct secrets live owners hold now (open sessions, cached instances, minted
    parameters): bounded by what is open and cached."""
    with _lock:
        _apply_releases()
        return len(_held)


def register_endpoint_secrets(
    url: str, headers: Mapping[str, str], *, owner: object = None
) -> None:
    """Register an MCP endpoint's credentials while ``owner`` lives (see
    :func:`register_secret`): the URL, a capability path segment (16+ characters), each header
    value and a bearer token on its own."""
    register_secret(url, owner=owner)
    tail = url.rstrip("/").rsplit("/", 1)[-1]
    if len(tail) >= 16:  # a capability path segment
        register_secret(tail, owner=owner)
    for value in headers.values():
        register_secret(value, owner=owner)
        scheme, _, token = value.partition(" ")
        if token and scheme.lower() == "bearer":
            register_secret(token, owner=owner)


def redact(text: str) -> str:
    """Replace every registered secret in ``text``."""
    for secret in _snapshot():  # immutable: no lock, and no sort unless the set changed
        if secret in text:
            text = text.replace(secret, _MASK)
    return text


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not (_permanent or _held or _recent):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken record is not ours to fix
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Exception texts can carry URLs too (httpx's raise_for_status does); format the
            # traceback now, cleaned, so handlers print this instead.
            formatted = "".join(traceback.format_exception(*record.exc_info))
            record.exc_text = redact(formatted).rstrip("\n")
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_filter = _RedactingFilter()
_installed: weakref.WeakSet[logging.Logger] = weakref.WeakSet()


def install() -> None:
    """Attach the filter to the watched loggers (idempotent)."""
    for name in _WATCHED_LOGGERS:
        logger = logging.getLogger(name)
        if logger not in _installed:
            logger.addFilter(_filter)
            _installed.add(logger)


# Installed on import: every module that handles a secret imports this one.
install()
