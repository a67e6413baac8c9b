"""The sans-I/O core of the Scalekit clients: everything but sending bytes.

Credentials, input validation, timeouts, how a request is built and the retry policy live
here once. The access token's lifetime and holder live in ``_tokens``, reading answers
(parsing, the error table) in ``_responses``; the async and sync clients in ``_rest_async`` /
``_rest_sync`` only drive I/O.

Secrets stay wrapped (``SecretStr``, :class:`AccessToken`) in every object a frame on an error
path can hold; :func:`build_request` unwraps them only as temporaries of one expression, so no
frame's locals ever hold a raw client secret or bearer header.
"""

from __future__ import annotations

import math
import os
import platform
import random
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Generic, Literal, TypeVar, get_args
from urllib.parse import quote, urlsplit

import httpx
from pydantic import SecretStr, ValidationError

from scalekit_langchain import _redact
from scalekit_langchain._access_token import AccessToken
from scalekit_langchain._version import __version__
from scalekit_langchain.errors import ScalekitConfigurationError
from scalekit_langchain.models import McpConfigConnectionToolMapping

T = TypeVar("T")

ENV_URL = "SCALEKIT_ENV_URL"
ENV_CLIENT_ID = "SCALEKIT_CLIENT_ID"
ENV_CLIENT_SECRET = "SCALEKIT_CLIENT_SECRET"

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
DEFAULT_MAX_RETRIES = 3
BACKOFF_BASE = 0.25
_BACKOFF_CAP = 8.0
_RETRY_AFTER_CAP = 60.0
_RETRY_STATUSES = frozenset({429, 502, 503, 504})

CONFIG_NAME_RE = re.compile(r"^[a-z0-9_-]{1,100}$")
MAX_MAPPINGS = 25
MAX_PAGE_SIZE = 30
MIN_TOKEN_EXPIRY = timedelta(seconds=60)
MAX_TOKEN_EXPIRY = timedelta(hours=24)
MAX_IDENTIFIER_LEN = 255

USER_AGENT = (
    f"scalekit-langchain/{__version__} Python/{platform.python_version()} httpx/{httpx.__version__}"
)


# --------------------------------------------------------------------------- credentials


@dataclass(frozen=True)
class Credentials:
    """Where to reach Scalekit and how to authenticate. The secret never shows in ``repr``."""

    env_url: str
    client_id: str
    client_secret: SecretStr = field(repr=False)


_ENV_NAMES = (
    ("env_url", ENV_URL),
    ("client_id", ENV_CLIENT_ID),
    ("client_secret", ENV_CLIENT_SECRET),
)


def _missing_message(missing: Sequence[str], env_set: Sequence[str]) -> str:
    listed = ", ".join(missing)
    if env_set:
        return (
            f"Incomplete Scalekit credentials: {', '.join(env_set)} set but {listed} missing. "
            "Set all three SCALEKIT_* variables or pass the missing values to the client."
        )
    return (
        f"Missing Scalekit credentials: {listed}. Pass them to the client or set the "
        "environment variables."
    )


def wrap_secret(value: str | SecretStr | None) -> SecretStr | None:
    """``value`` as a ``SecretStr`` (``None`` when blank), so no frame keeps the raw string."""
    if isinstance(value, SecretStr):
        return value if value.get_secret_value().strip() else None
    return SecretStr(value) if isinstance(value, str) and value.strip() else None


