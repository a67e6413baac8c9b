"""Unit tests for the emulator's demo providers (Gmail, Google Calendar, Slack)."""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from scalekit_langchain.testing._providers import (
    PROVIDER_TOOLS,
    ProviderTool,
    ToolArgumentError,
    ToolExecutionError,
    UserData,
    call_tool,
    render_text,
    tools_for_provider,
)

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=timezone.utc)
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

# Property names, types and required lists transcribed from section 7 of the reference.
S, B, I, A = "string", "boolean", "integer", "array"
MAIL = {"body": S, "subject": S, "to": S, "bcc": S, "cc": S, "content_type": S, "thread_id": S}
EXPECTED: dict[str, tuple[dict[str, str], list[str]]] = {
    "gmail_fetch_mails": ({"format": S, "include_spam_trash": B, "label_ids": A,
                           "max_results": I, "page_token": S, "query": S}, []),
    "gmail_send_message": (MAIL, ["body", "subject", "to"]),
    "gmail_get_message_by_id": ({"message_id": S, "format": S}, ["message_id"]),
    "gmail_create_draft": (MAIL, ["body", "subject", "to"]),
    "googlecalendar_list_events": ({"calendar_id": S, "max_results": I, "order_by": S,
                                    "page_token": S, "query": S, "single_events": B,
                                    "time_max": S, "time_min": S}, []),
    "googlecalendar_create_event": ({
        "start_datetime": S, "summary": S, "attendees_emails": A, "calendar_id": S,
        "create_meeting_room": B, "description": S, "event_duration_hour": I,
        "event_duration_minutes": I, "event_type": S, "guests_can_invite_others": B,
        "guests_can_modify": B, "guests_can_see_other_guests": B, "location": S,
        "recurrence": A, "send_updates": B, "timezone": S, "transparency": S, "visibility": S,
    }, ["start_datetime", "summary"]),
    "googlecalendar_get_event_by_id": ({
        "event_id": S, "calendar_id": S, "event_types": A, "query": S, "show_deleted": B,
        "single_events": B, "time_max": S, "time_min": S, "updated_min": S,
    }, ["event_id"]),
    "googlecalendar_delete_event": ({"event_id": S, "calendar_id": S}, ["event_id"]),
    "slack_send_message": ({"channel": S, "text": S, "attachments": S, "blocks": S,
                            "reply_broadcast": B, "thread_ts": S, "unfurl_links": B,
                            "unfurl_media": B}, ["channel", "text"]),
}
READ_ONLY = {"gmail_fetch_mails", "gmail_get_message_by_id", "googlecalendar_list_events",
             "googlecalendar_get_event_by_id"}
REFERENCE = Path("/work/shared/reference/scalekit-mcp-api.md")


@pytest.fixture
def data() -> UserData:
    store = UserData.seeded("alice@acme.example", now=NOW)
    store.clock = lambda: NOW
    return store


def run(data: UserData, tool: str, **arguments: Any) -> dict[str, Any]:
    result = call_tool(tool, data, arguments)
    json.dumps(result)  # every result must be JSON-serialisable
    return result


def arg_error(data: UserData, tool: str, field: str, **arguments: Any) -> str:
    with pytest.raises(ToolArgumentError) as caught:
        call_tool(tool, data, arguments)
    assert field in str(caught.value)
    return str(caught.value)


# --------------------------------------------------------------------------- registry/schemas


def test_registry_has_exactly_the_nine_tools() -> None:
    assert set(PROVIDER_TOOLS) == set(EXPECTED)
    for name, tool in PROVIDER_TOOLS.items():
        assert isinstance(tool, ProviderTool)
        assert tool.name == name
        assert tool.provider == name.split("_", 1)[0]
        assert tool.read_only is (name in READ_ONLY)
        assert tool.description.strip()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_schema_matches_reference(name: str) -> None:
    schema = PROVIDER_TOOLS[name].input_schema
    props, required = EXPECTED[name]
    assert schema["type"] == "object"
    assert sorted(schema["required"]) == sorted(required)
    extra = {"schema_version", "tool_version"}
    assert set(schema["properties"]) == set(props) | extra
    for prop, kind in {**props, "schema_version": S, "tool_version": S}.items():
        spec = schema["properties"][prop]
        assert spec["type"] == kind
        assert spec["description"].strip()
        if kind == A:
            assert spec["items"] == {"type": "string"}
        else:
            assert set(spec) == {"type", "description"}
    assert not extra & set(schema["required"])
    json.dumps(schema)


