"""``/_emulator/...`` control routes: the emulator's test controls over HTTP (POST JSON).

They let scripts drive a standalone emulator. They are not counted, delayed or faulted.
Every control request needs the emulator's control token (``ScalekitEmulator.control_token``,
printed by ``scalekit-langchain emulator`` at start) as ``Authorization: Bearer <token>`` or
``X-Emulator-Token: <token>``: without it 401, with a wrong one 403 (see
:mod:`~scalekit_langchain.testing._guard`).

=================================  ==============================================================
route                              body
=================================  ==============================================================
``/_emulator/authorize``           ``{"user_identifier", "connection_name"}``
``/_emulator/expire_connection``   same
``/_emulator/disconnect``          same
``/_emulator/connection_status``   same; answers ``{"status": "ACTIVE" | ... | null}``
``/_emulator/user_data``           ``{"user_identifier"}``; answers the user's mail, events, ...
``/_emulator/latency``             ``{"seconds", "kind"?}``
``/_emulator/fail_next``           ``{"status", "count"?, "kind"?, "retry_after"?, "mode"?}``
``/_emulator/clear_faults``        ``{}``
``/_emulator/expire_access_tokens``  ``{}``
``/_emulator/drop_mcp_sessions``   ``{}``
``/_emulator/counts``              ``{}`` (GET works too); answers ``{"counts": {...}}``
``/_emulator/reset_counts``        ``{}``
``/_emulator/refusal_mode``        ``{"mode"?}``; sets the refusal mode when given, answers
                                   ``{"mode": "..."}``
``/_emulator/answer_mode``         ``{"mode"?}``; same, for ``sse`` / ``json``
``/_emulator/webhook``             ``{"url"?}``; sets where status-change webhooks go when
                                   given (``null`` or ``""``: nowhere), answers ``{"url",
                                   "deliveries"}`` (the attempts so far, with their HTTP status)
``/_emulator/mcp_era``             ``{"era"?}``; same, for ``handshake`` / ``both`` / ``new``
=================================  ==============================================================

Errors answer 400 ``{"error": "..."}``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from scalekit_langchain.testing._faults import FaultMode
    from scalekit_langchain.testing._mcp_host import McpHost
    from scalekit_langchain.testing._providers import UserData
    from scalekit_langchain.testing._webhooks import WebhookSender


class Controls(Protocol):
    """What the control routes drive: the emulator's public test controls."""

    @property
    def answer_mode(self) -> str: ...

    @property
    def refusal_mode(self) -> str: ...

    def set_answer_mode(self, mode: str) -> None: ...

    @property
    def mcp_era(self) -> str: ...

    def set_mcp_era(self, era: str) -> None: ...

    def set_refusal_mode(self, mode: str) -> None: ...

    def authorize(self, user_identifier: str, connection_name: str) -> None: ...

    def expire_connection(self, user_identifier: str, connection_name: str) -> None: ...

    def disconnect(self, user_identifier: str, connection_name: str) -> None: ...

    def connection_status(self, user_identifier: str, connection_name: str) -> str | None: ...

    def user_data(self, user_identifier: str) -> UserData: ...

    def set_latency(self, seconds: float, *, kind: str | None = None) -> None: ...

    def fail_next(
        self,
        status: int,
        count: int = 1,
        *,
        kind: str | None = None,
        retry_after: float | None = None,
        mode: FaultMode = "status",
    ) -> None: ...

    def clear_faults(self) -> None: ...

    def expire_access_tokens(self) -> None: ...

    def counts(self) -> dict[str, int]: ...

    def reset_counts(self) -> None: ...

    @property
    def webhooks(self) -> WebhookSender: ...

_Action = Callable[[dict[str, Any]], Awaitable[Any]]