def resolve_credentials(
    env_url: str | SecretStr | None,
    client_id: str | None,
    client_secret: str | SecretStr | None,
) -> Credentials:
    """Fill missing arguments from ``SCALEKIT_*`` environment variables and check them.

    Args:
        env_url: e.g. ``https://your-env.scalekit.dev``; ``$SCALEKIT_ENV_URL`` when empty.
        client_id: ``$SCALEKIT_CLIENT_ID`` when empty.
        client_secret: ``$SCALEKIT_CLIENT_SECRET`` when empty; pass a ``SecretStr``.

    Returns:
        The checked credentials, the secret wrapped in a ``SecretStr``.

    Raises:
        ScalekitConfigurationError: Naming every missing value (and which ``SCALEKIT_*``
            variables were set, when only some were), or a malformed env URL: not http(s), no
            host, or with credentials, a query or a fragment in it.
    """
    # The secret and the URL (which may carry a password) stay wrapped in every frame.
    client_secret = wrap_secret(client_secret)
    if client_secret is None:
        client_secret = wrap_secret(os.environ.get(ENV_CLIENT_SECRET, "").strip() or None)
    env_url = wrap_secret(env_url)
    if env_url is None:
        env_url = wrap_secret(os.environ.get(ENV_URL, "").strip() or None)
    client_id = (client_id or "").strip() or os.environ.get(ENV_CLIENT_ID, "").strip() or None
    present = {"env_url": env_url, "client_id": client_id, "client_secret": client_secret}
    missing = [f"{arg} (or ${env})" for arg, env in _ENV_NAMES if present[arg] is None]
    if missing:
        env_set = [env for _, env in _ENV_NAMES if os.environ.get(env, "").strip()]
        raise ScalekitConfigurationError(_missing_message(missing, env_set))
    assert env_url and client_id and client_secret  # for the type checker
    return Credentials(check_env_url(env_url), client_id, client_secret)


def _env_url_problem(text: str) -> tuple[str, str]:
    """``(checked URL, "")`` or ``("", what is wrong)``; returns rather than raises, so no
    traceback frame holds the raw URL (it may carry a password)."""
    example = "https://your-env.scalekit.dev"
    text = text.strip()
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        return "", f"env_url must be an http(s) URL like {example}"
    if parts.scheme not in ("http", "https") or not host:
        shown = f"{parts.scheme}://{host}" if host and "@" not in text else "a malformed URL"
        return "", f"env_url must be an http(s) URL like {example}, got {shown}"
    if "@" in parts.netloc:
        return "", (
            f"env_url must not contain a user name or password (got one for host {host!r}); "
            "pass client_id and client_secret instead"
        )
    if parts.query or parts.fragment:
        return "", f"env_url must not have a query or fragment, like {example}"
    return text.rstrip("/"), ""


def check_env_url(env_url: str | SecretStr) -> str:
    """Check an environment URL and return it without a trailing slash.

    URLs with user info (``https://user:pass@host``) are refused rather than silently
    stripped: credentials belong in ``client_id``/``client_secret``, and a URL is printed in
    too many places (reprs, logs) to carry one. Until checked, the URL is handled like a
    secret: error messages and traceback frames never show its user info.

    Raises:
        ScalekitConfigurationError: Not an http(s) URL with a host, or with user info, a query
            or a fragment.
    """
    url, problem = _env_url_problem(
        env_url.get_secret_value() if isinstance(env_url, SecretStr) else env_url
    )
    if problem:
        raise ScalekitConfigurationError(problem)
    return url


def credentials_from_env_available() -> bool:
    """Whether all three ``SCALEKIT_*`` variables are set.

    Returns:
        ``True`` when all three are set, ``False`` when none is.

    Raises:
        ScalekitConfigurationError: Only one or two are set (naming the missing ones), so a
            half-configured environment is never mistaken for an unconfigured one.
    """
    present = [env for _, env in _ENV_NAMES if os.environ.get(env, "").strip()]
    if not present:
        return False
    if len(present) == len(_ENV_NAMES):
        return True
    missing = [f"{arg} (or ${env})" for arg, env in _ENV_NAMES if env not in present]
    raise ScalekitConfigurationError(_missing_message(missing, present))


# --------------------------------------------------------------------------- validation