def _reference_schemas() -> dict[str, dict[str, Any]]:
    text = REFERENCE.read_text(encoding="utf-8")
    section = text.split("## 7.", 1)[1].split("## 8.", 1)[0]
    found = {}
    for match in re.finditer(r"### `(\w+)`.*?```json\n(.*?)```", section, re.S):
        found[match.group(1)] = json.loads(match.group(2))
    return found


@pytest.mark.skipif(not REFERENCE.exists(), reason="reference document not available")
def test_schemas_match_reference_document_and_use_own_descriptions() -> None:
    reference = _reference_schemas()
    assert set(reference) == set(PROVIDER_TOOLS)
    for name, ref in reference.items():
        ours = PROVIDER_TOOLS[name].input_schema
        assert sorted(ours["required"]) == sorted(ref["required"])
        extra = {"schema_version", "tool_version"}
        assert set(ours["properties"]) == set(ref["properties"]) | extra
        for prop, spec in ref["properties"].items():
            assert ours["properties"][prop]["type"] == spec["type"]
            assert ours["properties"][prop]["description"] != spec["description"]


def test_tools_for_provider() -> None:
    assert [t.name for t in tools_for_provider("gmail")] == [
        "gmail_fetch_mails", "gmail_send_message", "gmail_get_message_by_id", "gmail_create_draft"]
    assert {t.name for t in tools_for_provider("GoogleCalendar")} == {
        n for n in EXPECTED if n.startswith("googlecalendar_")}
    assert [t.name for t in tools_for_provider(" SLACK ")] == ["slack_send_message"]
    assert tools_for_provider("notion") == []


def test_call_tool_unknown_tool_and_bad_arguments(data: UserData) -> None:
    with pytest.raises(KeyError):
        call_tool("gmail_send_email", data, {})
    with pytest.raises(ToolArgumentError):
        call_tool("gmail_fetch_mails", data, ["not", "a", "dict"])  # type: ignore[arg-type]
    result = run(data, "gmail_fetch_mails", schema_version="1", tool_version="2", unknown=True)
    assert len(result["messages"]) == 5


# --------------------------------------------------------------------------- seeded data


def test_seeded_data() -> None:
    data = UserData.seeded("user_123", now=NOW)
    assert data.user_identifier == "user_123"
    assert [m["id"] for m in data.inbox] == [f"msg_{i:04d}" for i in range(1, 6)]
    assert len({m["thread_id"] for m in data.inbox}) == 5
    dates = [datetime.fromisoformat(m["date"].replace("Z", "+00:00")) for m in data.inbox]
    for message, date in zip(data.inbox, dates):
        assert RFC3339_UTC.match(message["date"])
        assert NOW - timedelta(days=5) < date < NOW
        assert message["to"] == data.email
        for key in ("from", "subject", "snippet", "body", "label_ids"):
            assert message[key]
    newest = data.inbox[dates.index(max(dates))]
    assert newest["id"] == "msg_0005"
    assert "Q3 budget" in newest["subject"] and "4pm" in newest["body"]
    assert 1 <= len(data.events) <= 2
    assert data.sent == [] and data.drafts == [] and data.slack_messages == []


def test_seeded_accepts_naive_and_default_now() -> None:
    naive = UserData.seeded("bob", now=NOW.replace(tzinfo=None))
    assert naive.inbox == UserData.seeded("bob", now=NOW).inbox
    fresh = UserData.seeded("bob")
    newest = run(fresh, "gmail_fetch_mails", max_results=1)["messages"][0]
    assert newest["id"] == "msg_0005"
    assert fresh.email == "bob@example.com"


def test_seeded_budget_review_is_in_the_future() -> None:
    for hour in (8, 15, 16, 23):
        now = NOW.replace(hour=hour)
        data = UserData.seeded("carol", now=now)
        review = next(e for e in data.events if "budget" in e["summary"].lower())
        start = datetime.fromisoformat(review["start"]["dateTime"].replace("Z", "+00:00"))
        assert start > now


