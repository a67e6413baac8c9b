"""Reading Scalekit's answers: JSON bodies, the typed error for an error status, the server's
own explanation of a refusal, and the models of each successful answer. No I/O.

Errors built here are handed back (not raised) by :func:`read_answer` and :func:`read_token`,
stripped of traceback and context, so the client raises them from a frame that holds no raw
answer: nothing reachable from a raised error holds a token, an instance URL or a request.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
from pydantic import ValidationError

from scalekit_langchain import _redact
from scalekit_langchain._access_token import AccessToken, new_access_token
from scalekit_langchain._rest_requests import Operation, TransportFailure
from scalekit_langchain.errors import (
    RateLimitError,
    ScalekitAPIError,
    ScalekitConnectionError,
    ScalekitError,
    ScalekitProtocolError,
    ScalekitTimeoutError,
    error_class_for_status,
)
from scalekit_langchain.models import (
    ConnectionAuthState,
    McpConfig,
    McpInstance,
    Page,
    SessionToken,
)

T = TypeVar("T")
E = TypeVar("E", bound=BaseException)

_MAX_CAUSES = 8
_MAX_CAUSE_LEN = 500


def scrubbed(exc: E) -> E:
    """Return ``exc`` with no traceback, cause or context (nothing reachable but its message)."""
    exc.__traceback__ = None
    exc.__cause__ = None
    exc.__context__ = None
    exc.__suppress_context__ = True
    return exc


# --------------------------------------------------------------------------- bodies


def json_body(response: httpx.Response) -> Any:
    """The JSON body (``{}`` when empty).

    Raises:
        ScalekitProtocolError: The body is not JSON.
    """
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
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date), when readable."""
    raw = response.headers.get("retry-after")
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds and seconds != float("inf") else None
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


# --------------------------------------------------------------------------- errors


def _text(value: Any) -> str | None:
    """A server string on one line (newlines and tabs collapsed), or ``None`` when blank."""
    text = " ".join(value.split()) if isinstance(value, str) else ""
    return text or None


def _detail_causes(detail: dict[str, Any]) -> list[str]:
    """The human-readable reasons in one ``ErrorInfo`` detail, in the order worth reading."""
    causes: list[str] = []
    validation = detail.get("validation_error_info")
    violations = validation.get("field_violations") if isinstance(validation, dict) else None
    for violation in violations if isinstance(violations, list) else []:
        if not isinstance(violation, dict):
            continue
        description = _text(violation.get("description"))
        where = _text(violation.get("field"))
        if description:
            causes.append(f"{where}: {description}" if where else description)
    for key, inner in (
        ("localized_message_info", "message"),
        ("debug_info", "detail"),
        ("tool_error_info", "tool_error_message"),
    ):
        info = detail.get(key)
        text = _text(info.get(inner)) if isinstance(info, dict) else None
        if text:
            causes.append(text)
    return causes


def _describe(data: Any, fallback: str) -> tuple[str, int | None, str | None, str | None]:
    """Message (with the server's causes), gRPC code, error code and request id of a body."""
    if not isinstance(data, dict):
        return fallback, None, None, None
    message = (
        _text(data.get("message"))
        or _text(data.get("error_description"))  # plain OAuth error bodies
        or _text(data.get("error"))
        or fallback
    )
    grpc_code = data.get("code") if isinstance(data.get("code"), int) else None
    error_code = request_id = None
    causes: list[str] = []
    details = data.get("details")
    for detail in details if isinstance(details, list) else []:
        if not isinstance(detail, dict):
            continue
        error_code = error_code or _text(detail.get("error_code"))
        info = detail.get("request_info")
        if isinstance(info, dict):
            request_id = request_id or _text(info.get("request_id"))
        causes += _detail_causes(detail)
    extra: list[str] = []
    for cause in causes:
        cause = cause[:_MAX_CAUSE_LEN]
        if cause not in message and cause not in extra:
            extra.append(cause)
    if extra:
        message = f"{message}: " + "; ".join(extra[:_MAX_CAUSES])
    return message, grpc_code, error_code, request_id


