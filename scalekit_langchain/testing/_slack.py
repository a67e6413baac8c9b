"""The emulator's Slack tool: ``slack_send_message`` posts into a user's :class:`UserData`.

The handler validates the channel, text and JSON-encoded blocks/attachments with the readers
of :mod:`~scalekit_langchain.testing._tool_inputs`, stamps the message with a Slack-style
``ts`` drawn from the store's counter and keeps it in ``slack_messages``; :data:`TOOL_SPECS`
declares the tool and :func:`render` turns its result into short text.
"""

from __future__ import annotations

import copy
import json

from scalekit_langchain.testing._tool_inputs import (
    ToolArgumentError,
    ToolSpec,
    input_schema,
    opt_str,
    req_str,
)
from scalekit_langchain.testing._user_data import JSON, UserData

__all__ = ["TOOL_SPECS", "render"]


def _slack_send_message(data: UserData, args: JSON) -> JSON:
    channel = req_str(args, "channel").strip()
    text = req_str(args, "text")
    for name in ("blocks", "attachments"):
        raw = opt_str(args, name)
        if raw and raw.strip():
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            if not isinstance(parsed, list):
                raise ToolArgumentError(f"`{name}` must be a JSON-encoded array")
    thread_ts = (opt_str(args, "thread_ts") or "").strip()
    with data.lock:
        serial = data.next_serial()
        ts = f"{int(data.now().timestamp())}.{serial % 1_000_000:06d}"
        message: JSON = {"type": "message", "channel": channel, "text": text,
                         "user": data.user_identifier, "ts": ts}
        if thread_ts:
            message["thread_ts"] = thread_ts
        data.slack_messages.append(message)
    return {"ok": True, "channel": channel, "ts": ts, "message": copy.deepcopy(message)}


_S, _B = "string", "boolean"

TOOL_SPECS: list[ToolSpec] = [
    ("slack_send_message",
     "Post a message as the user to a Slack channel, a thread or a direct message.", False,
     _slack_send_message,
     input_schema({
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


def render(tool_name: str, result: JSON) -> str | None:
    """Renders the Slack tool's result as short text; None for a tool this module does not know."""
    if tool_name == "slack_send_message":
        return f"Message posted to {result['channel']} (ts {result['ts']})."
    return None