# --------------------------------------------------------------------------- gmail


def test_fetch_mails_newest_first_with_defaults(data: UserData) -> None:
    result = run(data, "gmail_fetch_mails")
    assert [m["id"] for m in result["messages"]] == ["msg_0005", "msg_0004", "msg_0003",
                                                     "msg_0002", "msg_0001"]
    assert result["result_size_estimate"] == 5
    assert result["next_page_token"] is None
    first = result["messages"][0]
    assert set(first) >= {"id", "thread_id", "from", "to", "subject", "date", "snippet", "body",
                          "label_ids"}


def test_fetch_mails_paging(data: UserData) -> None:
    seen: list[str] = []
    token = None
    tokens = []
    while True:
        args: dict[str, Any] = {"max_results": 2}
        if token:
            args["page_token"] = token
        page = run(data, "gmail_fetch_mails", **args)
        assert page["result_size_estimate"] == 5
        seen += [m["id"] for m in page["messages"]]
        token = page["next_page_token"]
        tokens.append(token)
        if token is None:
            break
    assert seen == ["msg_0005", "msg_0004", "msg_0003", "msg_0002", "msg_0001"]
    assert tokens == ["2", "4", None]
    assert run(data, "gmail_fetch_mails", page_token="40")["messages"] == []
    arg_error(data, "gmail_fetch_mails", "page_token", page_token="abc")


@pytest.mark.parametrize("bad", [0, -1, 501, "many", True, 2.5])
def test_fetch_mails_max_results_bounds(data: UserData, bad: Any) -> None:
    arg_error(data, "gmail_fetch_mails", "max_results", max_results=bad)


def test_fetch_mails_max_results_accepts_numeric_string_and_limits(data: UserData) -> None:
    assert len(run(data, "gmail_fetch_mails", max_results="3")["messages"]) == 3
    assert len(run(data, "gmail_fetch_mails", max_results=500)["messages"]) == 5


@pytest.mark.parametrize(("query", "ids"), [
    ("is:unread", ["msg_0005", "msg_0004", "msg_0003"]),
    ("-is:unread", ["msg_0002", "msg_0001"]),
    ("is:read", ["msg_0002", "msg_0001"]),
    ("from:dana", ["msg_0005"]),
    ("from:ACME.EXAMPLE is:unread", ["msg_0005", "msg_0003"]),
    ("subject:invoice", ["msg_0002"]),
    ('subject:"product sync"', ["msg_0001"]),
    ("BUDGET", ["msg_0005"]),
    ("offsite", ["msg_0003"]),
    ("billing", ["msg_0002"]),  # matches the sender
    ("to:alice@acme.example", ["msg_0005", "msg_0004", "msg_0003", "msg_0002", "msg_0001"]),
    ("to:nobody@example.com", []),
    ("label:important", ["msg_0005"]),
    ("nonexistentword", []),
])
def test_fetch_mails_query(data: UserData, query: str, ids: list[str]) -> None:
    result = run(data, "gmail_fetch_mails", query=query)
    assert [m["id"] for m in result["messages"]] == ids
    assert result["result_size_estimate"] == len(ids)


def test_fetch_mails_label_ids_and_spam_trash(data: UserData) -> None:
    assert [m["id"] for m in run(data, "gmail_fetch_mails", label_ids=["category_updates"])[
        "messages"]] == ["msg_0002"]
    assert len(run(data, "gmail_fetch_mails", label_ids=["INBOX", "UNREAD"])["messages"]) == 3
    data.inbox.append({**data.inbox[0], "id": "msg_spam", "date": "2025-06-02T08:59:00Z",
                       "label_ids": ["SPAM"]})
    assert "msg_spam" not in [m["id"] for m in run(data, "gmail_fetch_mails")["messages"]]
    with_spam = run(data, "gmail_fetch_mails", include_spam_trash=True)["messages"]
    assert with_spam[0]["id"] == "msg_spam"
    arg_error(data, "gmail_fetch_mails", "include_spam_trash", include_spam_trash="yes")
    arg_error(data, "gmail_fetch_mails", "label_ids", label_ids=[1, 2])


