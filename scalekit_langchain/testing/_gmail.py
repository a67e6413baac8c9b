"""The emulator's Gmail tools: search, read, send and draft mail in a user's :class:`UserData`.

Each handler validates its arguments with the readers of
:mod:`~scalekit_langchain.testing._tool_inputs` and acts on the user's inbox, sent mail and
drafts under the store's lock; :data:`TOOL_SPECS` declares the four tools (Scalekit's names,
descriptions and input schemas) and :func:`render` turns their results into short text. The
search understands a small subset of Gmail's query syntax.
"""

from __future__ import annotations

import copy
import re
from datetime import timezone

from scalekit_langchain.testing._tool_inputs import (
    ToolArgumentError,
    ToolExecutionError,
    ToolSpec,
    addresses,
    bounded,
    input_schema,
    opt_bool,
    opt_str,
    page_offset,
    page_slice,
    parse_dt,
    req_str,
    str_list,
)
from scalekit_langchain.testing._user_data import JSON, UserData, rfc3339_text, snippet

__all__ = ["TOOL_SPECS", "render"]


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
    size = bounded(args, "max_results", 10, 500)
    offset = page_offset(args)
    query = opt_str(args, "query") or ""
    wanted = {label.upper() for label in str_list(args, "label_ids")}
    spam_trash = opt_bool(args, "include_spam_trash")
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
    hits.sort(key=lambda m: parse_dt(str(m["date"]), "date"), reverse=True)
    page, token = page_slice(hits, offset, size)
    return {"messages": page, "result_size_estimate": len(hits),
            "next_page_token": token}


def _gmail_get_message_by_id(data: UserData, args: JSON) -> JSON:
    message_id = req_str(args, "message_id").strip()
    with data.lock:
        pool = [*data.inbox, *data.sent, *(d["message"] for d in data.drafts)]
        found = next((copy.deepcopy(m) for m in pool if m.get("id") == message_id), None)
    if found is None:
        raise ToolExecutionError(f"No Gmail message with id {message_id!r} was found")
    return {"message": found}


def _compose(data: UserData, args: JSON, label: str) -> JSON:
    """Validates the send/draft arguments and builds a message dict. Holds no lock."""
    to = addresses(args, "to", required=True)
    subject = req_str(args, "subject")
    body = req_str(args, "body")
    cc = addresses(args, "cc", required=False)
    bcc = addresses(args, "bcc", required=False)
    content_type = (opt_str(args, "content_type") or "text/plain").strip().lower()
    if content_type not in ("text/plain", "text/html"):
        raise ToolArgumentError(
            f"`content_type` must be 'text/plain' or 'text/html', got {content_type!r}"
        )
    return {"from": data.email, "to": to, "cc": cc, "bcc": bcc, "subject": subject,
            "date": rfc3339_text(data.now().astimezone(timezone.utc).replace(microsecond=0)),
            "snippet": snippet(body), "body": body, "content_type": content_type,
            "label_ids": [label], "thread_id": (opt_str(args, "thread_id") or "").strip()}


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

TOOL_SPECS: list[ToolSpec] = [
    ("gmail_fetch_mails",
     "Search and list emails in the user's Gmail mailbox, newest first. Supports Gmail-style "
     "queries such as 'is:unread from:alice@example.com'.", True, _gmail_fetch_mails,
     input_schema({
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
     input_schema(_MAIL_PROPS, ["body", "subject", "to"])),
    ("gmail_get_message_by_id",
     "Read one Gmail message, including its body, given its message id.", True,
     _gmail_get_message_by_id,
     input_schema({"message_id": (_S, "Id of the message to read."), "format": _FMT},
                  ["message_id"])),
    ("gmail_create_draft",
     "Save an email as a Gmail draft without sending it, with optional CC, BCC, HTML content "
     "and threading.", False, _gmail_create_draft,
     input_schema(_MAIL_PROPS, ["body", "subject", "to"])),
]


def _mail_line(m: JSON) -> str:
    line = f"- id {m.get('id')} | {m.get('date')} | from {m.get('from')} | {m.get('subject')}"
    return line + (f"\n  {m['snippet']}" if m.get("snippet") else "")


def render(tool_name: str, result: JSON) -> str | None:
    """Renders a Gmail tool's result as short text; None for a tool this module does not know."""
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
    return None
