"""Keep secrets out of the doctor's report: mask tokens and secret URL parts, hash user ids.

Every string of the report (keys included) goes through :meth:`Redactor.clean`, in this order:

1. URLs keep scheme, host and port and the shape of their path; the last path segment (a
   capability, a link token, a server key) and every segment holding digits or longer than
   24 characters become ``***``; a query string becomes ``?***``; user info is dropped. A
   segment after ``connections`` is a connection name and is kept.
2. Registered secrets (client secret, access and session tokens, instance URL secrets, session
   ids) become ``***``.
3. Registered user identifiers become ``user-<first 12 hex digits of their SHA-256>``.
4. Anything shaped like a JWT becomes ``***``.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import urlsplit

__all__ = ["MASK", "Redactor", "hash_user", "mask_url"]

MASK = "***"
_URL = re.compile(r"https?://[^\s\"'<>`]+", re.IGNORECASE)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)?")
_PLAIN_SEGMENT = re.compile(r"^(?:v\d{1,2}|[A-Za-z]+(?:[_-][A-Za-z]+)*)$")
_MAX_PLAIN = 24
_TRAILING_PUNCT = ".,;:!?)]}"


def hash_user(identifier: str) -> str:
    """Return the stable, non-reversible name of a user identifier in the report."""
    return "user-" + hashlib.sha256(identifier.encode()).hexdigest()[:12]


def mask_url(url: str) -> str:
    """Return ``url`` with its secret-looking parts masked (rule 1 of the module docstring).

    >>> mask_url("https://env.scalekit.dev/mcp/v2/servers/9f8e7d?x=1")
    'https://env.scalekit.dev/mcp/v2/servers/***?***'
    """
    tail = ""
    while url and url[-1] in _TRAILING_PUNCT:
        url, tail = url[:-1], url[-1] + tail
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return MASK + tail
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    segments = parts.path.split("/")
    last = len(segments) - 1
    while last > 0 and not segments[last]:
        last -= 1
    out: list[str] = []
    for i, seg in enumerate(segments):
        after_connections = i > 0 and segments[i - 1] == "connections"
        plain = bool(_PLAIN_SEGMENT.match(seg)) and len(seg) <= _MAX_PLAIN
        connection_name = after_connections and bool(re.fullmatch(r"[A-Za-z0-9_-]{1,100}", seg))
        keep = plain and (i != last or i < 2)
        out.append(seg if not seg or seg == MASK or keep or connection_name else MASK)
    query = "?" + MASK if parts.query else ""
    return f"{parts.scheme}://{netloc}{'/'.join(out)}{query}{tail}"


class Redactor:
    """Cleans every string of a JSON-like value (see the module docstring)."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._users: set[str] = set()

    def secret(self, value: str | None) -> None:
        """Mask ``value`` wherever it appears (ignored when shorter than 6 characters)."""
        if value and len(value) >= 6:
            self._secrets.add(value)

    def user(self, identifier: str | None) -> None:
        """Replace ``identifier`` by its hash wherever it appears."""
        if identifier:
            self._users.add(identifier)

    def text(self, value: str) -> str:
        """Clean one string."""
        value = _URL.sub(lambda m: mask_url(m.group(0)), value)
        for secret in sorted(self._secrets, key=len, reverse=True):
            value = value.replace(secret, MASK)
        for user in sorted(self._users, key=len, reverse=True):
            value = value.replace(user, hash_user(user))
        return _JWT.sub(MASK, value)

    def clean(self, value: Any) -> Any:
        """Return a cleaned deep copy of a JSON-like value (dicts, lists, strings, scalars)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.clean(v) for v in value]
        return value