def test_fetch_mails_sent_only_on_request(data: UserData) -> None:
    sent = run(data, "gmail_send_message", to="bob@example.com", subject="Hi", body="Hello")
    assert run(data, "gmail_fetch_mails")["messages"][0]["id"] == "msg_0005"
    assert [m["id"] for m in run(data, "gmail_fetch_mails", label_ids=["SENT"])["messages"]] == [
        sent["id"]]
    assert run(data, "gmail_fetch_mails", query="in:sent")["messages"][0]["id"] == sent["id"]


def test_fetch_results_are_copies(data: UserData) -> None:
    run(data, "gmail_fetch_mails")["messages"][0]["subject"] = "changed"
    run(data, "gmail_get_message_by_id", message_id="msg_0005")["message"]["label_ids"].clear()
    message = run(data, "gmail_get_message_by_id", message_id="msg_0005")["message"]
    assert message["subject"].startswith("Reminder") and message["label_ids"]


def test_get_message_by_id(data: UserData) -> None:
    message = run(data, "gmail_get_message_by_id", message_id="msg_0003", format="full")["message"]
    assert message["id"] == "msg_0003" and "venues" in message["body"]
    with pytest.raises(ToolExecutionError, match="msg_9999"):
        call_tool("gmail_get_message_by_id", data, {"message_id": "msg_9999"})
    arg_error(data, "gmail_get_message_by_id", "message_id")
    arg_error(data, "gmail_get_message_by_id", "message_id", message_id=" ")
    arg_error(data, "gmail_get_message_by_id", "message_id", message_id=5)


def test_send_message(data: UserData) -> None:
    result = run(data, "gmail_send_message", to="Bob <bob@example.com>, carol@example.org",
                 subject="Budget", body="<p>Attached</p>", cc="dan@example.com",
                 bcc="eve@example.com", content_type="text/html")
    assert set(result) == {"id", "thread_id", "label_ids"}
    assert result["label_ids"] == ["SENT"]
    assert len(data.sent) == 1
    stored = data.sent[0]
    assert stored["id"] == result["id"] and stored["thread_id"] == result["thread_id"]
    assert stored["from"] == "alice@acme.example"
    assert stored["to"] == "Bob <bob@example.com>, carol@example.org"
    assert stored["cc"] == "dan@example.com" and stored["bcc"] == "eve@example.com"
    assert RFC3339_UTC.match(stored["date"]) and stored["date"] == "2025-06-02T09:00:00Z"
    assert stored["snippet"] == "Attached"
    assert result["id"] not in {m["id"] for m in data.inbox}
    fetched = run(data, "gmail_get_message_by_id", message_id=result["id"])["message"]
    assert fetched["subject"] == "Budget"


def test_send_message_in_thread(data: UserData) -> None:
    reply = run(data, "gmail_send_message", to="dana.whitfield@acme.example", subject="Re: budget",
                body="Done", thread_id="thr_0005")
    assert reply["thread_id"] == "thr_0005"
    with pytest.raises(ToolExecutionError, match="thr_nope"):
        call_tool("gmail_send_message", data, {"to": "a@b.co", "subject": "s", "body": "b",
                                               "thread_id": "thr_nope"})
    assert len(data.sent) == 1


@pytest.mark.parametrize("tool", ["gmail_send_message", "gmail_create_draft"])
@pytest.mark.parametrize(("field", "value"), [
    ("to", None), ("to", ""), ("to", "   "), ("to", "not-an-email"), ("to", "a@b.co, nope"),
    ("to", " , "), ("to", ["a@b.co"]), ("subject", None), ("subject", ""), ("body", None),
    ("body", "  "), ("cc", "bad address"), ("bcc", "x@"), ("content_type", "application/pdf"),
])
def test_compose_validation(data: UserData, tool: str, field: str, value: Any) -> None:
    args: dict[str, Any] = {"to": "bob@example.com", "subject": "Hi", "body": "Hello"}
    if value is None:
        del args[field]
    else:
        args[field] = value
    arg_error(data, tool, f"`{field}`", **args)
    assert data.sent == [] and data.drafts == []


