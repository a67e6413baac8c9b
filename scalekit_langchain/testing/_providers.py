"""Demo providers for the local Scalekit emulator: Gmail, Google Calendar and Slack tools.

Each tool is a :class:`ProviderTool` whose name and JSON input schema follow Scalekit's
catalogue; its handler acts on one user's in-memory :class:`UserData`. Nothing here does
I/O: the emulator's server decides how to expose the tools and maps the two exception
types to MCP tool errors.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "PROVIDER_TOOLS",
    "ProviderTool",
    "ToolArgumentError",
    "ToolExecutionError",
    "UserData",
    "call_tool",
    "render_text",
    "tools_for_provider",
]

JSON = dict[str, Any]
_EMAIL_RE = re.compile(r"^[^@\s,<>\"]+@[^@\s,<>\"]+\.[^@\s,<>\"]+$")


class ToolArgumentError(ValueError):
    """The model sent arguments it can correct; the message names the field and the problem."""


class ToolExecutionError(Exception):
    """The arguments were valid but the operation failed, e.g. an unknown message or event id."""


@dataclass(frozen=True)
class ProviderTool:
    """One emulated tool.

    Attributes:
        name: Exact Scalekit tool name, e.g. ``"gmail_fetch_mails"``.
        provider: Lowercase connector slug: ``"gmail"``, ``"googlecalendar"`` or ``"slack"``.
        description: What the tool does, written for a language model.
        input_schema: JSON Schema object describing the arguments.
        read_only: True when the tool never changes the user's data.
        handler: Runs the tool on a user's data and returns a JSON-serialisable result.
    """

    name: str
    provider: str
    description: str
    input_schema: JSON
    read_only: bool
    handler: Callable[[UserData, JSON], JSON]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _rfc3339(value: datetime) -> str:
    """Formats an aware datetime as RFC3339, using ``Z`` for UTC."""
    text = value.isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class UserData:
    """One user's accounts: inbox, sent mail, drafts, calendar events and Slack messages.

    Mutations and reads made by the tool handlers hold ``lock``, so one store can be
    shared by concurrent requests.

    Attributes:
        user_identifier: The Scalekit identifier of the user.
        email: The user's address, used as the sender of outgoing mail.
        inbox: Received messages (Gmail message dicts).
        sent: Messages sent through ``gmail_send_message``.
        drafts: Drafts as ``{"id", "message"}`` dicts.
        events: Calendar events.
        slack_messages: Messages posted through ``slack_send_message``.
        clock: Returns the current aware datetime; replace it in tests for determinism.
    """

    def __init__(
        self, user_identifier: str, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        """Creates an empty store.

        Args:
            user_identifier: The Scalekit identifier of the user.
            clock: Optional source of "now" (aware datetime); defaults to the UTC wall clock.
        """
        self.user_identifier = user_identifier
        local = re.sub(r"[^a-z0-9._-]+", ".", user_identifier.lower()).strip(".") or "user"
        self.email = user_identifier if _EMAIL_RE.match(user_identifier) else f"{local}@example.com"
        self.inbox: list[JSON] = []
        self.sent: list[JSON] = []
        self.drafts: list[JSON] = []
        self.events: list[JSON] = []
        self.slack_messages: list[JSON] = []
        self.clock: Callable[[], datetime] = clock or _utcnow
        self.lock = threading.Lock()
        self._counter = 0

    def now(self) -> datetime:
        """Returns the current time as an aware UTC datetime."""
        value = self.clock()
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value

    def new_id(self, prefix: str) -> str:
        """Returns an id unused anywhere in this store. Call while holding ``lock``.

        Args:
            prefix: Id prefix such as ``"msg"`` or ``"evt"``.
        """
        used: set[str] = set()
        for item in (*self.inbox, *self.sent, *self.drafts, *self.events):
            used.update(str(item.get(key)) for key in ("id", "thread_id"))
            if isinstance(item.get("message"), dict):
                used.update(str(item["message"].get(key)) for key in ("id", "thread_id"))
        while True:
            self._counter += 1
            candidate = f"{prefix}_{self._counter:04d}"
            if candidate not in used:
                return candidate

    @classmethod
    def seeded(cls, user_identifier: str, *, now: datetime | None = None) -> UserData:
        """Creates a store with five sample inbox mails and two calendar events.

        The newest mail (``msg_0005``) asks the user to send the Q3 budget to finance
        before the 4pm budget review, so an agent reading it has a reminder to schedule.

        Args:
            user_identifier: The Scalekit identifier of the user.
            now: Anchor for the sample dates; defaults to the current time (naive = UTC).
        """
        data = cls(user_identifier)
        anchor = now or _utcnow()
        if anchor.tzinfo is None:
            anchor = anchor.replace(tzinfo=timezone.utc)
        anchor = anchor.astimezone(timezone.utc)
        name = data.email.split("@")[0].split(".")[0].capitalize()
        samples = [
            (timedelta(days=3, hours=2), "Marco Rossi <marco.rossi@acme.example>",
             "Notes from Monday's product sync",
             f"Hi {name},\n\nAttached are the notes from Monday's sync. Main decisions: ship the "
             "onboarding revamp in sprint 14, pricing page test next month.\n\nMarco",
             ["INBOX", "CATEGORY_PERSONAL"]),
            (timedelta(days=2, hours=4), "CloudHost Billing <billing@cloudhost.example>",
             "Your CloudHost invoice is ready",
             "Your invoice INV-20931 for $248.00 is available in the billing console. "
             "Payment will be taken automatically on the 1st.",
             ["INBOX", "CATEGORY_UPDATES"]),
            (timedelta(days=1, hours=1), "Aisha Khan <aisha.khan@acme.example>",
             "Team offsite: venue options",
             f"Hey {name}, I shortlisted three venues for the October offsite. Could you vote "
             "for your favourite by Friday? The sheet is in the shared drive.\n\nAisha",
             ["INBOX", "UNREAD", "CATEGORY_PERSONAL"]),
            (timedelta(hours=5), "The Weekly Stack <newsletter@weeklystack.example>",
             "This week: faster Python startup and MCP tips",
             "In this issue: trimming import time, streaming tool results over MCP, "
             "and a reader survey.",
             ["INBOX", "UNREAD", "CATEGORY_PROMOTIONS"]),
            (timedelta(minutes=40), "Dana Whitfield <dana.whitfield@acme.example>",
             "Reminder: send the Q3 budget to finance before the 4pm review",
             f"Hi {name},\n\nQuick reminder: please send the final Q3 budget spreadsheet to "
             "finance@acme.example before the 4pm budget review today. They need it at least "
             "30 minutes ahead to prepare. Maybe put a reminder in your calendar so it doesn't "
             "slip?\n\nThanks,\nDana",
             ["INBOX", "UNREAD", "IMPORTANT", "CATEGORY_PERSONAL"]),
        ]
        for index, (age, sender, subject, body, labels) in enumerate(samples, start=1):
            data.inbox.append({
                "id": f"msg_{index:04d}", "thread_id": f"thr_{index:04d}", "from": sender,
                "to": data.email, "cc": "", "subject": subject,
                "date": _rfc3339((anchor - age).replace(microsecond=0)),
                "snippet": _snippet(body), "body": body, "label_ids": labels,
            })
        review = anchor.replace(hour=16, minute=0, second=0, microsecond=0)
        if review <= anchor + timedelta(hours=1):
            review += timedelta(days=1)
        standup = (anchor + timedelta(days=1)).replace(hour=9, minute=30, second=0, microsecond=0)
        created = _rfc3339((anchor - timedelta(days=7)).replace(microsecond=0))
        for event_id, summary, start, minutes, attendees in (
            ("evt_0001", "Q3 budget review", review, 60,
             ["dana.whitfield@acme.example", "finance@acme.example"]),
            ("evt_0002", "Team standup", standup, 15, ["marco.rossi@acme.example"]),
        ):
            data.events.append(_event_dict(
                event_id, summary=summary, description="", location="", start=start,
                end=start + timedelta(minutes=minutes), time_zone="UTC", attendees=attendees,
                calendar_id="primary", created=created,
            ))
        return data


def _snippet(body: str, limit: int = 100) -> str:
    flat = " ".join(re.sub(r"<[^>]+>", " ", body).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _event_dict(event_id: str, *, summary: str, description: str, location: str,
                start: datetime, end: datetime, time_zone: str, attendees: list[str],
                calendar_id: str, created: str) -> JSON:
    return {
        "id": event_id, "summary": summary, "description": description, "location": location,
        "start": {"dateTime": _rfc3339(start), "timeZone": time_zone},
        "end": {"dateTime": _rfc3339(end), "timeZone": time_zone},
        "attendees": [{"email": a, "responseStatus": "needsAction"} for a in attendees],
        "calendar_id": calendar_id, "status": "confirmed",
        "html_link": f"https://calendar.google.com/calendar/event?eid={event_id}",
        "created": created,
    }


# --------------------------------------------------------------------------- argument helpers


def _opt_str(args: JSON, name: str) -> str | None:
    value = args.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ToolArgumentError(f"`{name}` must be a string, got {type(value).__name__}")
    return value


def _req_str(args: JSON, name: str) -> str:
    value = _opt_str(args, name)
    if value is None or not value.strip():
        raise ToolArgumentError(f"`{name}` is required and must be a non-empty string")
    return value


def _opt_int(args: JSON, name: str) -> int | None:
    value = args.get(name)
    if value is None:
        return None
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ToolArgumentError(f"`{name}` must be an integer, got {value!r}")
    return value


def _opt_bool(args: JSON, name: str) -> bool:
    value = args.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ToolArgumentError(f"`{name}` must be a boolean (true or false), got {value!r}")
    return value


def _str_list(args: JSON, name: str) -> list[str]:
    value = args.get(name)
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ToolArgumentError(f"`{name}` must be an array of strings")
    return [v.strip() for v in value if v.strip()]


def _bounded(args: JSON, name: str, default: int, high: int) -> int:
    value = _opt_int(args, name)
    if value is None:
        return default
    if not 1 <= value <= high:
        raise ToolArgumentError(f"`{name}` must be between 1 and {high}, got {value}")
    return value


def _offset(args: JSON) -> int:
    token = _opt_str(args, "page_token")
    if not token:
        return 0
    if not token.isdigit():
        raise ToolArgumentError(f"`page_token` {token!r} is not a token returned by this tool")
    return int(token)


def _page(items: list[JSON], offset: int, size: int) -> tuple[list[JSON], str | None]:
    end = offset + size
    return items[offset:end], (str(end) if end < len(items) else None)


def _addresses(args: JSON, name: str, *, required: bool) -> str:
    raw = _req_str(args, name) if required else (_opt_str(args, name) or "")
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if required and not parts:
        raise ToolArgumentError(f"`{name}` must contain at least one email address")
    for part in parts:
        match = re.fullmatch(r"[^<>]*<([^<>]+)>", part)
        if not _EMAIL_RE.match(match.group(1).strip() if match else part):
            raise ToolArgumentError(f"`{name}` contains {part!r}, which is not an email address")
    return ", ".join(parts)


def _zone(args: JSON) -> ZoneInfo | None:
    name = _opt_str(args, "timezone")
    if not name or not name.strip():
        return None
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ToolArgumentError(
            f"`timezone` {name!r} is not a known IANA time zone (e.g. 'Europe/Paris', 'UTC')"
        ) from None


def _parse_dt(value: str, name: str, zone: ZoneInfo | None = None) -> datetime:
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


def _opt_dt(args: JSON, name: str) -> datetime | None:
    value = _opt_str(args, name)
    return _parse_dt(value, name) if value and value.strip() else None


# --------------------------------------------------------------------------- gmail


_TOKEN_RE = re.compile(r'(-?)(?:(\w+):)?("[^"]*"|\S+)')


def _matches(message: JSON, query: str) -> bool:
    """Evaluates a small subset of Gmail search syntax (all terms must match; ``-`` negates)."""
    labels = {str(label).upper() for label in message.get("label_ids", [])}
    for neg, op, raw in _TOKEN_RE.findall(query):
        word = raw.strip('"').lower()
        op = op.lower()
        if op in ("from", "to", "subject"):
            fields = ("to", "cc") if op == "to" else (op,)
            hit = any(word in str(message.get(f, "")).lower() for f in fields)
        elif op == "is":
            hit = ("UNREAD" not in labels) if word == "read" else word.upper() in labels
        elif op in ("in", "label"):
            hit = word.upper() in labels or (word == "anywhere")
        else:
            text = raw.strip('"').lower() if not op else f"{op}:{word}"
            hay = " ".join(str(message.get(k, "")) for k in ("subject", "body", "from")).lower()
            hit = text in hay
        if hit == bool(neg):
            return False
    return True


def _gmail_fetch_mails(data: UserData, args: JSON) -> JSON:
    size = _bounded(args, "max_results", 10, 500)
    offset = _offset(args)
    query = _opt_str(args, "query") or ""
    wanted = {label.upper() for label in _str_list(args, "label_ids")}
    spam_trash = _opt_bool(args, "include_spam_trash")
    lowered = query.lower()
    with data.lock:
        pool = list(data.inbox)
        if "SENT" in wanted or "in:sent" in lowered or "label:sent" in lowered:
            pool += data.sent
        pool = copy.deepcopy(pool)
    hits = [
        m for m in pool
        if (spam_trash or not {"SPAM", "TRASH"} & {str(x).upper() for x in m["label_ids"]})
        and wanted <= {str(x).upper() for x in m["label_ids"]}
        and _matches(m, query)
    ]
    hits.sort(key=lambda m: _parse_dt(str(m["date"]), "date"), reverse=True)
    page, token = _page(hits, offset, size)
    return {"messages": page, "result_size_estimate": len(hits),
            "next_page_token": token}


def _gmail_get_message_by_id(data: UserData, args: JSON) -> JSON:
    message_id = _req_str(args, "message_id").strip()
    with data.lock:
        pool = [*data.inbox, *data.sent, *(d["message"] for d in data.drafts)]
        found = next((copy.deepcopy(m) for m in pool if m.get("id") == message_id), None)
    if found is None:
        raise ToolExecutionError(f"No Gmail message with id {message_id!r} was found")
    return {"message": found}


def _compose(data: UserData, args: JSON, label: str) -> JSON:
    """Validates the send/draft arguments and builds a message dict. Holds no lock."""
    to = _addresses(args, "to", required=True)
    subject = _req_str(args, "subject")
    body = _req_str(args, "body")
    cc = _addresses(args, "cc", required=False)
    bcc = _addresses(args, "bcc", required=False)
    content_type = (_opt_str(args, "content_type") or "text/plain").strip().lower()
    if content_type not in ("text/plain", "text/html"):
        raise ToolArgumentError(
            f"`content_type` must be 'text/plain' or 'text/html', got {content_type!r}"
        )
    return {"from": data.email, "to": to, "cc": cc, "bcc": bcc, "subject": subject,
            "date": _rfc3339(data.now().astimezone(timezone.utc).replace(microsecond=0)),
            "snippet": _snippet(body), "body": body, "content_type": content_type,
            "label_ids": [label], "thread_id": (_opt_str(args, "thread_id") or "").strip()}


def _assign_ids(data: UserData, message: JSON) -> None:
    """Gives ``message`` an id and a thread id. Call while holding ``data.lock``."""
    known = {m.get("thread_id") for m in (*data.inbox, *data.sent)}
    if message["thread_id"] and message["thread_id"] not in known:
        raise ToolExecutionError(f"No Gmail thread with id {message['thread_id']!r} was found")
    message["id"] = data.new_id("msg")
    message["thread_id"] = message["thread_id"] or data.new_id("thr")


def _gmail_send_message(data: UserData, args: JSON) -> JSON:
    message = _compose(data, args, "SENT")
    with data.lock:
        _assign_ids(data, message)
        data.sent.append(message)
    return {"id": message["id"], "thread_id": message["thread_id"], "label_ids": ["SENT"]}


def _gmail_create_draft(data: UserData, args: JSON) -> JSON:
    message = _compose(data, args, "DRAFT")
    with data.lock:
        _assign_ids(data, message)
        draft = {"id": data.new_id("draft"), "message": message}
        data.drafts.append(draft)
        return copy.deepcopy(draft)


# --------------------------------------------------------------------------- calendar


def _event_start(event: JSON) -> datetime:
    return _parse_dt(str(event["start"]["dateTime"]), "start")


def _googlecalendar_list_events(data: UserData, args: JSON) -> JSON:
    calendar_id = (_opt_str(args, "calendar_id") or "primary").strip() or "primary"
    size = _bounded(args, "max_results", 25, 2500)
    offset = _offset(args)
    time_min, time_max = _opt_dt(args, "time_min"), _opt_dt(args, "time_max")
    if time_min and time_max and time_max <= time_min:
        raise ToolArgumentError("`time_max` must be later than `time_min`")
    order_by = (_opt_str(args, "order_by") or "startTime").strip()
    query = (_opt_str(args, "query") or "").strip().lower()
    with data.lock:
        events = copy.deepcopy([e for e in data.events if e.get("calendar_id") == calendar_id])
    hits: list[JSON] = []
    for event in events:
        start, end = _event_start(event), _parse_dt(str(event["end"]["dateTime"]), "end")
        if (time_min and end <= time_min) or (time_max and start >= time_max):
            continue
        hay = " ".join([str(event.get(k, "")) for k in ("summary", "description", "location")]
                       + [str(a.get("email", "")) for a in event.get("attendees", [])]).lower()
        if query and query not in hay:
            continue
        hits.append(event)
    if order_by == "updated":
        hits.sort(key=lambda e: str(e.get("created", "")))
    else:
        hits.sort(key=_event_start)
    page, token = _page(hits, offset, size)
    return {"events": page, "next_page_token": token}


def _googlecalendar_create_event(data: UserData, args: JSON) -> JSON:
    summary = _req_str(args, "summary").strip()
    zone = _zone(args)
    start = _parse_dt(_req_str(args, "start_datetime"), "start_datetime", zone)
    hours, minutes = _opt_int(args, "event_duration_hour"), _opt_int(args, "event_duration_minutes")
    for name, amount in (("event_duration_hour", hours), ("event_duration_minutes", minutes)):
        if amount is not None and amount < 0:
            raise ToolArgumentError(f"`{name}` must not be negative, got {amount}")
    total = 30 if hours is None and minutes is None else (hours or 0) * 60 + (minutes or 0)
    if total <= 0:
        raise ToolArgumentError(
            "the event duration (`event_duration_hour` + `event_duration_minutes`) must be positive"
        )
    attendees = _str_list(args, "attendees_emails")
    for email in attendees:
        if not _EMAIL_RE.match(email):
            raise ToolArgumentError(
                f"`attendees_emails` contains {email!r}, which is not an email address"
            )
    recurrence = _str_list(args, "recurrence")
    calendar_id = (_opt_str(args, "calendar_id") or "primary").strip() or "primary"
    meet = _opt_bool(args, "create_meeting_room")
    start = start.astimezone(zone or timezone.utc)
    with data.lock:
        event_id = data.new_id("evt")
        event = _event_dict(
            event_id, summary=summary, description=_opt_str(args, "description") or "",
            location=_opt_str(args, "location") or "", start=start,
            end=start + timedelta(minutes=total), time_zone=zone.key if zone else "UTC",
            attendees=attendees, calendar_id=calendar_id,
            created=_rfc3339(data.now().astimezone(timezone.utc).replace(microsecond=0)),
        )
        if recurrence:
            event["recurrence"] = recurrence
        if meet:
            event["hangout_link"] = f"https://meet.google.com/emu-{event_id.replace('_', '-')}"
        data.events.append(event)
        return {"event": copy.deepcopy(event)}


def _find_event(data: UserData, args: JSON) -> tuple[int, JSON]:
    """Finds an event by ``event_id`` (and ``calendar_id`` if given). Hold ``data.lock``."""
    event_id = _req_str(args, "event_id").strip()
    calendar_id = (_opt_str(args, "calendar_id") or "").strip()
    for index, event in enumerate(data.events):
        if event.get("id") == event_id and calendar_id in ("", event.get("calendar_id")):
            return index, event
    where = f" in calendar {calendar_id!r}" if calendar_id else ""
    raise ToolExecutionError(f"No calendar event with id {event_id!r} was found{where}")


def _googlecalendar_get_event_by_id(data: UserData, args: JSON) -> JSON:
    with data.lock:
        return {"event": copy.deepcopy(_find_event(data, args)[1])}


def _googlecalendar_delete_event(data: UserData, args: JSON) -> JSON:
    with data.lock:
        index, event = _find_event(data, args)
        del data.events[index]
    return {"deleted": True, "event_id": event["id"]}


# --------------------------------------------------------------------------- slack


def _slack_send_message(data: UserData, args: JSON) -> JSON:
    channel = _req_str(args, "channel").strip()
    text = _req_str(args, "text")
    for name in ("blocks", "attachments"):
        raw = _opt_str(args, name)
        if raw and raw.strip():
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            if not isinstance(parsed, list):
                raise ToolArgumentError(f"`{name}` must be a JSON-encoded array")
    thread_ts = (_opt_str(args, "thread_ts") or "").strip()
    with data.lock:
        data._counter += 1
        ts = f"{int(data.now().timestamp())}.{data._counter % 1_000_000:06d}"
        message: JSON = {"type": "message", "channel": channel, "text": text,
                         "user": data.user_identifier, "ts": ts}
        if thread_ts:
            message["thread_ts"] = thread_ts
        data.slack_messages.append(message)
    return {"ok": True, "channel": channel, "ts": ts, "message": copy.deepcopy(message)}


# --------------------------------------------------------------------------- registry


def _schema(props: dict[str, tuple[str, str]], required: list[str]) -> JSON:
    properties: JSON = {}
    for name, (kind, description) in props.items():
        prop: JSON = {"type": kind, "description": description}
        if kind == "array":
            prop["items"] = {"type": "string"}
        properties[name] = prop
    for name, what in (("schema_version", "input schema"), ("tool_version", "implementation")):
        properties[name] = {"type": "string", "description": f"Optional {what} version to pin."}
    return {"type": "object", "properties": properties, "required": required}


_S, _B, _I, _A = "string", "boolean", "integer", "array"
_FMT = (_S, "Level of detail wanted; the emulator always returns the full message.")
_MAIL_PROPS: dict[str, tuple[str, str]] = {
    "body": (_S, "Text of the email, plain or HTML according to content_type."),
    "subject": (_S, "Subject line."),
    "to": (_S, "Recipient address, or several separated by commas."),
    "bcc": (_S, "Optional blind-copy addresses, separated by commas."),
    "cc": (_S, "Optional copy addresses, separated by commas."),
    "content_type": (_S, "'text/plain' (the default) or 'text/html'."),
    "thread_id": (_S, "Optional id of an existing conversation to add this email to."),
}
_WINDOW = {
    "time_max": (_S, "Only events starting before this RFC3339 instant."),
    "time_min": (_S, "Only events ending after this RFC3339 instant."),
}

_SPECS: list[tuple[str, str, bool, Callable[[UserData, JSON], JSON], JSON]] = [
    ("gmail_fetch_mails",
     "Search and list emails in the user's Gmail mailbox, newest first. Supports Gmail-style "
     "queries such as 'is:unread from:alice@example.com'.", True, _gmail_fetch_mails,
     _schema({
         "format": _FMT,
         "include_spam_trash": (_B, "Also search the spam and trash folders."),
         "label_ids": (_A, "Return only messages carrying all of these label ids, e.g. INBOX."),
         "max_results": (_I, "Largest number of emails to return (1-500, default 10)."),
         "page_token": (_S, "Continuation token from a previous call's next_page_token."),
         "query": (_S, "Gmail search expression, e.g. 'is:unread subject:invoice'."),
     }, [])),
    ("gmail_send_message",
     "Send an email right away from the user's Gmail account, with optional CC, BCC, HTML "
     "content and reply threading.", False, _gmail_send_message,
     _schema(_MAIL_PROPS, ["body", "subject", "to"])),
    ("gmail_get_message_by_id",
     "Read one Gmail message, including its body, given its message id.", True,
     _gmail_get_message_by_id,
     _schema({"message_id": (_S, "Id of the message to read."), "format": _FMT}, ["message_id"])),
    ("gmail_create_draft",
     "Save an email as a Gmail draft without sending it, with optional CC, BCC, HTML content "
     "and threading.", False, _gmail_create_draft,
     _schema(_MAIL_PROPS, ["body", "subject", "to"])),
    ("googlecalendar_list_events",
     "List the user's Google Calendar events in start order, optionally limited to a time "
     "window or matching some text.", True, _googlecalendar_list_events,
     _schema({
         "calendar_id": (_S, "Calendar to read; 'primary' when omitted."),
         "max_results": (_I, "Largest number of events to return (1-2500, default 25)."),
         "order_by": (_S, "'startTime' (default) or 'updated'."),
         "page_token": (_S, "Continuation token from a previous call's next_page_token."),
         "query": (_S, "Text to look for in title, description, location or attendees."),
         "single_events": (_B, "Show recurring events as individual occurrences."),
         **_WINDOW,
     }, [])),
    ("googlecalendar_create_event",
     "Add an event (a meeting or a reminder) to the user's Google Calendar. The start is an "
     "RFC3339 time; the length defaults to 30 minutes.", False, _googlecalendar_create_event,
     _schema({
         "start_datetime": (_S, "When the event begins, RFC3339, e.g. '2025-06-01T15:30:00Z'. "
                                "Without an offset it is read in `timezone` (UTC by default)."),
         "summary": (_S, "Title of the event."),
         "attendees_emails": (_A, "Email addresses of people to invite."),
         "calendar_id": (_S, "Calendar to add the event to; 'primary' when omitted."),
         "create_meeting_room": (_B, "Attach a Google Meet video link."),
         "description": (_S, "Longer notes shown in the event."),
         "event_duration_hour": (_I, "Whole hours of the event's length."),
         "event_duration_minutes": (_I, "Extra minutes of the event's length."),
         "event_type": (_S, "Kind of event, for display."),
         "guests_can_invite_others": (_B, "Let invitees invite more people."),
         "guests_can_modify": (_B, "Let invitees edit the event."),
         "guests_can_see_other_guests": (_B, "Let invitees see the guest list."),
         "location": (_S, "Where the event happens."),
         "recurrence": (_A, "Repeat rules as iCalendar RRULE lines."),
         "send_updates": (_B, "Email the invitees about the new event."),
         "timezone": (_S, "IANA zone name such as 'Europe/Paris' for the event's times."),
         "transparency": (_S, "Whether the event blocks time: 'opaque' (busy) or 'transparent'."),
         "visibility": (_S, "Who can see the details: default, public or private."),
     }, ["start_datetime", "summary"])),
    ("googlecalendar_get_event_by_id",
     "Read one Google Calendar event given its event id.", True, _googlecalendar_get_event_by_id,
     _schema({
         "event_id": (_S, "Id of the event to read."),
         "calendar_id": (_S, "Calendar holding the event; any calendar when omitted."),
         "event_types": (_A, "Google event types to accept."),
         "query": (_S, "Text filter (accepted for compatibility)."),
         "show_deleted": (_B, "Also consider cancelled events."),
         "single_events": (_B, "Treat recurring events as individual occurrences."),
         **_WINDOW,
         "updated_min": (_S, "Only events changed after this RFC3339 instant."),
     }, ["event_id"])),
    ("googlecalendar_delete_event",
     "Remove an event from the user's Google Calendar given its event id.", False,
     _googlecalendar_delete_event,
     _schema({
         "event_id": (_S, "Id of the event to remove."),
         "calendar_id": (_S, "Calendar holding the event; any calendar when omitted."),
     }, ["event_id"])),
    ("slack_send_message",
     "Post a message as the user to a Slack channel, a thread or a direct message.", False,
     _slack_send_message,
     _schema({
         "channel": (_S, "Where to post: a channel id, '#channel-name' or a user id for a DM."),
         "text": (_S, "The message to post."),
         "attachments": (_S, "Optional legacy attachments, as a JSON-encoded array."),
         "blocks": (_S, "Optional Block Kit layout, as a JSON-encoded array."),
         "reply_broadcast": (_B, "When replying in a thread, also show the reply in the channel."),
         "thread_ts": (_S, "Timestamp of the parent message, to reply inside its thread."),
         "unfurl_links": (_B, "Show previews of linked pages."),
         "unfurl_media": (_B, "Show previews of linked media."),
     }, ["channel", "text"])),
]

PROVIDER_TOOLS: dict[str, ProviderTool] = {
    name: ProviderTool(name=name, provider=name.split("_", 1)[0], description=description,
                       input_schema=schema, read_only=read_only, handler=handler)
    for name, description, read_only, handler, schema in _SPECS
}


def tools_for_provider(provider: str) -> list[ProviderTool]:
    """Returns the tools of one connector.

    Args:
        provider: Connector slug such as ``"gmail"``; case-insensitive.

    Returns:
        The provider's tools in catalogue order; an empty list for an unknown provider.
    """
    slug = provider.strip().lower()
    return [tool for tool in PROVIDER_TOOLS.values() if tool.provider == slug]


def call_tool(tool_name: str, data: UserData, arguments: dict[str, Any]) -> dict[str, Any]:
    """Runs a tool on one user's data.

    Args:
        tool_name: Exact tool name, e.g. ``"gmail_fetch_mails"``.
        data: The user's store.
        arguments: The tool arguments (``None`` is treated as no arguments).

    Returns:
        The tool's structured, JSON-serialisable result.

    Raises:
        KeyError: The tool does not exist.
        ToolArgumentError: An argument is missing or invalid.
        ToolExecutionError: The tool ran but could not complete.
    """
    tool = PROVIDER_TOOLS.get(tool_name)
    if tool is None:
        raise KeyError(f"unknown tool: {tool_name!r}")
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise ToolArgumentError("tool arguments must be a JSON object")
    return tool.handler(data, arguments)


# --------------------------------------------------------------------------- text rendering


def _mail_line(m: JSON) -> str:
    line = f"- id {m.get('id')} | {m.get('date')} | from {m.get('from')} | {m.get('subject')}"
    return line + (f"\n  {m['snippet']}" if m.get("snippet") else "")


def _event_line(e: JSON) -> str:
    return (f"- {e.get('summary', '')}: {e['start']['dateTime']} to {e['end']['dateTime']}"
            f" (id {e.get('id')})")


def render_text(tool_name: str, result: dict[str, Any]) -> str:
    """Renders a tool result as short text for a person or a model.

    Args:
        tool_name: The tool that produced ``result``.
        result: The structured result returned by :func:`call_tool`.

    Returns:
        A few lines of text; JSON for tools this module does not know.
    """
    if tool_name == "gmail_fetch_mails":
        mails = result.get("messages", [])
        if not mails:
            return "No messages found."
        lines = [f"{len(mails)} message(s), newest first:", *map(_mail_line, mails)]
        if result.get("next_page_token"):
            lines.append(f"More results: page_token={result['next_page_token']}")
        return "\n".join(lines)
    if tool_name == "gmail_get_message_by_id":
        m = result["message"]
        keys = ("from", "to", "cc", "subject", "date")
        head = [f"{k.capitalize()}: {m[k]}" for k in keys if m.get(k)]
        return "\n".join([f"Message {m.get('id')} (thread {m.get('thread_id')})", *head, "",
                          str(m.get("body", m.get("snippet", "")))])
    if tool_name == "gmail_send_message":
        return f"Email sent (id {result['id']}, thread {result['thread_id']})."
    if tool_name == "gmail_create_draft":
        m = result["message"]
        return f"Draft saved (id {result['id']}): '{m['subject']}' to {m['to']}."
    if tool_name == "googlecalendar_list_events":
        events = result.get("events", [])
        return "\n".join([f"{len(events)} event(s):", *map(_event_line, events)]) if events else (
            "No events found.")
    if tool_name in ("googlecalendar_create_event", "googlecalendar_get_event_by_id"):
        e = result["event"]
        prefix = "Event created" if tool_name == "googlecalendar_create_event" else "Event"
        text = (f"{prefix}: {e['summary']} from {e['start']['dateTime']} to "
                f"{e['end']['dateTime']} (id {e['id']})")
        return text + (f"\n{e['description']}" if e.get("description") else "")
    if tool_name == "googlecalendar_delete_event":
        return f"Event {result['event_id']} deleted."
    if tool_name == "slack_send_message":
        return f"Message posted to {result['channel']} (ts {result['ts']})."
    return json.dumps(result, sort_keys=True, default=str)
