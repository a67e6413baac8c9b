"""What crossed the wire for each MCP request: the transport wrapper under the MCP SDK.

:class:`CallTracker` wraps the HTTP transport of one MCP session (httpx on mcp 1.x, httpx2 on
mcp 2.x, through :data:`scalekit_langchain._mcp_stack.http`) and does three jobs the SDK does
not:

* **records** per ``tools/call`` what reached the server and how it answered (HTTP status,
  ``Retry-After``, a JSON-RPC error in an error body), so the session can tell a refusal from a
  call that may have run, the same way on both SDK majors (1.x raises on an error status, 2.x
  turns it into a generic JSON-RPC error);
* **watches** each tool call's answer body: a connection cut mid-body, an unreadable JSON body
  or an answer of another content type is reported at once through :attr:`Exchange.broken`
  (the SDK would otherwise wait for the call's timeout);
* **keeps connections alive**: the SDK closes an SSE answer as soon as its JSON-RPC response
  arrived, before the HTTP body has ended, and the HTTP/1.1 pool drops a connection whose
  response did not end. Closing a POST answer here first reads what is left of its body (a few
  bytes: the end of the chunked stream), so the connection goes back to the pool and a warm
  call opens no TCP connection and does no TLS handshake.
"""

from __future__ import annotations

import asyncio
import functools
import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio

from scalekit_langchain._http2 import StreamIds, never_processed
from scalekit_langchain._mcp_stack import http

__all__ = ["CALL_ID_META", "CallTracker", "Exchange", "shared_ssl_context"]


@functools.lru_cache(maxsize=1)
def shared_ssl_context() -> ssl.SSLContext:
    """One TLS context for every MCP session: building one loads the CA bundle, which costs
    ~40 ms of CPU and ~800 KB per session (measured by the benchmarks)."""
    context: ssl.SSLContext = http.create_ssl_context()
    return context

#: Request ``_meta`` key carrying our id of a ``tools/call`` (how the tracker finds it).
CALL_ID_META = "scalekit_langchain/call_id"
_MCP_CONTENT_TYPES = ("application/json", "text/event-stream")
#: Reading the rest of an answer before closing it: at most this long and this much.
_DRAIN_SECONDS = 2.0
#: How long an SSE answer's end is awaited before the SDK gets the response it carries.
READ_AHEAD_SECONDS = 0.1
_DRAIN_BYTES = 1 << 20
_ERROR_BODY_BYTES = 1 << 16


@dataclass
class Exchange:
    """What the wire did for one ``tools/call`` (or, keyed by method, another request).

    Attributes:
        sent: The request may have reached the server (False: the connection never opened).
        status: The HTTP status of the answer, once its headers arrived.
        retry_after: The answer's ``Retry-After`` seconds, when it gave one.
        rpc_error: ``(code, message)`` of a JSON-RPC error the server answered (in an
            error-status body, or as the JSON-RPC response of a 200 answer).
        rpc_data: That error's ``data``, when it had one.
        broken: Set when the answer cannot deliver a result (cut, unreadable, wrong type).
    """

    sent: bool = False
    status: int | None = None
    retry_after: float | None = None
    rpc_error: tuple[int, str] | None = None
    rpc_data: Any = None
    broken: asyncio.Future[str] | None = field(default=None, repr=False)

    def mark_broken(self, why: str) -> None:
        if self.broken is not None and not self.broken.done():
            self.broken.set_result(why)

    @property
    def broken_reason(self) -> str | None:
        if self.broken is not None and self.broken.done():
            return self.broken.result()
        return None


def _parse(request: Any) -> tuple[str | None, str | None]:
    """``(method, call id)`` of a JSON-RPC POST body (``None``s for anything else)."""
    if request.method != "POST":
        return None, None
    try:
        body = json.loads(request.content)
    except (ValueError, TypeError):
        return None, None
    if not isinstance(body, dict):
        return None, None
    method = body.get("method")
    params = body.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    call_id = meta.get(CALL_ID_META) if isinstance(meta, dict) else None
    return (
        method if isinstance(method, str) else None,
        call_id if isinstance(call_id, str) else None,
    )


def _retry_after(headers: Any) -> float | None:
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _rpc_error_with_data(body: bytes) -> tuple[int, str, Any] | None:
    try:
        message = json.loads(body)
    except ValueError:
        return None
    return _rpc_error_of(message)


def _rpc_error_of(message: Any) -> tuple[int, str, Any] | None:
    """``(code, message, data)`` of a parsed JSON-RPC error response, else ``None``."""
    error = message.get("error") if isinstance(message, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), int):
        return error["code"], str(error.get("message") or ""), error.get("data")
    return None