def test_create_draft(data: UserData) -> None:
    result = run(data, "gmail_create_draft", to="bob@example.com", subject="Draft", body="Later")
    assert set(result) == {"id", "message"}
    message = result["message"]
    assert message["label_ids"] == ["DRAFT"] and message["subject"] == "Draft"
    assert data.drafts[0]["id"] == result["id"] and data.sent == []
    assert run(data, "gmail_get_message_by_id", message_id=message["id"])["message"]["body"] == (
        "Later")
    threaded = run(data, "gmail_create_draft", to="bob@example.com", subject="Re", body="x",
                   thread_id="thr_0002")
    assert threaded["message"]["thread_id"] == "thr_0002"


def test_generated_ids_are_unique(data: UserData) -> None:
    ids: list[str] = []
    for _ in range(5):
        sent = run(data, "gmail_send_message", to="b@example.com", subject="s", body="b")
        draft = run(data, "gmail_create_draft", to="b@example.com", subject="s", body="b")
        event = run(data, "googlecalendar_create_event", summary="x",
                    start_datetime="2025-06-03T10:00:00Z")["event"]
        ids += [sent["id"], sent["thread_id"], draft["id"], draft["message"]["id"], event["id"]]
    existing = {m["id"] for m in data.inbox} | {m["thread_id"] for m in data.inbox}
    assert len(set(ids)) == len(ids)
    assert not existing & set(ids)
    assert len({e["id"] for e in data.events}) == len(data.events)


def test_concurrent_sends_get_unique_ids(data: UserData) -> None:
    def worker() -> None:
        for _ in range(20):
            call_tool("gmail_send_message", data, {"to": "b@example.com", "subject": "s",
                                                   "body": "b"})
            call_tool("slack_send_message", data, {"channel": "#x", "text": "t"})

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({m["id"] for m in data.sent}) == 80
    assert len({m["ts"] for m in data.slack_messages}) == 80


# --------------------------------------------------------------------------- calendar


def create(data: UserData, **arguments: Any) -> dict[str, Any]:
    arguments.setdefault("summary", "Send the Q3 budget to finance")
    event: dict[str, Any] = run(data, "googlecalendar_create_event", **arguments)["event"]
    return event


def test_create_event_defaults(data: UserData) -> None:
    event = create(data, start_datetime="2025-06-02T15:30:00Z")
    assert event["start"]["dateTime"] == "2025-06-02T15:30:00Z"
    assert event["end"]["dateTime"] == "2025-06-02T16:00:00Z"
    assert event["calendar_id"] == "primary"
    assert event["summary"] == "Send the Q3 budget to finance"
    assert event["description"] == "" and event["location"] == "" and event["attendees"] == []
    assert event["html_link"].startswith("https://") and event["id"] in event["html_link"]
    assert event["created"] == "2025-06-02T09:00:00Z"
    assert data.events[-1]["id"] == event["id"]
    assert run(data, "googlecalendar_get_event_by_id", event_id=event["id"])["event"] == event


def test_create_event_full(data: UserData) -> None:
    event = create(data, start_datetime="2025-06-03T10:00:00Z", event_duration_hour=1,
                   event_duration_minutes=15, description="Agenda", location="Room 4",
                   attendees_emails=["bob@example.com", "carol@example.com"],
                   calendar_id="work", create_meeting_room=True, recurrence=["RRULE:FREQ=DAILY"],
                   visibility="private", send_updates=False)
    assert event["end"]["dateTime"] == "2025-06-03T11:15:00Z"
    assert [a["email"] for a in event["attendees"]] == ["bob@example.com", "carol@example.com"]
    assert event["calendar_id"] == "work" and event["description"] == "Agenda"
    assert event["location"] == "Room 4" and event["recurrence"] == ["RRULE:FREQ=DAILY"]
    assert event["hangout_link"].startswith("https://meet.google.com/")


