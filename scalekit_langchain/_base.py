"""What the async and sync Scalekit clients share: everything but I/O.

Credentials, request building, response parsing, the error table, the retry policy and the
access-token bookkeeping live here once; :mod:`scalekit_langchain.client` only sends.
"""

from __future__ import annotations

import logging
import os
import platform
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urlsplit

import httpx
from pydantic import SecretStr, ValidationError

from scalekit_langchain._version import __version__
from scalekit_langchain.errors import (
    RateLimitError,
    ScalekitAPIError,
    ScalekitConfigurationError,
    ScalekitProtocolError,
    error_class_for_status,
)
from scalekit_langchain.models import (
    ConnectionAuthState,
    McpConfig,
    McpConfigConnectionToolMapping,
    McpInstance,
    Page,
    SessionToken,
)

logger = logging.getLogger("scalekit_langchain")

T = TypeVar("T")

ENV_URL = "SCALEKIT_ENV_URL"
ENV_CLIENT_ID = "SCALEKIT_CLIENT_ID"
ENV_CLIENT_SECRET = "SCALEKIT_CLIENT_SECRET"

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
DEFAULT_MAX_RETRIES = 3
_BACKOFF_BASE = 0.25
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


def resolve_credentials(
    env_url: str | None, client_id: str | None, client_secret: str | SecretStr | None
) -> Credentials:
    """Fill missing arguments from ``SCALEKIT_*`` environment variables and check them.

    Raises:
        ScalekitConfigurationError: naming every missing value, or a malformed env URL.
    """
    env_url = env_url or os.environ.get(ENV_URL) or None
    client_id = client_id or os.environ.get(ENV_CLIENT_ID) or None
    if client_secret is None or (isinstance(client_secret, str) and not client_secret):
        client_secret = os.environ.get(ENV_CLIENT_SECRET) or None
    missing = [
        f"{arg} (or ${env})"
        for arg, env, value in (
            ("env_url", ENV_URL, env_url),
            ("client_id", ENV_CLIENT_ID, client_id),
            ("client_secret", ENV_CLIENT_SECRET, client_secret),
        )
        if not value
    ]
    if missing:
        raise ScalekitConfigurationError(
            "Missing Scalekit credentials: " + ", ".join(missing) + ". Pass them to the client "
            "or set the environment variables."
        )
    assert env_url and client_id and client_secret  # for the type checker
    parts = urlsplit(env_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ScalekitConfigurationError(
            f"env_url must be an http(s) URL like https://your-env.scalekit.com, got {env_url!r}"
        )
    secret = client_secret if isinstance(client_secret, SecretStr) else SecretStr(client_secret)
    return Credentials(env_url.strip().rstrip("/"), client_id.strip(), secret)


def credentials_from_env_available() -> bool:
    """Whether all three ``SCALEKIT_*`` variables are set."""
    return all(os.environ.get(v) for v in (ENV_URL, ENV_CLIENT_ID, ENV_CLIENT_SECRET))


# --------------------------------------------------------------------------- validation


def require_id(value: str, field_name: str) -> str:
    """Check a path identifier and percent-encode it for a URL path segment."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field_name} must be a non-empty string, got {value!r}")
    if value in (".", ".."):
        raise ValueError(f"{field_name} must not be {value!r}")
    return quote(value, safe="")


def require_identifier(value: str, field_name: str, *, max_len: int | None = None) -> str:
    """Check a user identifier (sent in a JSON body, not a path)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field_name} must be a non-empty string, got {value!r}")
    if max_len is not None and len(value) > max_len:
        raise ValueError(f"{field_name} must be at most {max_len} characters, got {len(value)}")
    return value


def check_config_name(name: str, field_name: str = "name") -> str:
    """Check a config name against Scalekit's rule ``^[a-z0-9_-]{1,100}$``."""
    if not isinstance(name, str) or not CONFIG_NAME_RE.match(name):
        raise ValueError(
            f"{field_name} must match ^[a-z0-9_-]{{1,100}}$ (lowercase letters, digits, '-' and "
            f"'_', 1 to 100 characters), got {name!r}"
        )
    return name


MappingInput = McpConfigConnectionToolMapping | Mapping[str, Any]


def mappings_body(mappings: Sequence[MappingInput]) -> list[dict[str, Any]]:
    """Validate ``connection_tool_mappings`` and render them for the wire."""
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


