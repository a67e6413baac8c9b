"""What the observations mean: the refusal shape, whether the toolkit handles it, status case.

Pure functions over the (already redacted) observation dicts of
:mod:`~scalekit_langchain.doctor._probe`; no I/O. :func:`refusal_mode` and :func:`status_case`
answer with values of the emulator's settings of those names, which
:mod:`~scalekit_langchain.doctor._report` puts in the report.
"""

from __future__ import annotations

from typing import Any

from scalekit_langchain._connection_auth import looks_like_refusal
from scalekit_langchain._mcp_content import ToolResult

__all__ = [
    "describe_refusal",
    "refusal_mode",
    "status_case",
    "toolkit_handles",
]


def _result_of(call: dict[str, Any] | None) -> dict[str, Any] | None:
    message = (call or {}).get("message")
    result = message.get("result") if isinstance(message, dict) else None
    return result if isinstance(result, dict) else None


def _error_of(call: dict[str, Any] | None) -> dict[str, Any] | None:
    message = (call or {}).get("message")
    error = message.get("error") if isinstance(message, dict) else None
    return error if isinstance(error, dict) else None


def _text_of(result: dict[str, Any]) -> str:
    blocks = result.get("content")
    if not isinstance(blocks, list):
        return ""
    return "\n".join(
        str(b.get("text", "")) for b in blocks if isinstance(b, dict) and b.get("type") == "text"
    )


def _as_tool_result(result: dict[str, Any]) -> ToolResult:
    meta = result.get("_meta")
    return ToolResult(
        is_error=bool(result.get("isError")),
        meta=dict(meta) if isinstance(meta, dict) else {},
        structured_content=result.get("structuredContent"),
        text=_text_of(result),
        raw=result,
    )


def refusal_mode(listed: bool | None, call: dict[str, Any] | None) -> str | None:
    """Name the emulator refusal mode that matches an observed refusal, or None.

    Args:
        listed: Whether ``tools/list`` showed the tool (None: not known).
        call: The raw exchange of the ``tools/call`` (see :func:`~._raw_jsonrpc.exchange`).

    Returns:
        One of the emulator's ``REFUSAL_MODES``, or None when the shape is none of them.
    """
    if listed is False:
        return "hidden"
    if call is None:
        return None
    status = call.get("http_status")
    if status == 401:
        return "http_401"
    if status == 403:
        return "http_403"
    if status != 200:
        return None
    error = _error_of(call)
    if error is not None:
        # MCP 2025-11-25's "URL elicitation required" is a refusal shape of its own.
        return "url_elicitation" if error.get("code") == -32042 else "jsonrpc_error"
    result = _result_of(call)
    if result is None:
        return None
    if result.get("isError"):
        meta = result.get("_meta")
        return "marker" if isinstance(meta, dict) and meta else "is_error_text"
    return "connect_prompt" if looks_like_refusal(_as_tool_result(result)) else None


def toolkit_handles(listed: bool | None, call: dict[str, Any] | None) -> bool | None:
    """Whether the toolkit treats the observed answer as refusal-like (then asks the auth state).

    True for a hidden tool, HTTP 401/403, a JSON-RPC error, an ``isError`` result, or a short
    answer asking to connect; None when nothing was observed.
    """
    if listed is False:
        return True
    if call is None:
        return None
    status = call.get("http_status")
    if status in (401, 403):
        return True
    if status != 200:
        return False
    if _error_of(call) is not None:
        return True
    result = _result_of(call)
    return result is not None and looks_like_refusal(_as_tool_result(result))


def describe_refusal(listed: bool | None, call: dict[str, Any] | None) -> str:
    """Return a one-line description of an observed refusal."""
    listing = {True: "listed", False: "not in tools/list", None: "listing unknown"}[listed]
    if call is None:
        return f"tool {listing}; the call was not probed"
    status = call.get("http_status")
    framing = call.get("framing")
    error = _error_of(call)
    result = _result_of(call)
    if error is not None:
        shape = f"JSON-RPC error {error.get('code')} ({str(error.get('message', ''))[:80]!r})"
    elif result is not None:
        meta = result.get("_meta")
        keys = ", ".join(sorted(meta)) if isinstance(meta, dict) and meta else "none"
        shape = (
            f"result isError={bool(result.get('isError'))}, _meta keys: {keys},"
            f" text {_text_of(result)[:80]!r}"
        )
    else:
        shape = f"no JSON-RPC message ({str(call.get('body_preview', ''))[:80]!r})"
    return f"tool {listing}; tools/call -> HTTP {status} {framing}: {shape}"


def status_case(statuses: list[str]) -> str | None:
    """Return ``upper``, ``lower`` or ``mixed`` for the status strings as sent (None if none)."""
    seen = [s for s in statuses if s and s.upper() != s.lower()]
    if not seen:
        return None
    if all(s == s.upper() for s in seen):
        return "upper"
    if all(s == s.lower() for s in seen):
        return "lower"
    return "mixed"