def control_routes(emulator: Controls, host: McpHost) -> list[Route]:
    """Build the control routes for one emulator run.

    Args:
        emulator: The emulator whose controls are exposed.
        host: The MCP host of this run (sessions are dropped on it directly, in its loop).

    Returns:
        The starlette routes.
    """

    def user_conn(body: dict[str, Any]) -> tuple[str, str]:
        return str(body["user_identifier"]), str(body["connection_name"])

    async def authorize(body: dict[str, Any]) -> Any:
        emulator.authorize(*user_conn(body))
        return {"status": emulator.connection_status(*user_conn(body))}

    async def expire(body: dict[str, Any]) -> Any:
        emulator.expire_connection(*user_conn(body))
        return {"status": emulator.connection_status(*user_conn(body))}

    async def disconnect(body: dict[str, Any]) -> Any:
        emulator.disconnect(*user_conn(body))
        return {"status": emulator.connection_status(*user_conn(body))}

    async def status(body: dict[str, Any]) -> Any:
        return {"status": emulator.connection_status(*user_conn(body))}

    async def user_data(body: dict[str, Any]) -> Any:
        data = emulator.user_data(str(body["user_identifier"]))
        with data.lock:
            return {
                "email": data.email,
                "inbox": data.inbox,
                "sent": data.sent,
                "drafts": data.drafts,
                "events": data.events,
                "slack_messages": data.slack_messages,
            }

    async def latency(body: dict[str, Any]) -> Any:
        emulator.set_latency(float(body.get("seconds", 0)), kind=body.get("kind"))
        return {}

    async def fail_next(body: dict[str, Any]) -> Any:
        retry_after = body.get("retry_after")
        emulator.fail_next(
            int(body.get("status", 500)),
            int(body.get("count", 1)),
            kind=body.get("kind"),
            retry_after=float(retry_after) if retry_after is not None else None,
            mode=body.get("mode", "status"),
        )
        return {}

    async def clear_faults(body: dict[str, Any]) -> Any:
        emulator.clear_faults()
        return {}

    async def expire_tokens(body: dict[str, Any]) -> Any:
        emulator.expire_access_tokens()
        return {}

    async def drop_sessions(body: dict[str, Any]) -> Any:
        await host.drop_sessions()
        return {}

    async def counts(body: dict[str, Any]) -> Any:
        return {"counts": emulator.counts()}

    async def reset_counts(body: dict[str, Any]) -> Any:
        emulator.reset_counts()
        return {}

    async def refusal_mode(body: dict[str, Any]) -> Any:
        if body.get("mode") is not None:
            emulator.set_refusal_mode(str(body["mode"]))
        return {"mode": emulator.refusal_mode}

    async def answer_mode(body: dict[str, Any]) -> Any:
        if body.get("mode") is not None:
            emulator.set_answer_mode(str(body["mode"]))
        return {"mode": emulator.answer_mode}

    async def webhook(body: dict[str, Any]) -> Any:
        sender = emulator.webhooks
        if "url" in body:
            sender.url = str(body["url"]) if body["url"] else None
        return {
            "url": sender.url,
            "deliveries": [
                {"event_id": d.event_id, "user_identifier": d.user_identifier,
                 "connection_name": d.connection_name, "status": d.status,
                 "http_status": d.http_status}
                for d in list(sender.deliveries)
            ],
        }
    async def mcp_era(body: dict[str, Any]) -> Any:
        if body.get("era") is not None:
            emulator.set_mcp_era(str(body["era"]))
        return {"era": emulator.mcp_era}

    actions: dict[str, _Action] = {
        "authorize": authorize,
        "expire_connection": expire,
        "disconnect": disconnect,
        "connection_status": status,
        "user_data": user_data,
        "latency": latency,
        "fail_next": fail_next,
        "clear_faults": clear_faults,
        "expire_access_tokens": expire_tokens,
        "drop_mcp_sessions": drop_sessions,
        "counts": counts,
        "reset_counts": reset_counts,
        "refusal_mode": refusal_mode,
        "answer_mode": answer_mode,
        "webhook": webhook,
        "mcp_era": mcp_era,
    }

    def endpoint(action: _Action) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            raw = await request.body()
            try:
                body = json.loads(raw) if raw.strip() else {}
                if not isinstance(body, dict):
                    raise ValueError("body must be a JSON object")
                result = await action(body)
            except (ValueError, KeyError, TypeError) as exc:
                return JSONResponse({"error": f"{type(exc).__name__}: {exc}"}, status_code=400)
            return JSONResponse(result)

        return handle

    return [
        Route(f"/_emulator/{name}", endpoint(action), methods=["GET", "POST"])
        for name, action in actions.items()
    ]