def duration_str(expiry: timedelta | float | int) -> str:
    """Render a session-token lifetime as a protobuf Duration (``"3600s"``), checking 60s to 24h."""
    if isinstance(expiry, bool) or not isinstance(expiry, (timedelta, int, float)):
        raise ValueError(f"expiry must be a timedelta or a number of seconds, got {expiry!r}")
    seconds = expiry.total_seconds() if isinstance(expiry, timedelta) else float(expiry)
    if not (MIN_TOKEN_EXPIRY.total_seconds() <= seconds <= MAX_TOKEN_EXPIRY.total_seconds()):
        raise ValueError(f"expiry must be between 60 seconds and 24 hours, got {seconds:g} seconds")
    return f"{int(seconds)}s"  # Scalekit drops fractions of a second


def query_params(**params: Any) -> dict[str, Any]:
    """Drop ``None`` values; render booleans the way grpc-gateway reads them."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out


# --------------------------------------------------------------------------- operations


@dataclass(frozen=True)
class Operation(Generic[T]):
    """One REST call: how to build it, whether it is safe to retry, how to read the answer."""

    method: str
    path: str
    parse: Callable[[Any], T]
    params: Mapping[str, Any] | None = None
    json: Any = None
    data: Mapping[str, str] | None = field(default=None, repr=False)  # form body (token call)
    idempotent: bool = True
    ok_statuses: frozenset[int] = frozenset({200, 201})


def _field(data: Any, key: str, what: str) -> Any:
    if not isinstance(data, dict) or key not in data:
        raise ScalekitProtocolError(f"Malformed Scalekit response for {what}: missing {key!r}")
    return data[key]


def _model(model: type[T], data: Any, what: str) -> T:
    try:
        return model.model_validate(data)  # type: ignore[attr-defined, no-any-return]
    except ValidationError as exc:
        raise ScalekitProtocolError(
            f"Malformed Scalekit response for {what}: {exc.error_count()} invalid field(s), "
            f"first: {exc.errors()[0]['loc']} {exc.errors()[0]['msg']}"
        ) from None


def parse_config(data: Any) -> McpConfig:
    return _model(McpConfig, _field(data, "config", "config"), "config")


def parse_instance(data: Any) -> McpInstance:
    return _model(McpInstance, _field(data, "instance", "instance"), "instance")


def parse_empty(data: Any) -> None:
    return None


def _page(key: str, model: type[T]) -> Callable[[Any], Page[T]]:
    def parse(data: Any) -> Page[T]:
        if not isinstance(data, dict):
            raise ScalekitProtocolError(f"Malformed Scalekit response for {key}: not an object")
        raw = data.get(key) or []
        if not isinstance(raw, list):
            raise ScalekitProtocolError(f"Malformed Scalekit response for {key}: not a list")
        total = data.get("total_size")
        return Page[T](
            items=[_model(model, item, key) for item in raw],
            next_page_token=_page_token(data, "next_page_token"),
            prev_page_token=_page_token(data, "prev_page_token"),
            total_size=_as_count(total),
        )

    return parse


def _page_token(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ScalekitProtocolError(f"Malformed Scalekit response: {key} is not a string")
    return value


def _as_count(value: Any) -> int | None:
    """A non-negative count from a JSON number or an ASCII digit string; ``None`` otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


parse_config_page = _page("configs", McpConfig)
parse_instance_page = _page("instances", McpInstance)


def _states(key: str) -> Callable[[Any], list[ConnectionAuthState]]:
    def parse(data: Any) -> list[ConnectionAuthState]:
        if not isinstance(data, dict):
            raise ScalekitProtocolError(f"Malformed Scalekit response for {key}: not an object")
        raw = data.get(key) or []
        if not isinstance(raw, list):
            raise ScalekitProtocolError(f"Malformed Scalekit response for {key}: not a list")
        return [_model(ConnectionAuthState, item, key) for item in raw]

    return parse


parse_auth_state = _states("connections")
parse_connected_accounts = _states("connected_accounts")


def parse_session_token(data: Any) -> SessionToken:
    token = _field(data, "token", "session token")
    if not isinstance(token, str) or not token:
        raise ScalekitProtocolError("Malformed Scalekit response for session token: empty token")
    return _model(SessionToken, data, "session token")


# --------------------------------------------------------------------------- access token


@dataclass
class AccessToken:
    """A client-credentials access token and when we stop trusting it."""

    value: SecretStr = field(repr=False)
    refresh_at: float  # time.monotonic() after which we fetch a new one