@pytest.mark.parametrize(("arguments", "start", "end"), [
    ({"start_datetime": "2025-06-02T15:30:00+02:00"}, "2025-06-02T13:30:00Z",
     "2025-06-02T14:00:00Z"),
    ({"start_datetime": "2025-06-02T15:30:00z"}, "2025-06-02T15:30:00Z", "2025-06-02T16:00:00Z"),
    ({"start_datetime": "2025-06-02T15:30:00.123Z"}, "2025-06-02T15:30:00Z",
     "2025-06-02T16:00:00Z"),
    ({"start_datetime": "2025-06-02T15:30:00.1234567Z"}, "2025-06-02T15:30:00Z",
     "2025-06-02T16:00:00Z"),
    ({"start_datetime": "2025-06-02T15:30:00"}, "2025-06-02T15:30:00Z", "2025-06-02T16:00:00Z"),
    ({"start_datetime": "2025-06-02T15:30:00", "timezone": "America/New_York"},
     "2025-06-02T15:30:00-04:00", "2025-06-02T16:00:00-04:00"),
    ({"start_datetime": "2025-01-15T15:30", "timezone": "Europe/Paris"},
     "2025-01-15T15:30:00+01:00", "2025-01-15T16:00:00+01:00"),
    ({"start_datetime": "2025-06-02T13:30:00Z", "timezone": "Europe/Paris"},
     "2025-06-02T15:30:00+02:00", "2025-06-02T16:00:00+02:00"),
    ({"start_datetime": "2025-06-02T15:30:00", "timezone": "UTC"}, "2025-06-02T15:30:00Z",
     "2025-06-02T16:00:00Z"),
    ({"start_datetime": "2025-06-02T15:30:00", "timezone": ""}, "2025-06-02T15:30:00Z",
     "2025-06-02T16:00:00Z"),
])
def test_create_event_time_zones(data: UserData, arguments: dict[str, Any], start: str,
                                 end: str) -> None:
    event = create(data, **arguments)
    assert (event["start"]["dateTime"], event["end"]["dateTime"]) == (start, end)
    if arguments.get("timezone"):
        assert event["start"]["timeZone"] == arguments["timezone"]


def test_create_event_in_timezone_is_found_by_utc_window(data: UserData) -> None:
    event = create(data, start_datetime="2025-06-05T09:00:00", timezone="Asia/Tokyo")
    found = run(data, "googlecalendar_list_events", time_min="2025-06-05T00:00:00Z",
                time_max="2025-06-05T00:30:00Z")["events"]
    assert [e["id"] for e in found] == [event["id"]]


@pytest.mark.parametrize(("field", "arguments"), [
    ("start_datetime", {"start_datetime": "tomorrow at 4pm"}),
    ("start_datetime", {"start_datetime": "2025-13-01T10:00:00Z"}),
    ("start_datetime", {"start_datetime": ""}),
    ("start_datetime", {}),
    ("start_datetime", {"start_datetime": 1717340000}),
    ("summary", {"start_datetime": "2025-06-02T15:30:00Z", "summary": ""}),
    ("timezone", {"start_datetime": "2025-06-02T15:30:00", "timezone": "Mars/Olympus"}),
    ("timezone", {"start_datetime": "2025-06-02T15:30:00Z", "timezone": "../etc/passwd"}),
    ("event_duration", {"start_datetime": "2025-06-02T15:30:00Z", "event_duration_hour": 0}),
    ("event_duration", {"start_datetime": "2025-06-02T15:30:00Z", "event_duration_hour": 0,
                        "event_duration_minutes": 0}),
    ("event_duration_minutes", {"start_datetime": "2025-06-02T15:30:00Z",
                                "event_duration_minutes": -15}),
    ("event_duration_hour", {"start_datetime": "2025-06-02T15:30:00Z",
                             "event_duration_hour": -1, "event_duration_minutes": 90}),
    ("event_duration_hour", {"start_datetime": "2025-06-02T15:30:00Z",
                             "event_duration_hour": "one"}),
    ("attendees_emails", {"start_datetime": "2025-06-02T15:30:00Z",
                          "attendees_emails": ["bob"]}),
    ("create_meeting_room", {"start_datetime": "2025-06-02T15:30:00Z",
                             "create_meeting_room": "yes"}),
])
def test_create_event_argument_errors(data: UserData, field: str,
                                      arguments: dict[str, Any]) -> None:
    arguments.setdefault("summary", "Reminder")
    before = list(data.events)
    arg_error(data, "googlecalendar_create_event", field, **arguments)
    assert data.events == before


