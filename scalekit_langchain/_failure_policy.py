"""How a failed MCP request ends: the session's rules, stack-neutral and free of I/O.

Decisions are made from what the wire did (:class:`~scalekit_langchain._mcp_transport.Exchange`: the
HTTP status, a JSON-RPC error body, a cut answer) before the SDK's own exception, because the two
SDK majors report the same answer differently (1.x raises on an error status and ends the session,
2.x turns it into a generic JSON-RPC error). Every error built here is a
:class:`~scalekit_langchain.errors.ScalekitError` whose text never holds a URL or a token.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass

from scalekit_langchain import _mcp_stack, _redact
from scalekit_langchain._mcp_content import ToolResult
from scalekit_langchain._mcp_stack import http
from scalekit_langchain._mcp_transport import Exchange
from scalekit_langchain.errors import (
    RateLimitError,
    ScalekitConnectionError,
    ScalekitError,
    ScalekitProtocolError,
    ScalekitTimeoutError,
    ToolCallOutcomeUnknown,
    ToolCallRejected,
    error_class_for_status,
)

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found,unused-ignore]

__all__ = [
    "REFUSED",
    "CallBroken",
    "SessionDied",
    "Verdict",
    "describe",
    "judge_call",
    "judge_list",
    "open_error",
]

#: HTTP statuses that refuse the credentials.
REFUSED = frozenset({401, 403})
#: Longest wait honoured from a 429's ``Retry-After`` before the one re-send.
MAX_RETRY_AFTER = 5.0


@dataclass
class Verdict:
    """How a tool call ends: a result, or an error and what may be tried first."""

    result: ToolResult | None = None
    error: ScalekitError | None = None
    drop: bool = False  # close the session (it is dead or unreliable)
    resend: bool = False  # the call provably did not run: may be sent once more
    renew: bool = False  # fresh credentials may cure it (token mode)
    wait: float = 0.0


def _never_sent(name: str, label: str) -> Verdict:
    return Verdict(
        error=ScalekitConnectionError(
            f"Could not reach MCP server {label!r}; {name!r} did not run"
        ),
        drop=True,
        resend=True,
    )


def open_error(label: str, init: Exchange | None, failure: BaseException | None) -> ScalekitError:
    """The error for a session that did not open.

    Args:
        label: The session's non-secret name.
        init: What the wire did for ``initialize``, if it was sent.
        failure: What ended the session's context (read, never chained).
    """
    status = init.status if init is not None else None
    if status is None:
        status = _http_status(failure)
    detail = describe(failure)
    if status is not None and status >= 400:
        cls = error_class_for_status(status)
        message = f"MCP server {label!r} refused the connection: HTTP {status}"
        if cls is RateLimitError:
            retry = init.retry_after if init is not None else None
            return RateLimitError(message, status_code=status, retry_after=retry)
        return cls(message, status_code=status)
    if _is_timeout(failure):
        return ScalekitTimeoutError(f"Timed out opening the MCP session {label!r}: {detail}")
    return ScalekitConnectionError(f"Could not open the MCP session {label!r}: {detail}")


def judge_list(
    exc: Exception,
    *,
    label: str,
    exchange: Exchange | None,
    renewable: bool,
    ended: ScalekitError,
) -> tuple[ScalekitError, bool]:
    """What a failed ``tools/list`` means: the error, and whether one retry on a fresh session
    may cure it (listing is a read: safe to repeat).

    Args:
        exc: What the SDK (or our race) raised.
        label: The session's non-secret name.
        exchange: What the wire did for the request.
        renewable: The credentials are minted on demand (a refusal may be cured).
        ended: The error describing why the session ended, if it did.
    """
    status = exchange.status if exchange is not None else None
    if status is not None and status >= 400:
        cls = error_class_for_status(status)
        renew = status in REFUSED and renewable
        return cls(f"MCP server {label!r} refused tools/list: HTTP {status}", status_code=status), (
            status in (404, 429) or renew
        )
    if isinstance(exc, SessionDied):
        return ended, True
    if isinstance(exc, ScalekitError):
        return exc, False
    rpc = _mcp_stack.mcp_error(exc)
    if rpc is not None and status == 200 and exchange is not None and exchange.rpc_error:
        # The server's own JSON-RPC error, whatever its code (-32001 is also the SDK's timeout).
        code, message = exchange.rpc_error
        return ScalekitProtocolError(
            f"MCP server {label!r} answered tools/list with JSON-RPC error {code}: "
            f"{_redact.redact(message)}"
        ), False
    if rpc is not None:
        code, message = rpc
        if code in _mcp_stack.REQUEST_TIMEOUT_CODES:
            return ScalekitTimeoutError(
                f"MCP server {label!r} did not list its tools in time"
            ), False
        if code == _mcp_stack.CONNECTION_CLOSED:
            return ScalekitConnectionError(
                f"MCP session {label!r} closed while listing tools"
            ), True
        return ScalekitProtocolError(
            f"MCP server {label!r} answered tools/list with JSON-RPC error {code}: "
            f"{_redact.redact(message)}"
        ), False
    return ScalekitProtocolError(
        f"Could not read MCP server {label!r}'s tools: {describe(exc)}"
    ), False


def judge_call(
    name: str,
    exc: Exception,
    *,
    label: str,
    exchange: Exchange,
    call_timeout: float,
    failure: BaseException | None,
) -> Verdict:
    """What a failed ``tools/call`` means, from what the wire did (the same on both stacks).

    Args:
        name: The tool.
        exc: What the SDK (or our race) raised.
        label: The session's non-secret name.
        exchange: What the wire did for this call.
        call_timeout: The call's timeout, for the message.
        failure: What ended the session's context, if it ended (read, never chained).
    """
    status = exchange.status
    broken = exchange.broken_reason
    if broken is not None:
        return Verdict(error=ToolCallOutcomeUnknown(name, broken), drop=True)
    if status in REFUSED:
        assert status is not None
        detail = exchange.rpc_error[1] if exchange.rpc_error else None
        return Verdict(
            error=ToolCallRejected(name, status_code=status, detail=_clean(detail)), renew=True
        )
    if status == 404:  # the server no longer knows the session: it did not run the call
        return Verdict(
            error=ScalekitConnectionError(
                f"MCP server {label!r} dropped two sessions in a row; {name!r} did not run"
            ),
            drop=True,
            resend=True,
        )
    if status == 429:
        wait = min(exchange.retry_after or 0.0, MAX_RETRY_AFTER)
        return Verdict(
            error=RateLimitError(
                f"MCP server {label!r} rate-limited {name!r} twice; it did not run",
                status_code=429,
                retry_after=exchange.retry_after,
            ),
            resend=True,
            wait=wait,
        )
    if status is not None and 400 <= status < 500:
        code, detail = exchange.rpc_error or (None, None)
        return Verdict(
            error=ToolCallRejected(
                name, status_code=status, code=code, detail=_clean(detail), data=exchange.rpc_data
            )
        )
    if status is not None and status >= 500:
        return Verdict(error=ToolCallOutcomeUnknown(name, f"HTTP {status}"), drop=True)
    rpc = _mcp_stack.mcp_error(exc)
    if rpc is not None and status == 200 and exchange.rpc_error is not None:
        # The server itself answered with a JSON-RPC error (whatever its code: -32001 is also
        # what the SDK reports for its own timeout): it refused the call.
        code, message = exchange.rpc_error
        return Verdict(
            error=ToolCallRejected(name, code=code, detail=_clean(message), data=exchange.rpc_data)
        )
    if rpc is not None:
        code, message = rpc
        if code in _mcp_stack.REQUEST_TIMEOUT_CODES:
            # The call may still be running server-side.
            return Verdict(
                error=ToolCallOutcomeUnknown(name, f"no result within {call_timeout:g}s"),
                drop=True,
            )
        if code == _mcp_stack.CONNECTION_CLOSED or status is None:
            if not exchange.sent:
                return _never_sent(name, label)
            return Verdict(error=ToolCallOutcomeUnknown(name, "connection closed"), drop=True)
        # The server's own JSON-RPC error answer: it refused the call.
        return Verdict(error=ToolCallRejected(name, code=code, detail=_clean(message)))
    if isinstance(exc, (SessionDied, http.TransportError)) or _is_closed_stream(exc):
        if not exchange.sent:
            return _never_sent(name, label)
        return Verdict(error=ToolCallOutcomeUnknown(name, describe(failure)), drop=True)
    if isinstance(exc, ScalekitError):
        return Verdict(error=exc)
    # A result arrived that the SDK could not accept (e.g. it breaks the tool's output schema).
    return Verdict(error=ToolCallOutcomeUnknown(name, f"unreadable result: {describe(exc)}"))


class SessionDied(Exception):
    """The session's context ended while a request was in flight."""


