"""What the async and the sync client hold in common: credentials, options, shared state.

No I/O. Two clients built with ``from_client`` (or :meth:`ScalekitClient.to_async`) share one
:class:`~scalekit_langchain._client_state.ClientState`: they fetch one access token between them,
and toolkits built on either see the same instances and connection states.

Other modules reach a client's credentials and state through the functions here
(:func:`state_of`, :func:`options_of`, :func:`share_state`), never through its attributes.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from pydantic import SecretStr

from scalekit_langchain import _redact, _rest_requests
from scalekit_langchain._client_state import ClientState
from scalekit_langchain._rest_requests import Operation

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
        secret, url = _rest_requests.wrap_secret(client_secret), _rest_requests.wrap_secret(env_url)
        del client_secret, env_url
        self._creds = _rest_requests.resolve_credentials(url, client_id, secret)
        self._timeouts = _rest_requests.resolve_timeouts(timeout)
        self._max_retries = _rest_requests.check_max_retries(max_retries)
        self._state = ClientState()
        _redact.register_secret(self._creds.client_secret.get_secret_value())

    @property
    def env_url(self) -> str:
        """The Scalekit environment URL, e.g. ``https://your-env.scalekit.dev``."""
        return self._creds.env_url

    @property
    def client_id(self) -> str:
        """The OAuth client id."""
        return self._creds.client_id

    @property
    def timeout(self) -> httpx.Timeout:
        """The per-phase timeouts of each request (the largest is the total deadline)."""
        return self._timeouts.phases

    @property
    def max_retries(self) -> int:
        """How many times a retryable request is sent again."""
        return self._max_retries

    @property
    def token_fetches(self) -> int:
        """How many access tokens were fetched for this client (and the clients sharing its
        token); for tests and benchmarks."""
        return self._state.tokens.fetches

    def forget_auth_state(self, user_identifier: str | None = None) -> None:
        """Forget the connection states last seen for ``user_identifier`` (everyone's when
        ``None``) in every toolkit built on this client or its twins; their next check asks
        Scalekit. No I/O. A :class:`~scalekit_langchain.webhooks.WebhookReceiver` calls it."""
        self._state.forget_user(user_identifier)

    def __repr__(self) -> str:
        creds: _rest_requests.Credentials | None = getattr(self, "_creds", None)
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


def state_of(client: ClientBase) -> ClientState:
    """The state ``client`` shares with its twins (access token, per-user caches)."""
    return client._state


def options_of(client: ClientBase) -> dict[str, Any]:
    """Keyword arguments that rebuild ``client``'s credentials and options."""
    return {
        "env_url": client._creds.env_url,
        "client_id": client._creds.client_id,
        "client_secret": client._creds.client_secret,
        "timeout": client._timeouts.phases,
        "max_retries": client._max_retries,
    }


def share_state(twin: ClientBase, source: ClientBase) -> None:
    """Make ``twin`` share ``source``'s access token and caches (it was built from it)."""
    twin._state = source._state