def token_request(creds: Credentials) -> tuple[str, dict[str, str]]:
    return "/oauth/token", {
        "grant_type": "client_credentials",
        "client_id": creds.client_id,
        "client_secret": creds.client_secret.get_secret_value(),
    }


def parse_token_response(response: httpx.Response) -> AccessToken:
    if response.status_code != 200:
        raise api_error(response)
    data = json_body(response)
    token = data.get("access_token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        raise ScalekitProtocolError("Malformed Scalekit token response: no access_token")
    expires_in = data.get("expires_in")
    try:
        lifetime = float(expires_in) if expires_in is not None else 3600.0
    except (TypeError, ValueError):
        lifetime = 3600.0
    # Refresh a little before expiry: 10% of the lifetime, at most a minute, so a request that
    # starts with a token never arrives with an expired one.
    margin = min(60.0, lifetime * 0.1)
    return AccessToken(SecretStr(token), time.monotonic() + max(0.0, lifetime - margin))


# --------------------------------------------------------------------------- responses


def json_body(response: httpx.Response) -> Any:
    if not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        ctype = response.headers.get("content-type", "?")
        raise ScalekitProtocolError(
            f"Scalekit answered HTTP {response.status_code} with a body that is not JSON "
            f"(content-type {ctype}) for {response.request.method} {response.request.url.path}"
        ) from None


def retry_after_seconds(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def api_error(response: httpx.Response) -> ScalekitAPIError:
    """Build the typed error for an error response (never raises while reading it)."""
    status = response.status_code
    message = response.reason_phrase or "error"
    grpc_code = error_code = None
    request_id = response.headers.get("x-request-id")
    try:
        data = response.json() if response.content else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        if isinstance(data.get("message"), str) and data["message"]:
            message = data["message"]
        elif isinstance(data.get("error_description"), str):  # plain OAuth error bodies
            message = data["error_description"]
        elif isinstance(data.get("error"), str):
            message = data["error"]
        if isinstance(data.get("code"), int):
            grpc_code = data["code"]
        details = data.get("details")
        for detail in details if isinstance(details, list) else []:
            if not isinstance(detail, dict):
                continue
            error_code = error_code or (detail.get("error_code") or None)
            info = detail.get("request_info")
            if isinstance(info, dict) and info.get("request_id"):
                request_id = request_id or info["request_id"]
    elif response.content:
        message = f"{message} (non-JSON error body)"
    cls = error_class_for_status(status)
    kwargs: dict[str, Any] = dict(
        status_code=status,
        grpc_code=grpc_code,
        error_code=error_code,
        request_id=request_id,
        method=response.request.method,
        path=response.request.url.path,
    )
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=retry_after_seconds(response), **kwargs)
    return cls(message, **kwargs)


def parse_success(op: Operation[T], response: httpx.Response) -> T:
    if response.status_code not in op.ok_statuses and not (200 <= response.status_code < 300):
        raise api_error(response)
    ctype = response.headers.get("content-type", "")
    if response.content and "json" not in ctype:
        raise ScalekitProtocolError(
            f"Scalekit answered {op.method} {op.path} with content-type {ctype or 'none'}, "
            "expected JSON"
        )
    return op.parse(json_body(response))


# --------------------------------------------------------------------------- retries


def backoff_delay(attempt: int, retry_after: float | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): capped exponential, jittered.

    A server's ``Retry-After`` wins (capped at a minute).
    """
    if retry_after is not None:
        return float(min(retry_after, _RETRY_AFTER_CAP))
    delay = min(_BACKOFF_CAP, _BACKOFF_BASE * (2.0**attempt))
    return delay * (0.5 + random.random() / 2)


def should_retry_status(op: Operation[Any], status: int) -> bool:
    """Retry 429 always (the server refused before doing anything); 502/503/504 for reads."""
    if status == 429:
        return True
    return op.idempotent and status in _RETRY_STATUSES


def should_retry_exception(op: Operation[Any], exc: httpx.TransportError) -> bool:
    """Connect failures never reached the server; anything else only for idempotent calls."""
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return True
    return op.idempotent and isinstance(
        exc, (httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError)
    )


def build_headers(access_token: AccessToken | None) -> dict[str, str]:
    headers = {"user-agent": USER_AGENT, "accept": "application/json"}
    if access_token is not None:
        headers["authorization"] = f"Bearer {access_token.value.get_secret_value()}"
    return headers
