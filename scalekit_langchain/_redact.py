"""Keep credentials out of log records, including those of libraries we drive.

httpx logs every request URL at INFO and the MCP SDK logs its endpoint at DEBUG; for an instance
URL the path *is* the credential. Every secret we handle is registered here, and a filter on
those libraries' loggers rewrites any record that contains one. Filters run only for records a
logger actually emits, so this costs nothing while logging is off.
"""

from __future__ import annotations

import logging
import threading
import traceback
import weakref
from collections.abc import Mapping

_MASK = "***"
_lock = threading.Lock()
_secrets: set[str] = set()

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


def register_secret(value: str | None) -> None:
    """Treat ``value`` as a credential from now on (at least 8 characters)."""
    if value and len(value) >= 8:
        with _lock:
            _secrets.add(value)


def register_endpoint_secrets(url: str, headers: Mapping[str, str]) -> None:
    """Register an MCP endpoint's credentials: the URL, a capability path segment (16+
    characters), each header value and a bearer token on its own."""
    register_secret(url)
    tail = url.rstrip("/").rsplit("/", 1)[-1]
    if len(tail) >= 16:  # a capability path segment
        register_secret(tail)
    for value in headers.values():
        register_secret(value)
        scheme, _, token = value.partition(" ")
        if token and scheme.lower() == "bearer":
            register_secret(token)


def forget_secret(value: str | None) -> None:
    if value:
        with _lock:
            _secrets.discard(value)


def redact(text: str) -> str:
    """Replace every registered secret in ``text``."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, _MASK)
    return text


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not _secrets:
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
