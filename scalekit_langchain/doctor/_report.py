"""From observations to a report: refusal shape, emulator settings and the human summary.

Pure functions over the (already redacted) observation dicts of
:mod:`~scalekit_langchain.doctor._probe`; no I/O. The report's top-level setting keys are the
emulator's profile keys (:data:`~scalekit_langchain.testing._profile.PROFILE_KEYS`), so a report
is an emulator profile as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scalekit_langchain._mcp_compat import ToolResult
from scalekit_langchain.auth import looks_like_refusal

__all__ = [
    "REPORT_FORMAT",
    "SETTING_KEYS",
    "DoctorReport",
    "describe_refusal",
    "refusal_mode",
    "status_case",
    "toolkit_handles",
]

REPORT_FORMAT = "scalekit-langchain-doctor/1"
#: Top-level keys of a report that are emulator settings (one to one).
SETTING_KEYS = (
    "refusal_mode",
    "answer_mode",
    "status_case",
    "lists_unauthorized_tools",
    "protocol_version",
)


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


@dataclass(frozen=True)
class DoctorReport:
    """A finished doctor run, already redacted.

    Attributes:
        data: The JSON object: the setting keys (:data:`SETTING_KEYS`, an emulator profile),
            ``toolkit_handles_refusal``, ``summary`` and the raw ``observations``.
    """

    data: dict[str, Any]

    @property
    def settings(self) -> dict[str, Any]:
        """The emulator settings the report names (``None`` where nothing was observed)."""
        return {key: self.data.get(key) for key in SETTING_KEYS}

    @property
    def summary(self) -> list[str]:
        """The human summary, one line per item."""
        return list(self.data.get("summary", []))

    @property
    def toolkit_handles_refusal(self) -> bool | None:
        """Whether the toolkit treats the observed refusal as refusal-like."""
        value = self.data.get("toolkit_handles_refusal")
        return value if isinstance(value, bool) else None

    def to_json(self) -> str:
        """Return the report as indented JSON."""
        return json.dumps(self.data, indent=2, sort_keys=False) + "\n"

    def write(self, path: str | Path) -> Path:
        """Write the report as JSON to ``path`` and return the path."""
        target = Path(path)
        target.write_text(self.to_json(), encoding="utf-8")
        return target
