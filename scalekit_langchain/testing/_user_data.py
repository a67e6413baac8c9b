"""One user's in-memory demo accounts for the emulator's provider tools.

:class:`UserData` holds a user's Gmail inbox, sent mail and drafts, Google Calendar events and
Slack messages, with the lock the tool handlers hold and the id counter they draw from;
:meth:`UserData.seeded` fills it with sample mail and events. The record shapes shared by the
seed and the tools (RFC3339 text, mail snippets, event dicts, the email pattern) live here too,
since they define what a stored item looks like. Nothing here does I/O.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = ["EMAIL_RE", "JSON", "UserData", "event_dict", "rfc3339_text", "snippet"]

JSON = dict[str, Any]
#: What the tools accept as an email address (no display name).
EMAIL_RE = re.compile(r"^[^@\s,<>\"]+@[^@\s,<>\"]+\.[^@\s,<>\"]+$")


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)



def rfc3339_text(value: datetime) -> str:
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
        self.email = user_identifier if EMAIL_RE.match(user_identifier) else f"{local}@example.com"
        self.inbox: list[JSON] = []
        self.sent: list[JSON] = []
        self.drafts: list[JSON] = []
        self.events: list[JSON] = []
        self.slack_messages: list[JSON] = []
        self.clock: Callable[[], datetime] = clock or _utcnow
        self.lock = threading.Lock()
        self._serial = 0

    def now(self) -> datetime:
        """Returns the current time as an aware UTC datetime."""
        value = self.clock()
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value

    def next_serial(self) -> int:
        """Returns the next number of this store's counter (ids, Slack ``ts``). Hold ``lock``."""
        self._serial += 1
        return self._serial

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
            candidate = f"{prefix}_{self.next_serial():04d}"
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
                "date": rfc3339_text((anchor - age).replace(microsecond=0)),
                "snippet": snippet(body), "body": body, "label_ids": labels,
            })
        review = anchor.replace(hour=16, minute=0, second=0, microsecond=0)
        if review <= anchor + timedelta(hours=1):
            review += timedelta(days=1)
        standup = (anchor + timedelta(days=1)).replace(hour=9, minute=30, second=0, microsecond=0)
        created = rfc3339_text((anchor - timedelta(days=7)).replace(microsecond=0))
        for event_id, summary, start, minutes, attendees in (
            ("evt_0001", "Q3 budget review", review, 60,
             ["dana.whitfield@acme.example", "finance@acme.example"]),
            ("evt_0002", "Team standup", standup, 15, ["marco.rossi@acme.example"]),
        ):
            data.events.append(event_dict(
                event_id, summary=summary, description="", location="", start=start,
                end=start + timedelta(minutes=minutes), time_zone="UTC", attendees=attendees,
                calendar_id="primary", created=created,
            ))
        return data


def snippet(body: str, limit: int = 100) -> str:
    """Returns the first ``limit`` characters of a body as one line, tags stripped."""
    flat = " ".join(re.sub(r"<[^>]+>", " ", body).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def event_dict(event_id: str, *, summary: str, description: str, location: str,
               start: datetime, end: datetime, time_zone: str, attendees: list[str],
               calendar_id: str, created: str) -> JSON:
    """Builds a stored calendar event (Google's field names; times as RFC3339 text)."""
    return {
        "id": event_id, "summary": summary, "description": description, "location": location,
        "start": {"dateTime": rfc3339_text(start), "timeZone": time_zone},
        "end": {"dateTime": rfc3339_text(end), "timeZone": time_zone},
        "attendees": [{"email": a, "responseStatus": "needsAction"} for a in attendees],
        "calendar_id": calendar_id, "status": "confirmed",
        "html_link": f"https://calendar.google.com/calendar/event?eid={event_id}",
        "created": created,
    }