def require_id(value: str, field_name: str) -> str:
    """Check a path identifier and percent-encode it for a URL path segment.

    Raises:
        ValueError: Empty, blank, ``.`` or ``..``.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field_name} must be a non-empty string, got {value!r}")
    if value in (".", ".."):
        raise ValueError(f"{field_name} must not be {value!r}")
    return quote(value, safe="")


def _has_control_character(value: str) -> bool:
    # Cc covers C0/C1 controls (newline, tab, NUL, DEL...); Zl/Zp are Unicode line breaks.
    return any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in value)


def require_identifier(value: str, field_name: str, *, max_len: int | None = None) -> str:
    """Check a user identifier or name sent in a JSON body.

    Raises:
        ValueError: Empty or blank, longer than ``max_len``, or holding a control character
            (a newline, a tab, NUL...), which would forge log lines and never names a user.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field_name} must be a non-empty string, got {value!r}")
    if max_len is not None and len(value) > max_len:
        raise ValueError(f"{field_name} must be at most {max_len} characters, got {len(value)}")
    if _has_control_character(value):
        raise ValueError(
            f"{field_name} must not contain control characters such as a newline, got {value!r}"
        )
    return value


def check_config_name(name: str, field_name: str = "name") -> str:
    """Check a config name against Scalekit's rule ``^[a-z0-9_-]{1,100}$``.

    Raises:
        ValueError: The name does not match.
    """
    if not isinstance(name, str) or not CONFIG_NAME_RE.fullmatch(name):
        raise ValueError(
            f"{field_name} must match ^[a-z0-9_-]{{1,100}}$ (lowercase letters, digits, '-' and "
            f"'_', 1 to 100 characters), got {name!r}"
        )
    return name


MappingInput = McpConfigConnectionToolMapping | Mapping[str, Any]


def mappings_body(mappings: Sequence[MappingInput]) -> list[dict[str, Any]]:
    """Validate ``connection_tool_mappings`` and render them for the wire.

    Raises:
        ValueError: Not a list, more than 25 entries, or an invalid entry (named by index).
    """
    if isinstance(mappings, (str, bytes)) or not isinstance(mappings, Sequence):
        raise ValueError("connection_tool_mappings must be a list of mappings")
    if len(mappings) > MAX_MAPPINGS:
        raise ValueError(
            f"connection_tool_mappings has {len(mappings)} entries; Scalekit allows at most "
            f"{MAX_MAPPINGS}"
        )
    body = []
    for i, item in enumerate(mappings):
        try:
            mapping = (
                item
                if isinstance(item, McpConfigConnectionToolMapping)
                else McpConfigConnectionToolMapping.model_validate(item)
            )
        except ValidationError as exc:
            raise ValueError(f"connection_tool_mappings[{i}] is invalid: {exc}") from exc
        if not mapping.connection_name.strip():
            raise ValueError(f"connection_tool_mappings[{i}].connection_name must not be empty")
        if any(not isinstance(t, str) or not t for t in mapping.tools):
            raise ValueError(f"connection_tool_mappings[{i}].tools must be non-empty strings")
        body.append({"connection_name": mapping.connection_name, "tools": list(mapping.tools)})
    return body


def check_page_size(page_size: int | None) -> int | None:
    """Check ``page_size`` (1 to 30, or ``None`` for the server default).

    Raises:
        ValueError: Not an integer from 1 to 30.
    """
    if page_size is None:
        return None
    if (
        isinstance(page_size, bool)
        or not isinstance(page_size, int)
        or not (1 <= page_size <= MAX_PAGE_SIZE)
    ):
        raise ValueError(
            f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}, got {page_size!r}"
        )
    return page_size


def check_tool_prefix(value: str) -> str:
    """Check a tool-name prefix: tool names sent to models (OpenAI, Anthropic) must match
    ``^[a-zA-Z0-9_-]{1,64}$``, so a prefix is 1 to 40 of those characters.

    Raises:
        ValueError: Any other prefix.
    """
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", value):
        raise ValueError(
            "tool_name_prefix must be 1-40 letters, digits, '_' or '-' (tool names sent to "
            f"models allow only those), got {value!r}"
        )
    return value


