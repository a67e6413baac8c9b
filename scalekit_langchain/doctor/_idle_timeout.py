"""How long an MCP server keeps an idle HTTP connection open.

One request on a fresh connection, answered and read to its end; then the connection idles and
its socket is watched: a server that closes an idle connection makes the socket readable (it
would read its end). The time until then is the server's idle timeout, which the toolkit's
``keepalive_expiry`` should stay under (the emulator plays it as ``idle_timeout``).

The request is a JSON-RPC ``ping`` outside any session: nothing runs, whatever the answer.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import httpx

__all__ = ["idle_timeout_setting", "watch_idle_connection"]

#: How often the idle socket is looked at (seconds).
_POLL = 0.1


async def watch_idle_connection(
    url: str, *, limit: float, timeout: float, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """Watch one idle connection to ``url`` for at most ``limit`` seconds.

    Returns:
        ``closed_after_seconds`` (``None``: still open after ``watched_seconds``), the
        ``http_status`` of the request, or ``error`` when it could not be made.
    """
    # The client's own keep-alive must not be what closes the connection.
    limits = httpx.Limits(max_connections=1, keepalive_expiry=limit + 60)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
        try:
            response = await client.post(
                url,
                json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                headers={
                    "accept": "application/json, text/event-stream",
                    **(headers or {}),
                },
            )
        except httpx.HTTPError as exc:
            return {"error": type(exc).__name__}
        stream = response.extensions.get("network_stream")
        out: dict[str, Any] = {"http_status": response.status_code, "watched_seconds": limit}
        if stream is None or response.headers.get("connection", "").lower() == "close":
            out["closed_after_seconds"] = 0.0
            return out
        idle_since = time.monotonic()
        while (idle := time.monotonic() - idle_since) < limit:
            if stream.get_extra_info("is_readable"):
                out["closed_after_seconds"] = round(idle, 2)
                return out
            await asyncio.sleep(_POLL)
        out["closed_after_seconds"] = None
        return out


def idle_timeout_setting(observed: dict[str, Any] | None) -> float | None:
    """The profile's ``idle_timeout`` from an observation: whole seconds the server kept the
    connection (the watch's length when it never closed it: a lower bound); ``None`` when
    nothing was observed."""
    if not observed or "error" in observed:
        return None
    closed = observed.get("closed_after_seconds")
    if closed is None:
        watched = observed.get("watched_seconds")
        return float(watched) if isinstance(watched, (int, float)) else None
    # Closed at once (``Connection: close``) or within a second: no keep-alive to play.
    return float(math.floor(closed)) if closed >= 1 else None