def _record_rpc_error(exchange: Exchange, body: bytes | dict[str, Any]) -> None:
    """Record the JSON-RPC error ``body`` (raw, or already parsed) carries, if any."""
    found = _rpc_error_of(body) if isinstance(body, dict) else _rpc_error_with_data(body)
    if found is not None:
        exchange.rpc_error = (found[0], found[1])
        exchange.rpc_data = found[2]


class SseAnswer:
    """Spots the JSON-RPC response in an SSE answer, event by event."""

    def __init__(self) -> None:
        self._pending = b""
        self.answered = False
        #: ``(code, message, data)`` when the response is a JSON-RPC error.
        self.error: tuple[int, str, Any] | None = None

    def feed(self, chunk: bytes) -> bool:
        """Add ``chunk``; True once a complete event carrying a JSON-RPC response was seen."""
        self._pending += chunk.replace(b"\r\n", b"\n")
        while not self.answered and b"\n\n" in self._pending:
            event, self._pending = self._pending.split(b"\n\n", 1)
            self.answered = self._is_response(event)
        return self.answered

    def flush(self) -> bool:
        """At the end of the stream: an unterminated last event counts too."""
        if not self.answered and self._pending.strip():
            self.answered = self._is_response(self._pending)
        return self.answered

    def _is_response(self, event: bytes) -> bool:
        data = b"\n".join(
            line[5:].lstrip(b" ") for line in event.split(b"\n") if line.startswith(b"data:")
        )
        if not data:
            return False
        try:
            message = json.loads(data)
        except ValueError:
            return False
        if not (
            isinstance(message, dict)
            and "id" in message
            and ("result" in message or "error" in message)
        ):
            return False
        self.error = _rpc_error_with_data(data)
        return True


class AnswerStream(http.AsyncByteStream):
    """An answer body that reports breaks and gives its connection back to the pool early.

    For an SSE answer, once the event carrying the JSON-RPC response has arrived, the rest of
    the body (normally just the end of the chunked stream) is read and the response closed
    *before* the SDK sees that event: the connection is then back in the pool before the
    caller gets its result and sends the next request.
    """

    def __init__(self, inner: Any, exchange: Exchange | None, *, kind: str, drain: bool) -> None:
        self._inner = inner
        self._iterator: AsyncIterator[bytes] | None = None
        self._exchange = exchange
        self._kind = kind  # "json" | "sse" | "other"
        self._drain = drain
        self._drained = False
        self._ended = False
        self._body = bytearray()
        self._sse = SseAnswer() if kind == "sse" else None

    def _chunks(self) -> AsyncIterator[bytes]:
        if self._iterator is None:
            self._iterator = self._inner.__aiter__()
        return self._iterator

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = self._chunks()
        while True:
            try:
                chunk = await chunks.__anext__()
            except StopAsyncIteration:
                break
            except http.TransportError as exc:
                if self._exchange is not None:
                    self._exchange.mark_broken(f"the answer was cut: {type(exc).__name__}")
                raise
            if self._kind == "json" and self._exchange is not None:
                self._body.extend(chunk)
            answered = self._sse is not None and self._sse.feed(chunk)
            error = self._sse.error if answered and self._sse is not None else None
            if error is not None and self._exchange is not None:
                # The server's own JSON-RPC error (the SDK reports some codes like its own).
                self._exchange.rpc_error = (error[0], error[1])
                self._exchange.rpc_data = error[2]
            if self._sse is not None and self._sse.answered and self._drain:
                # A server that keeps the stream open after its answer costs at most this
                # wait per call (and the connection, as without the drain).
                rest = await self.read_rest(READ_AHEAD_SECONDS)
                await self._inner.aclose()  # hands the connection back to the pool
                yield chunk
                for more in rest:
                    yield more
                return
            yield chunk
        self._ended = True
        if self._exchange is None:
            return
        if self._kind == "json":
            try:
                message = json.loads(self._body)
            except ValueError:
                # The SDK drops (1.x) or reports late an unparsable answer.
                self._exchange.mark_broken("the answer is not valid JSON")
            else:
                if isinstance(message, dict):  # parsed once: the error is read from it
                    _record_rpc_error(self._exchange, message)
        elif self._sse is not None and not self._sse.flush():
            # The stream closed without a response (1.x would wait for the call's timeout).
            self._exchange.mark_broken("the answer stream ended without a result")

    async def aclose(self) -> None:
        try:
            if self._drain and not self._ended:
                await self.read_rest()
        finally:
            await self._inner.aclose()

    async def read_rest(self, limit: float = 0.0) -> list[bytes]:
        """Read what is left of the body (bounded) so the pool can keep the connection."""
        rest: list[bytes] = []
        if self._drained:
            return rest
        self._drained = True
        read = 0
        with anyio.move_on_after(limit or _DRAIN_SECONDS):
            try:
                async for chunk in self._chunks():
                    rest.append(chunk)
                    read += len(chunk)
                    if read > _DRAIN_BYTES:
                        return rest
            except Exception:  # a broken tail costs the connection, nothing else
                return rest
            self._ended = True
        return rest


