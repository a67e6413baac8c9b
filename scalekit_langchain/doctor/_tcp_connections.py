"""Which TCP connection served each request: a transport wrapper that counts connections.

:class:`ConnectionCounter` wraps a transport and tells which TCP connection served each request
(httpcore hands its network stream to the response's ``network_stream`` extension), so the
doctor can tell whether a connection survives a warm call.
"""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["ConnectionCounter"]


class ConnectionCounter(httpx.AsyncBaseTransport):
    """A transport that records which TCP connection served each request.

    It works with httpx and with httpx2 (what the installed ``mcp`` 2 drives): pass the
    matching ``inner`` transport; only ``handle_async_request``/``aclose`` are used.

    Args:
        inner: The transport doing the work (an ``httpx.AsyncHTTPTransport`` by default).
    """

    def __init__(self, inner: Any = None) -> None:
        self._inner = inner or httpx.AsyncHTTPTransport()
        #: The ``Mcp-Session-Id`` the server issued, if any.
        self.session_id_issued = False
        # Strong references: identity must not be recycled while we compare.
        self._streams: list[object] = []
        #: Per request, in order: (method, index of its connection, or -1 when unknown).
        self.requests: list[tuple[str, int]] = []

    def _index(self, stream: object | None) -> int:
        if stream is None:
            return -1
        for i, seen in enumerate(self._streams):
            if seen is stream:
                return i
        self._streams.append(stream)
        return len(self._streams) - 1

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and note its connection."""
        response = await self._inner.handle_async_request(request)
        if response.headers.get("mcp-session-id"):
            self.session_id_issued = True
        stream = response.extensions.get("network_stream")
        self.requests.append((request.method, self._index(stream)))
        return response

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self._inner.aclose()

    def mark(self) -> int:
        """Return a position in :attr:`requests` to measure from."""
        return len(self.requests)

    def new_connections_since(self, mark: int, method: str = "POST") -> int | None:
        """Count requests of ``method`` after ``mark`` that opened a connection not seen before.

        Returns:
            The count, or None when the transport does not reveal connections.
        """
        earlier = {i for _, i in self.requests[:mark]}
        later = [i for m, i in self.requests[mark:] if m == method]
        if any(i < 0 for i in later) or not later:
            return None
        fresh = 0
        for i in later:
            if i not in earlier:
                fresh += 1
                earlier.add(i)
        return fresh