class CallBroken(Exception):
    """The connection carrying a tool call's result broke."""


def _clean(text: str | None) -> str | None:
    return _redact.redact(text) if text else None


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        out: list[BaseException] = []
        for inner in exc.exceptions:
            out.extend(_leaves(inner))
        return out
    return [exc]


def _http_status(exc: BaseException | None) -> int | None:
    if exc is None:
        return None
    for leaf in _leaves(exc):
        response = getattr(leaf, "response", None)
        status = getattr(response, "status_code", None)
        if isinstance(leaf, http.HTTPStatusError) and isinstance(status, int):
            return status
    return None


def _is_timeout(exc: BaseException | None) -> bool:
    return exc is not None and any(
        isinstance(leaf, (http.TimeoutException, TimeoutError)) for leaf in _leaves(exc)
    )


def _is_closed_stream(exc: BaseException) -> bool:
    # anyio's ClosedResourceError / BrokenResourceError / EndOfStream: the session was closed
    # under the call. Matched by module so this module needs no anyio import of its own.
    return any(type(leaf).__module__.startswith("anyio") for leaf in _leaves(exc))


def describe(exc: BaseException | None) -> str:
    """A short, redacted description of an exception (type names, no URLs or tokens)."""
    if exc is None:
        return "no detail"
    leaves = [e for e in _leaves(exc) if not isinstance(e, asyncio.CancelledError)] or [exc]
    parts = []
    for leaf in leaves[:3]:
        if isinstance(leaf, http.HTTPStatusError):
            parts.append(f"HTTP {leaf.response.status_code}")
            continue
        text = str(leaf)
        if "://" in text:  # a URL we may not know as a secret: keep the type only
            text = ""
        parts.append(f"{type(leaf).__name__}: {text}" if text else type(leaf).__name__)
    return _redact.redact("; ".join(parts))
