"""What the emulator's provider tools receive: argument readers, input schemas, error types.

The readers check one argument of a tool call each (type, bounds, email addresses, RFC3339
times, IANA zones, page tokens) and raise :class:`ToolArgumentError` with a message a model
can act on; :class:`ToolExecutionError` is for valid arguments whose operation failed.
:func:`input_schema` builds the JSON Schema of a tool from ``name -> (type, description)``, and
:data:`ToolSpec` is the row each provider module declares per tool.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scalekit_langchain.testing._user_data import EMAIL_RE, JSON, UserData

__all__ = [
    "ToolArgumentError",
    "ToolExecutionError",
    "ToolSpec",
    "addresses",
    "bounded",
    "input_schema",
    "page_offset",
    "opt_bool",
    "opt_dt",
    "opt_int",
    "opt_str",
    "page_slice",
    "parse_dt",
    "req_str",
    "str_list",
    "zone_arg",
]

#: One tool as a provider module declares it: name, description, read-only, handler, schema.
ToolSpec = tuple[str, str, bool, Callable[[UserData, JSON], JSON], JSON]


class ToolArgumentError(ValueError):
    """The model sent arguments it can correct; the message names the field and the problem."""


class ToolExecutionError(Exception):
    """The arguments were valid but the operation failed, e.g. an unknown message or event id."""


def opt_str(args: JSON, name: str) -> str | None:
    """Returns an optional string argument (None when absent)."""
    value = args.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ToolArgumentError(f"`{name}` must be a string, got {type(value).__name__}")
    return value


def req_str(args: JSON, name: str) -> str:
    """Returns a required, non-blank string argument."""
    value = opt_str(args, name)
    if value is None or not value.strip():
        raise ToolArgumentError(f"`{name}` is required and must be a non-empty string")
    return value


def opt_int(args: JSON, name: str) -> int | None:
    """Returns an optional integer argument; digit strings are accepted."""
    value = args.get(name)
    if value is None:
        return None
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ToolArgumentError(f"`{name}` must be an integer, got {value!r}")
    return value


def opt_bool(args: JSON, name: str) -> bool:
    """Returns an optional boolean argument (False when absent)."""
    value = args.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ToolArgumentError(f"`{name}` must be a boolean (true or false), got {value!r}")
    return value


def str_list(args: JSON, name: str) -> list[str]:
    """Returns a list of strings, given as an array or a comma-separated string."""
    value = args.get(name)
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ToolArgumentError(f"`{name}` must be an array of strings")
    return [v.strip() for v in value if v.strip()]


def bounded(args: JSON, name: str, default: int, high: int) -> int:
    """Returns an integer argument between 1 and ``high``, ``default`` when absent."""
    value = opt_int(args, name)
    if value is None:
        return default
    if not 1 <= value <= high:
        raise ToolArgumentError(f"`{name}` must be between 1 and {high}, got {value}")
    return value


def page_offset(args: JSON) -> int:
    """Returns the offset a ``page_token`` argument stands for (0 when absent)."""
    token = opt_str(args, "page_token")
    if not token:
        return 0
    if not token.isdigit():
        raise ToolArgumentError(f"`page_token` {token!r} is not a token returned by this tool")
    return int(token)


def page_slice(items: list[JSON], offset: int, size: int) -> tuple[list[JSON], str | None]:
    """Returns one page of ``items`` and the next page's token (None at the end)."""
    end = offset + size
    return items[offset:end], (str(end) if end < len(items) else None)


def addresses(args: JSON, name: str, *, required: bool) -> str:
    """Returns a comma-separated list of email addresses, each checked."""
    raw = req_str(args, name) if required else (opt_str(args, name) or "")
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if required and not parts:
        raise ToolArgumentError(f"`{name}` must contain at least one email address")
    for part in parts:
        match = re.fullmatch(r"[^<>]*<([^<>]+)>", part)
        if not EMAIL_RE.match(match.group(1).strip() if match else part):
            raise ToolArgumentError(f"`{name}` contains {part!r}, which is not an email address")
    return ", ".join(parts)


def zone_arg(args: JSON) -> ZoneInfo | None:
    """Returns the IANA zone named by the ``timezone`` argument, or None."""
    name = opt_str(args, "timezone")
    if not name or not name.strip():
        return None
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ToolArgumentError(
            f"`timezone` {name!r} is not a known IANA time zone (e.g. 'Europe/Paris', 'UTC')"
        ) from None


def parse_dt(value: str, name: str, zone: ZoneInfo | None = None) -> datetime:
    """Parses an RFC3339/ISO-8601 timestamp; naive values are taken in ``zone`` (or UTC)."""
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    text = re.sub(r"(\.\d{1,6})\d*", r"\1", text)  # 3.10 needs at most 6 fraction digits
    text = re.sub(r"\.(\d{1,5})(?=$|[+-])", lambda m: "." + m.group(1).ljust(6, "0"), text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ToolArgumentError(
            f"`{name}` {value!r} is not an RFC3339 date-time (e.g. '2025-06-01T15:30:00Z')"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone or timezone.utc)
    return parsed


def opt_dt(args: JSON, name: str) -> datetime | None:
    """Returns an optional RFC3339 date-time argument (naive = UTC)."""
    value = opt_str(args, name)
    return parse_dt(value, name) if value and value.strip() else None


def input_schema(props: dict[str, tuple[str, str]], required: list[str]) -> JSON:
    """Builds a tool's JSON Schema; every tool also takes ``schema_version``, ``tool_version``."""
    properties: JSON = {}
    for name, (kind, description) in props.items():
        prop: JSON = {"type": kind, "description": description}
        if kind == "array":
            prop["items"] = {"type": "string"}
        properties[name] = prop
    for name, what in (("schema_version", "input schema"), ("tool_version", "implementation")):
        properties[name] = {"type": "string", "description": f"Optional {what} version to pin."}
    return {"type": "object", "properties": properties, "required": required}
