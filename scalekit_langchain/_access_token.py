"""The access token of a set of client credentials: its lifetime on the local monotonic clock
and a thread-safe holder shared by every client built on those credentials. No I/O."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from scalekit_langchain import _redact

_DEFAULT_TOKEN_LIFETIME = 3600.0
_MAX_TOKEN_LIFETIME = 7 * 24 * 3600.0


@dataclass
class AccessToken:
    """A client-credentials access token and when we stop trusting it."""

    value: SecretStr = field(repr=False)
    refresh_at: float  # time.monotonic() after which we fetch a new one


def new_access_token(value: str, expires_in: Any) -> AccessToken:
    """Wrap a fresh token; its lifetime counts from now on the local monotonic clock.

    ``expires_in`` is trusted as a duration only (never compared with wall-clock time, so clock
    skew changes nothing); a missing or unreadable one means an hour, a negative one zero.
    """
    try:
        lifetime = float(expires_in) if expires_in is not None else _DEFAULT_TOKEN_LIFETIME
    except (TypeError, ValueError, OverflowError):
        lifetime = _DEFAULT_TOKEN_LIFETIME
    if isinstance(expires_in, bool) or math.isnan(lifetime):
        lifetime = _DEFAULT_TOKEN_LIFETIME
    lifetime = min(max(lifetime, 0.0), _MAX_TOKEN_LIFETIME)
    # Refresh a little before expiry: 10% of the lifetime, at most a minute, so a request that
    # starts with a token never arrives with an expired one.
    margin = min(60.0, lifetime * 0.1)
    return AccessToken(SecretStr(value), time.monotonic() + lifetime - margin)


class TokenStore:
    """The access token of one set of credentials, shared by every client built on them.

    Thread-safe. Single flight (one fetch at a time) is the clients' job; this only holds
    the current token and counts fetches.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._token: AccessToken | None = None
        self.fetches = 0

    def __repr__(self) -> str:
        return f"TokenStore(fetches={self.fetches})"

    def valid(self) -> AccessToken | None:
        """The current token, unless it is missing or due for refresh."""
        with self._lock:
            token = self._token
        if token is not None and time.monotonic() < token.refresh_at:
            return token
        return None

    def store(self, token: AccessToken) -> None:
        """Make ``token`` current (and redacted from our logs from now on)."""
        _redact.register_secret(token.value.get_secret_value())
        with self._lock:
            old, self._token = self._token, token
            self.fetches += 1
        if old is not None:
            _redact.forget_secret(old.value.get_secret_value())

    def invalidate(self, token: AccessToken) -> None:
        """Drop ``token`` if it is still current (the server refused it)."""
        with self._lock:
            if self._token is token:
                self._token = None