def duration_str(expiry: timedelta | float | int) -> str:
    """Render a session-token lifetime as a protobuf Duration (``"3600s"``), checking 60s to 24h.

    Raises:
        ValueError: Not a duration, not finite, or outside 60 seconds to 24 hours.
    """
    if isinstance(expiry, bool) or not isinstance(expiry, (timedelta, int, float)):
        raise ValueError(f"expiry must be a timedelta or a number of seconds, got {expiry!r}")
    seconds = expiry.total_seconds() if isinstance(expiry, timedelta) else float(expiry)
    if not (MIN_TOKEN_EXPIRY.total_seconds() <= seconds <= MAX_TOKEN_EXPIRY.total_seconds()):
        raise ValueError(f"expiry must be between 60 seconds and 24 hours, got {seconds:g} seconds")
    return f"{int(seconds)}s"  # Scalekit drops fractions of a second


#: A session token's access level (SDK 2.21, case-sensitive): ``READ_ONLY`` tokens see and
#: call only the tools annotated read-only; ``FULL`` is the server's default.
AccessLevel = Literal["FULL", "READ_ONLY"]
ACCESS_LEVELS: tuple[str, ...] = get_args(AccessLevel)


def token_body(
    identifier: str, expiry: timedelta | float | None, access_level: str | None
) -> dict[str, Any]:
    """The body of a session-token mint: ``identifier``, and ``expiry`` / ``access_level``
    only when given (the server's defaults are one hour and ``FULL``).

    Raises:
        ValueError: A bad identifier, expiry or access level (no request is sent).
    """
    body: dict[str, Any] = {
        "identifier": require_identifier(identifier, "identifier", max_len=MAX_IDENTIFIER_LEN)
    }
    if expiry is not None:
        body["expiry"] = duration_str(expiry)
    if access_level is not None:
        if access_level not in ACCESS_LEVELS:
            raise ValueError(f"access_level must be one of {ACCESS_LEVELS}, got {access_level!r}")
        # The proto field's own name (grpc-gateway reads it and ``accessLevel`` alike).
        body["access_level"] = access_level
    return body