def test_create_event_duration_variants(data: UserData) -> None:
    start = "2025-06-02T15:30:00Z"
    assert create(data, start_datetime=start, event_duration_hour=2)["end"]["dateTime"] == (
        "2025-06-02T17:30:00Z")
    assert create(data, start_datetime=start, event_duration_minutes=5)["end"]["dateTime"] == (
        "2025-06-02T15:35:00Z")
    assert create(data, start_datetime=start, event_duration_hour="1",
                  event_duration_minutes="0")["end"]["dateTime"] == "2025-06-02T16:30:00Z"
    comma = create(data, start_datetime=start, attendees_emails="a@example.com, b@example.com")
    assert [a["email"] for a in comma["attendees"]] == ["a@example.com", "b@example.com"]


def test_list_events_order_filters_and_paging(data: UserData) -> None:
    seeded = run(data, "googlecalendar_list_events")
    assert seeded["next_page_token"] is None
    assert [e["summary"] for e in seeded["events"]] == ["Q3 budget review", "Team standup"]
    early = create(data, summary="Early call", start_datetime="2025-06-02T10:00:00Z")
    late = create(data, summary="Late dinner", start_datetime="2025-06-04T19:00:00Z",
                  description="with the finance team")
    other = create(data, summary="Other cal", start_datetime="2025-06-02T11:00:00Z",
                   calendar_id="team@example.com")
    listed = run(data, "googlecalendar_list_events")["events"]
    starts = [e["start"]["dateTime"] for e in listed]
    assert listed[0]["id"] == early["id"] and listed[-1]["id"] == late["id"]
    assert other["id"] not in [e["id"] for e in listed]
    assert starts == sorted(starts)
    assert [e["id"] for e in run(data, "googlecalendar_list_events",
                                 calendar_id="team@example.com")["events"]] == [other["id"]]
    window = run(data, "googlecalendar_list_events", time_min="2025-06-02T10:15:00Z",
                 time_max="2025-06-03T00:00:00Z")["events"]
    assert [e["summary"] for e in window] == ["Early call", "Q3 budget review"]
    after = run(data, "googlecalendar_list_events", time_min="2025-06-04T00:00:00")["events"]
    assert [e["id"] for e in after] == [late["id"]]
    assert [e["id"] for e in run(data, "googlecalendar_list_events", query="FINANCE")[
        "events"]] == [data.events[0]["id"], late["id"]]
    first = run(data, "googlecalendar_list_events", max_results=2)
    assert len(first["events"]) == 2 and first["next_page_token"] == "2"
    rest = run(data, "googlecalendar_list_events", max_results=2, page_token="2")
    assert len(rest["events"]) == 2 and rest["next_page_token"] is None
    updated = run(data, "googlecalendar_list_events", order_by="updated")["events"]
    assert updated[-1]["id"] == late["id"]


@pytest.mark.parametrize(("field", "arguments"), [
    ("time_min", {"time_min": "last week"}),
    ("time_max", {"time_max": "2025-99-01"}),
    ("time_max", {"time_min": "2025-06-03T00:00:00Z", "time_max": "2025-06-02T00:00:00Z"}),
    ("max_results", {"max_results": 0}),
    ("page_token", {"page_token": "x"}),
    ("calendar_id", {"calendar_id": 7}),
])
def test_list_events_argument_errors(data: UserData, field: str,
                                     arguments: dict[str, Any]) -> None:
    arg_error(data, "googlecalendar_list_events", field, **arguments)


def test_get_event_by_id(data: UserData) -> None:
    event = run(data, "googlecalendar_get_event_by_id", event_id="evt_0001")["event"]
    assert event["summary"] == "Q3 budget review"
    assert run(data, "googlecalendar_get_event_by_id", event_id="evt_0001",
               calendar_id="primary")["event"] == event
    with pytest.raises(ToolExecutionError, match="evt_0001"):
        call_tool("googlecalendar_get_event_by_id", data,
                  {"event_id": "evt_0001", "calendar_id": "someone-else"})
    with pytest.raises(ToolExecutionError, match="evt_missing"):
        call_tool("googlecalendar_get_event_by_id", data, {"event_id": "evt_missing"})
    arg_error(data, "googlecalendar_get_event_by_id", "event_id")


