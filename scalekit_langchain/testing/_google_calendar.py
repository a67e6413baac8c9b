"""The emulator's Google Calendar tools: list, create, read and delete a user's events.

Each handler validates its arguments with the readers of
:mod:`~scalekit_langchain.testing._tool_inputs` and acts on the events of a user's
:class:`UserData` under the store's lock (time windows, text search, paging, time zones,
durations, Meet links); :data:`TOOL_SPECS` declares the four tools (Scalekit's names,
descriptions and input schemas) and :func:`render` turns their results into short text.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

from scalekit_langchain.testing._tool_inputs import (
    ToolArgumentError,
    ToolExecutionError,
    ToolSpec,
    bounded,
    input_schema,
    opt_bool,
    opt_dt,
    opt_int,
    opt_str,
    page_offset,
    page_slice,
    parse_dt,
    req_str,
    str_list,
    zone_arg,
)
from scalekit_langchain.testing._user_data import (
    EMAIL_RE,
    JSON,
    UserData,
    event_dict,
    rfc3339_text,
)

__all__ = ["TOOL_SPECS", "render"]


def _event_start(event: JSON) -> datetime:
    return parse_dt(str(event["start"]["dateTime"]), "start")


def _googlecalendar_list_events(data: UserData, args: JSON) -> JSON:
    calendar_id = (opt_str(args, "calendar_id") or "primary").strip() or "primary"
    size = bounded(args, "max_results", 25, 2500)
    offset = page_offset(args)
    time_min, time_max = opt_dt(args, "time_min"), opt_dt(args, "time_max")
    if time_min and time_max and time_max <= time_min:
        raise ToolArgumentError("`time_max` must be later than `time_min`")
    order_by = (opt_str(args, "order_by") or "startTime").strip()
    query = (opt_str(args, "query") or "").strip().lower()
    with data.lock:
        events = copy.deepcopy([e for e in data.events if e.get("calendar_id") == calendar_id])
    hits: list[JSON] = []
    for event in events:
        start, end = _event_start(event), parse_dt(str(event["end"]["dateTime"]), "end")
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
    page, token = page_slice(hits, offset, size)
    return {"events": page, "next_page_token": token}


def _googlecalendar_create_event(data: UserData, args: JSON) -> JSON:
    summary = req_str(args, "summary").strip()
    zone = zone_arg(args)
    start = parse_dt(req_str(args, "start_datetime"), "start_datetime", zone)
    hours, minutes = opt_int(args, "event_duration_hour"), opt_int(args, "event_duration_minutes")
    for name, amount in (("event_duration_hour", hours), ("event_duration_minutes", minutes)):
        if amount is not None and amount < 0:
            raise ToolArgumentError(f"`{name}` must not be negative, got {amount}")
    total = 30 if hours is None and minutes is None else (hours or 0) * 60 + (minutes or 0)
    if total <= 0:
        raise ToolArgumentError(
            "the event duration (`event_duration_hour` + `event_duration_minutes`) must be positive"
        )
    attendees = str_list(args, "attendees_emails")
    for email in attendees:
        if not EMAIL_RE.match(email):
            raise ToolArgumentError(
                f"`attendees_emails` contains {email!r}, which is not an email address"
            )
    recurrence = str_list(args, "recurrence")
    calendar_id = (opt_str(args, "calendar_id") or "primary").strip() or "primary"
    meet = opt_bool(args, "create_meeting_room")
    start = start.astimezone(zone or timezone.utc)
    with data.lock:
        event_id = data.new_id("evt")
        event = event_dict(
            event_id, summary=summary, description=opt_str(args, "description") or "",
            location=opt_str(args, "location") or "", start=start,
            end=start + timedelta(minutes=total), time_zone=zone.key if zone else "UTC",
            attendees=attendees, calendar_id=calendar_id,
            created=rfc3339_text(data.now().astimezone(timezone.utc).replace(microsecond=0)),
        )
        if recurrence:
            event["recurrence"] = recurrence
        if meet:
            event["hangout_link"] = f"https://meet.google.com/emu-{event_id.replace('_', '-')}"
        data.events.append(event)
        return {"event": copy.deepcopy(event)}


def _find_event(data: UserData, args: JSON) -> tuple[int, JSON]:
    """Finds an event by ``event_id`` (and ``calendar_id`` if given). Hold ``data.lock``."""
    event_id = req_str(args, "event_id").strip()
    calendar_id = (opt_str(args, "calendar_id") or "").strip()
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


_S, _B, _I, _A = "string", "boolean", "integer", "array"
_WINDOW = {
    "time_max": (_S, "Only events starting before this RFC3339 instant."),
    "time_min": (_S, "Only events ending after this RFC3339 instant."),
}

TOOL_SPECS: list[ToolSpec] = [
    ("googlecalendar_list_events",
     "List the user's Google Calendar events in start order, optionally limited to a time "
     "window or matching some text.", True, _googlecalendar_list_events,
     input_schema({
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
     input_schema({
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
     input_schema({
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
     input_schema({
         "event_id": (_S, "Id of the event to remove."),
         "calendar_id": (_S, "Calendar holding the event; any calendar when omitted."),
     }, ["event_id"])),
]


def _event_line(e: JSON) -> str:
    return (f"- {e.get('summary', '')}: {e['start']['dateTime']} to {e['end']['dateTime']}"
            f" (id {e.get('id')})")


def render(tool_name: str, result: JSON) -> str | None:
    """Renders a Calendar tool's result as short text; None for a tool this module does not know."""
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
    return None
