"""What the async and the sync client hold in common: credentials, options, the token store.

No I/O. Two clients built with ``from_client`` (or :meth:`ScalekitClient.to_async`) share one
:class:`~scalekit_langchain._tokens.TokenStore`, so they fetch one access token between them.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from pydantic import SecretStr

from scalekit_langchain import _base as b
from scalekit_langchain import _redact
from scalekit_langchain._base import Operation
from scalekit_langchain._tokens import TokenStore

logger = logging.getLogger("scalekit_langchain")


class ClientBase:
    """Credentials, timeouts, retry budget and access token of one client; no I/O.

    Raises:
        ScalekitConfigurationError: A credential is missing or the env URL is malformed.
        ValueError: ``timeout`` or ``max_retries`` is out of range.
    """

    def __init__(
        self,
        env_url: str | SecretStr | None,
        client_id: str | None,
        client_secret: str | SecretStr | None,
        *,
        timeout: float | httpx.Timeout | None,
        max_retries: int,
    ) -> None:
        # No frame keeps the raw secret, nor a password in env_url (refused, but later).
        secret, url = b.wrap_secret(client_secret), b.wrap_secret(env_url)
        del client_secret, env_url
        self._creds = b.resolve_credentials(url, client_id, secret)
        self._timeouts = b.resolve_timeouts(timeout)
        self._max_retries = b.check_max_retries(max_retries)
        self._tokens = TokenStore()
        _redact.register_secret(self._creds.client_secret.get_secret_value())

    def _share_tokens_with(self, other: ClientBase) -> None:
        self._tokens = other._tokens

    def _options(self) -> dict[str, Any]:
        """Keyword arguments that rebuild this client's credentials and options."""
        return {
            "env_url": self._creds.env_url,
            "client_id": self._creds.client_id,
            "client_secret": self._creds.client_secret,
            "timeout": self._timeouts.phases,
            "max_retries": self._max_retries,
        }

    @property
    def env_url(self) -> str:
        """The Scalekit environment URL, e.g. ``https://your-env.scalekit.com``."""
        return self._creds.env_url

    @property
    def client_id(self) -> str:
        """The OAuth client id."""
        return self._creds.client_id

    @property
    def token_fetches(self) -> int:
        """How many access tokens were fetched for this client (and the clients sharing its
        token); for tests and benchmarks."""
        return self._tokens.fetches

    def __repr__(self) -> str:
        creds: b.Credentials | None = getattr(self, "_creds", None)
        if creds is None:  # repr of a half-built client (a traceback of its __init__ shows it)
            return f"{type(self).__name__}(<not configured>)"
        return f"{type(self).__name__}(env_url={creds.env_url!r}, client_id={creds.client_id!r})"

    def _log_retry(self, op: Operation[Any], attempt: int, why: str, delay: float) -> None:
        logger.info(
            "Retrying %s %s after %s (attempt %d of %d, waiting %.2fs)",
            op.method,
            op.path,
            why,
            attempt + 1,
            self._max_retries,
            delay,
        )