def api_error(response: httpx.Response) -> ScalekitAPIError:
    """Build the typed error for an error response (never raises while reading it).

    The message keeps the server's own explanation (``message``, field violations, localized
    message, debug detail) so a typo in a connection name reads as such, with every secret
    we know of redacted.
    """
    try:
        data = response.json() if response.content else None
    except ValueError:
        data = None
    fallback = response.reason_phrase or "error"
    if data is None and response.content:
        fallback = f"{fallback} (non-JSON error body)"
    message, grpc_code, error_code, request_id = _describe(data, fallback)
    cls = error_class_for_status(response.status_code)
    kwargs: dict[str, Any] = dict(
        status_code=response.status_code,
        grpc_code=grpc_code,
        error_code=error_code,
        request_id=request_id or response.headers.get("x-request-id"),
        method=response.request.method,
        path=response.request.url.path,
    )
    message = _redact.redact(message)
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=retry_after_seconds(response), **kwargs)
    return cls(message, **kwargs)


def transport_error(op: Operation[Any], failure: TransportFailure) -> ScalekitConnectionError:
    """The typed error for a transport failure (a timeout error for timeouts)."""
    cls = ScalekitTimeoutError if failure.timeout else ScalekitConnectionError
    return cls(f"{failure.name} on {op.method} {op.path}: {failure.detail}")


# --------------------------------------------------------------------------- answers


def _parse_success(op: Operation[T], response: httpx.Response) -> T:
    if response.status_code not in op.ok_statuses and not (200 <= response.status_code < 300):
        raise api_error(response)
    ctype = response.headers.get("content-type", "")
    if response.content and "json" not in ctype:
        raise ScalekitProtocolError(
            f"Scalekit answered {op.method} {op.path} with content-type {ctype or 'none'}, "
            "expected JSON"
        )
    return op.parse(json_body(response))


def read_answer(op: Operation[T], response: httpx.Response) -> T | ScalekitError:
    """The parsed answer to ``op``, or the (scrubbed) error to raise for it. Never raises."""
    try:
        return _parse_success(op, response)
    except ScalekitError as exc:
        return scrubbed(exc)
    except Exception as exc:  # a parser tripping on an odd answer is still an odd answer
        name = type(exc).__name__
    return ScalekitProtocolError(f"Unreadable Scalekit answer to {op.method} {op.path} ({name})")


def _token_from(response: httpx.Response) -> AccessToken:
    if response.status_code != 200:
        raise api_error(response)
    data = json_body(response)
    value = data.get("access_token") if isinstance(data, dict) else None
    if not isinstance(value, str) or not value:
        raise ScalekitProtocolError("Malformed Scalekit token response: no access_token")
    return new_access_token(value, data.get("expires_in"))


def read_token(response: httpx.Response) -> AccessToken | ScalekitError:
    """The access token from a token answer, or the (scrubbed) error to raise. Never raises."""
    try:
        return _token_from(response)
    except ScalekitError as exc:
        return scrubbed(exc)
    except Exception as exc:
        name = type(exc).__name__
    return ScalekitProtocolError(f"Unreadable Scalekit token answer ({name})")


# --------------------------------------------------------------------------- models


def _field(data: Any, key: str, what: str) -> Any:
    if not isinstance(data, dict) or key not in data:
        raise ScalekitProtocolError(f"Malformed Scalekit response for {what}: missing {key!r}")
    return data[key]


def _model(model: type[T], data: Any, what: str) -> T:
    try:
        parsed: T = model.model_validate(data)  # type: ignore[attr-defined]
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ScalekitProtocolError(
            f"Malformed Scalekit response for {what}: {exc.error_count()} invalid field(s), "
            f"first: {first['loc']} {first['msg']}"
        ) from None
    if isinstance(parsed, McpInstance) and parsed.url:
        # A capability URL: keep it (and its secret last segment) out of our logs and errors
        # while this instance is held (a cache entry, a session's parameters hold it too).
        _redact.register_secret(parsed.url, owner=parsed)
        _redact.register_secret(parsed.url.rstrip("/").rsplit("/", 1)[-1], owner=parsed)
    return parsed


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
        return Page[T](
            items=[_model(model, item, key) for item in raw],
            next_page_token=_page_token(data, "next_page_token"),
            prev_page_token=_page_token(data, "prev_page_token"),
            total_size=_as_count(data.get("total_size")),
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
    parsed = _model(SessionToken, data, "session token")
    # Held while the minted token is: the session that connects with it holds it from then on.
    _redact.register_secret(token, owner=parsed)
    return parsed