def query_params(**params: Any) -> dict[str, Any]:
    """Drop ``None`` values; render booleans the way grpc-gateway reads them."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out


def check_max_retries(max_retries: int) -> int:
    """Check ``max_retries``.

    Raises:
        ValueError: Not a non-negative integer.
    """
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError(f"max_retries must be a non-negative integer, got {max_retries!r}")
    return max_retries


# --------------------------------------------------------------------------- timeouts


@dataclass(frozen=True)
class Timeouts:
    """How long one HTTP request may take.

    Attributes:
        phases: httpx's per-phase limits (connect, each read, each write, pool wait), each
            capped at ``total``.
        total: Seconds for the whole request, from sending to the last byte of the answer;
            ``None`` for no overall limit.
    """

    phases: httpx.Timeout
    total: float | None


def _check_seconds(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number of seconds, got {value!r}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{what} must be a finite number of seconds above 0, got {value!r}")
    return seconds


def resolve_timeouts(timeout: float | httpx.Timeout | None) -> Timeouts:
    """Turn the clients' ``timeout`` argument into :class:`Timeouts`.

    A number is the total deadline of each request (connecting included; connecting alone
    gets at most 10 s of it). An ``httpx.Timeout`` keeps its per-phase limits and its largest
    limit becomes the total deadline. ``None`` means 30 s total, 10 s to connect.

    Raises:
        ValueError: ``timeout`` (or a phase of it) is not a finite number above 0.
    """
    if timeout is None:
        return Timeouts(DEFAULT_TIMEOUT, 30.0)
    if isinstance(timeout, httpx.Timeout):
        limits = {
            "connect": timeout.connect,
            "read": timeout.read,
            "write": timeout.write,
            "pool": timeout.pool,
        }
        for phase, value in limits.items():
            if value is not None:
                _check_seconds(value, f"timeout.{phase}")
        given = [float(v) for v in limits.values() if v is not None]
        return Timeouts(timeout, max(given) if given else None)
    total = _check_seconds(timeout, "timeout")
    return Timeouts(httpx.Timeout(total, connect=min(total, 10.0)), total)


# --------------------------------------------------------------------------- operations


@dataclass(frozen=True)
class Operation(Generic[T]):
    """One REST call: how to build it, whether it is safe to retry, how to read the answer.

    Attributes:
        method: The HTTP method.
        path: The path below the env URL (ids already percent-encoded).
        parse: Reads the JSON answer of a success.
        params: Query parameters.
        json: The JSON body (never a credential).
        idempotent: Whether repeating the call after an uncertain failure is harmless.
        sends_credentials: The client-credentials token call: the form body with the client
            secret is rendered only inside :func:`build_request`.
    """

    method: str
    path: str
    parse: Callable[[Any], T]
    params: Mapping[str, Any] | None = None
    json: Any = None
    idempotent: bool = True
    sends_credentials: bool = False
    ok_statuses: frozenset[int] = frozenset({200, 201})


def build_request(
    http: httpx.Client | httpx.AsyncClient,
    creds: Credentials,
    op: Operation[Any],
    token: AccessToken | None,
    timeouts: Timeouts,
) -> httpx.Request:
    """Build the request for ``op``, unwrapping secrets only as temporaries of this call.

    The client secret (token call) and the bearer header exist as raw strings only while
    this one expression runs; no local variable of any frame ever names them.
    """
    return http.build_request(
        op.method,
        creds.env_url + op.path,
        params=op.params,
        json=op.json,
        data={
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret.get_secret_value(),
        }
        if op.sends_credentials
        else None,
        headers={
            "user-agent": USER_AGENT,
            "accept": "application/json",
            **(
                {"authorization": "Bearer " + token.value.get_secret_value()}
                if token is not None
                else {}
            ),
        },
        timeout=timeouts.phases,
    )


# --------------------------------------------------------------------------- retries


@dataclass(frozen=True)
class TransportFailure:
    """What went wrong below HTTP, kept without the request (and its secrets) it failed on.

    Attributes:
        name: The failure's kind, e.g. ``"ConnectError"`` or ``"DeadlineExceeded"``.
        detail: A description with every registered secret redacted.
        connect: The request never reached the server (safe to repeat any call).
        timeout: A time limit ran out.
        read: The request may have reached the server (repeat only idempotent calls).
    """

    name: str
    detail: str
    connect: bool = False
    timeout: bool = False
    read: bool = False

    @classmethod
    def from_exception(cls, exc: Exception) -> TransportFailure:
        """Describe an error raised while sending, without keeping a reference to it.

        Besides httpx's transport errors this covers whatever a caller's ``httpx`` client or
        its event hooks raise (a closed client, ``raise_for_status`` in a hook): those carry
        the request too. Only transport errors can be retried.
        """
        return cls(
            name=type(exc).__name__,
            detail=_redact.redact(str(exc)) or "no detail",
            connect=isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)),
            timeout=isinstance(exc, httpx.TimeoutException),
            read=isinstance(
                exc,
                (
                    httpx.ReadTimeout,
                    httpx.WriteTimeout,
                    httpx.RemoteProtocolError,
                    httpx.ReadError,
                    httpx.WriteError,
                ),
            ),
        )

    @classmethod
    def deadline(cls, seconds: float | None) -> TransportFailure:
        """The request's total deadline ran out (it may have reached the server)."""
        limit = f"{seconds:g}s" if seconds is not None else "its deadline"
        return cls(
            "DeadlineExceeded", f"no complete answer within {limit}", timeout=True, read=True
        )


def backoff_delay(attempt: int, retry_after: float | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): capped exponential, jittered.

    A server's ``Retry-After`` wins (capped at a minute).
    """
    if retry_after is not None:
        return float(min(retry_after, _RETRY_AFTER_CAP))
    delay = min(_BACKOFF_CAP, BACKOFF_BASE * (2.0**attempt))
    return delay * (0.5 + random.random() / 2)


def should_retry_status(op: Operation[Any], status: int) -> bool:
    """Retry 429 always (the server refused before doing anything); 502/503/504 for reads."""
    if status == 429:
        return True
    return op.idempotent and status in _RETRY_STATUSES


def should_retry_failure(op: Operation[Any], failure: TransportFailure) -> bool:
    """Connect failures never reached the server; anything else only for idempotent calls."""
    if failure.connect:
        return True
    return op.idempotent and failure.read