class CallTracker(http.AsyncBaseTransport):
    """Wraps one MCP session's HTTP transport; see the module docstring."""

    def __init__(self, inner: Any, *, http2: bool = False) -> None:
        self._inner = inner
        #: HTTP/2 may be spoken: tool calls record their stream id (see ``_http2``).
        self.http2 = http2
        self.requests = 0
        self.calls: dict[str, Exchange] = {}
        #: The last answer to each other JSON-RPC method (``initialize``, ``tools/list``...).
        self.methods: dict[str, Exchange] = {}
        #: Set once the SDK asked for its standing GET stream (server-to-client messages).
        self.stream_requested = asyncio.Event()

    def watch(self, call_id: str) -> Exchange:
        """Start recording the ``tools/call`` whose request ``_meta`` carries ``call_id``."""
        exchange = Exchange(broken=asyncio.get_running_loop().create_future())
        self.calls[call_id] = exchange
        return exchange

    def forget(self, call_id: str) -> None:
        exchange = self.calls.pop(call_id, None)
        if exchange is not None and exchange.broken is not None and not exchange.broken.done():
            exchange.broken.cancel()

    async def handle_async_request(self, request: Any) -> Any:
        self.requests += 1
        if request.method == "GET":
            self.stream_requested.set()
        method, call_id = _parse(request)
        exchange = self.calls.get(call_id) if call_id else None
        if exchange is None and method is not None and method != "tools/call":
            exchange = self.methods[method] = Exchange()
        if exchange is not None:
            # Counted as sent from the start: the SDK may report a failure (say, the session
            # closed) while the request is still in flight; only a connection that provably
            # never opened un-sends it.
            exchange.sent = True
        streams = StreamIds(request.extensions) if exchange is not None and self.http2 else None
        try:
            response = await self._inner.handle_async_request(request)
        except (http.ConnectError, http.ConnectTimeout):
            if exchange is not None:
                exchange.sent = False
            raise
        except http.RemoteProtocolError as exc:
            # HTTP/2's proof that the server did not process the stream (see _http2).
            if exchange is not None and streams is not None:
                exchange.sent = not never_processed(exc, streams.stream_id)
            raise
        if exchange is None:
            return response
        exchange.status = response.status_code
        exchange.retry_after = _retry_after(response.headers)
        ctype = response.headers.get("content-type", "").lower()
        if response.status_code >= 400:
            # Error answers are small: read them here so the JSON-RPC error they may carry is
            # known on both SDK majors (1.x raises on the status without reading the body).
            body = await self._read_error_body(response)
            if ctype.startswith("application/json"):
                _record_rpc_error(exchange, body)
            return http.Response(
                response.status_code,
                headers=[(k, v) for k, v in response.headers.items() if k != "content-length"],
                content=body,
                extensions=response.extensions,
                request=request,
            )
        watched = exchange if call_id else None
        if watched is not None and response.status_code == 200:
            if not ctype.startswith(_MCP_CONTENT_TYPES):
                watched.mark_broken(f"unexpected content-type {ctype or 'none'!r}")
        elif watched is not None and response.status_code != 202:
            watched.mark_broken(f"unexpected HTTP {response.status_code}")
        kind = (
            "json"
            if ctype.startswith("application/json")
            else "sse"
            if ctype.startswith("text/event-stream")
            else "other"
        )
        stream = AnswerStream(response.stream, watched, kind=kind, drain=True)
        if not isinstance(response.stream, http.ByteStream):
            # A network answer: its own Response, the stream wrapped (no second one per call).
            response.stream = stream
            return response
        # An in-memory answer (already read into the Response): served again through ours.
        return http.Response(
            response.status_code,
            headers=response.headers,
            stream=stream,
            extensions=response.extensions,
            request=request,
        )

    @staticmethod
    async def _read_error_body(response: Any) -> bytes:
        body = bytearray()
        try:
            async for chunk in response.stream:
                body.extend(chunk)
                if len(body) > _ERROR_BODY_BYTES:
                    break
        except http.TransportError:
            pass
        finally:
            await response.stream.aclose()
        return bytes(body)

    async def aclose(self) -> None:
        await self._inner.aclose()