def test_delete_event(data: UserData) -> None:
    event = create(data, start_datetime="2025-06-02T15:30:00Z")
    result = run(data, "googlecalendar_delete_event", event_id=event["id"], calendar_id="primary")
    assert result == {"deleted": True, "event_id": event["id"]}
    assert event["id"] not in {e["id"] for e in data.events}
    with pytest.raises(ToolExecutionError):
        call_tool("googlecalendar_get_event_by_id", data, {"event_id": event["id"]})
    with pytest.raises(ToolExecutionError):
        call_tool("googlecalendar_delete_event", data, {"event_id": event["id"]})
    arg_error(data, "googlecalendar_delete_event", "event_id", event_id="")
    assert len(data.events) == 2


# --------------------------------------------------------------------------- slack


def test_slack_send_message(data: UserData) -> None:
    result = run(data, "slack_send_message", channel="#general", text="Budget sent :tada:")
    assert result["ok"] is True and result["channel"] == "#general"
    assert re.fullmatch(r"\d+\.\d{6}", result["ts"])
    assert result["ts"].split(".")[0] == str(int(NOW.timestamp()))
    assert result["message"]["text"] == "Budget sent :tada:"
    assert result["message"]["ts"] == result["ts"]
    assert data.slack_messages == [result["message"]]
    reply = run(data, "slack_send_message", channel="C123", text="Thread reply",
                thread_ts=result["ts"], blocks='[{"type": "section"}]', attachments="[]",
                unfurl_links=False)
    assert reply["message"]["thread_ts"] == result["ts"] and reply["ts"] != result["ts"]


@pytest.mark.parametrize(("field", "arguments"), [
    ("channel", {"text": "hi"}),
    ("channel", {"channel": "", "text": "hi"}),
    ("text", {"channel": "#general"}),
    ("text", {"channel": "#general", "text": "   "}),
    ("blocks", {"channel": "#general", "text": "hi", "blocks": "{not json"}),
    ("attachments", {"channel": "#general", "text": "hi", "attachments": '{"a": 1}'}),
])
def test_slack_argument_errors(data: UserData, field: str, arguments: dict[str, Any]) -> None:
    arg_error(data, "slack_send_message", field, **arguments)
    assert data.slack_messages == []


# --------------------------------------------------------------------------- render_text


def test_render_text_for_every_tool(data: UserData) -> None:
    fetched = run(data, "gmail_fetch_mails", max_results=2)
    text = render_text("gmail_fetch_mails", fetched)
    assert "msg_0005" in text and "Dana Whitfield" in text and "Q3 budget" in text
    assert "2025-06-02T" in text and "page_token=2" in text
    assert render_text("gmail_fetch_mails", run(data, "gmail_fetch_mails", query="zzz")) == (
        "No messages found.")
    message = render_text("gmail_get_message_by_id",
                          run(data, "gmail_get_message_by_id", message_id="msg_0005"))
    assert "From: Dana" in message and "finance@acme.example" in message
    sent = run(data, "gmail_send_message", to="b@example.com", subject="s", body="b")
    assert sent["id"] in render_text("gmail_send_message", sent)
    draft = run(data, "gmail_create_draft", to="b@example.com", subject="Plan", body="b")
    assert draft["id"] in render_text("gmail_create_draft", draft) and "Plan" in render_text(
        "gmail_create_draft", draft)
    created = run(data, "googlecalendar_create_event", summary="Send budget",
                  start_datetime="2025-06-02T15:00:00Z", description="Before the review")
    assert render_text("googlecalendar_create_event", created).startswith(
        "Event created: Send budget from 2025-06-02T15:00:00Z to 2025-06-02T15:30:00Z (id "
        f"{created['event']['id']})")
    got = run(data, "googlecalendar_get_event_by_id", event_id=created["event"]["id"])
    assert "Send budget" in render_text("googlecalendar_get_event_by_id", got)
    listed = render_text("googlecalendar_list_events", run(data, "googlecalendar_list_events"))
    assert "Send budget" in listed and "evt_0001" in listed
    assert render_text("googlecalendar_list_events", {"events": [], "next_page_token": None}) == (
        "No events found.")
    deleted = run(data, "googlecalendar_delete_event", event_id="evt_0002")
    assert "evt_0002" in render_text("googlecalendar_delete_event", deleted)
    posted = run(data, "slack_send_message", channel="#general", text="hi")
    assert "#general" in render_text("slack_send_message", posted)
    assert json.loads(render_text("custom_tool", {"a": 1})) == {"a": 1}
