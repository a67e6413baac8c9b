"""_wire: what the transport wrapper records and how it reads answers (no sockets).

Written against the HTTP library the installed MCP SDK drives (httpx or httpx2), so it runs
on both stacks.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from scalekit_langchain._mcp_stack import http
from scalekit_langchain._mcp_transport import CALL_ID_META, CallTracker, SseAnswer


def _call_request(call_id: str | None = "c1", method: str = "tools/call") -> Any:
    params: dict[str, Any] = {"name": "send", "arguments": {}}
    if call_id:
        params["_meta"] = {CALL_ID_META: call_id}
    body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": params}
    return http.Request("POST", "http://127.0.0.1/mcp/secret", content=json.dumps(body).encode())


class _Chunks(http.AsyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.served = 0
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.served += 1
            yield chunk

    async def aclose(self) -> None:
        self.closed = True


class _Fixed(http.AsyncBaseTransport):
    def __init__(self, response: Any = None, error: BaseException | None = None) -> None:
        self.response = response
        self.error = error

    async def handle_async_request(self, request: Any) -> Any:
        if self.error is not None:
            raise self.error
        return self.response


def test_sse_answer_spots_the_response_across_chunks_and_line_endings() -> None:
    sse = SseAnswer()
    assert not sse.feed(b'event: message\r\ndata: {"jsonrpc":"2.0","method":"notifications/')
    assert not sse.feed(b'progress","params":{}}\r\n\r\nevent: message\r\ndata: {"jsonrpc":')
    assert not sse.feed(b'"2.0","id":7,"result":{}}\r\n')
    assert sse.feed(b"\r\n")


def test_sse_answer_flushes_an_unterminated_last_event() -> None:
    sse = SseAnswer()
    assert not sse.feed(b'data: {"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"x"}}')
    assert sse.flush()
    assert not SseAnswer().flush()


async def test_error_answer_is_recorded_and_served_again() -> None:
    error = {"jsonrpc": "2.0", "id": 7, "error": {"code": -32602, "message": "bad"}}
    inner = _Fixed(http.Response(400, json=error, headers={"retry-after": "2"}))
    tracker = CallTracker(inner)
    exchange = tracker.watch("c1")
    response = await tracker.handle_async_request(_call_request())
    assert (exchange.sent, exchange.status, exchange.retry_after) == (True, 400, 2.0)
    assert exchange.rpc_error == (-32602, "bad")
    assert json.loads(await response.aread()) == error  # the SDK still reads the body


async def test_a_connection_that_never_opened_is_not_sent() -> None:
    request = _call_request()
    tracker = CallTracker(_Fixed(error=http.ConnectError("refused", request=request)))
    exchange = tracker.watch("c1")
    with pytest.raises(http.ConnectError):
        await tracker.handle_async_request(request)
    assert (exchange.sent, exchange.status) == (False, None)


async def test_a_request_that_left_is_sent_even_when_it_fails() -> None:
    request = _call_request()
    tracker = CallTracker(_Fixed(error=http.ReadError("reset", request=request)))
    exchange = tracker.watch("c1")
    with pytest.raises(http.ReadError):
        await tracker.handle_async_request(request)
    assert exchange.sent is True


async def test_sse_answer_is_read_to_its_end_and_closed_before_the_response_is_seen() -> None:
    event = b'event: message\ndata: {"jsonrpc":"2.0","id":7,"result":{"content":[]}}\n\n'
    body = _Chunks([event, b""])
    inner = _Fixed(http.Response(200, headers={"content-type": "text/event-stream"}, stream=body))
    tracker = CallTracker(inner)
    tracker.watch("c1")
    response = await tracker.handle_async_request(_call_request())
    seen = []
    async for chunk in response.aiter_raw():
        # By the time the response event reaches the SDK, the body has been read to its end
        # and closed: the connection is back in the pool.
        seen.append((chunk, body.served, body.closed))
        break
    assert seen == [(event, 2, True)]
    await response.aclose()


async def test_sse_answer_that_ends_without_a_response_is_broken() -> None:
    event = b'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/message"}\n\n'
    inner = _Fixed(http.Response(200, headers={"content-type": "text/event-stream"},
                                 stream=_Chunks([event])))
    tracker = CallTracker(inner)
    exchange = tracker.watch("c1")
    response = await tracker.handle_async_request(_call_request())
    await response.aread()
    assert exchange.broken_reason == "the answer stream ended without a result"


@pytest.mark.parametrize(
    ("ctype", "body", "reason"),
    [
        ("application/json", b"{not json", "the answer is not valid JSON"),
        ("text/html", b"<html>", "unexpected content-type 'text/html'"),
    ],
)
async def test_unreadable_answers_are_broken(ctype: str, body: bytes, reason: str) -> None:
    inner = _Fixed(http.Response(200, headers={"content-type": ctype}, content=body))
    tracker = CallTracker(inner)
    exchange = tracker.watch("c1")
    response = await tracker.handle_async_request(_call_request())
    await response.aread()
    assert exchange.broken_reason == reason


async def test_other_requests_are_recorded_by_method() -> None:
    inner = _Fixed(http.Response(401, content=b"no"))
    tracker = CallTracker(inner)
    await tracker.handle_async_request(_call_request(None, method="initialize"))
    assert tracker.methods["initialize"].status == 401
    assert tracker.calls == {}
    assert tracker.requests == 1
