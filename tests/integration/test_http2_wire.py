"""Never twice on HTTP/2: which h2 failures prove a tool call was not processed.

A raw HTTP/2 server on 127.0.0.1 (TLS, ALPN ``h2``, written with the ``h2`` package) answers
each request stream with one failure; the session's transport (:class:`CallTracker` over the
installed stack's HTTP library with HTTP/2 on) sends one ``tools/call`` and the session's
failure policy (:func:`judge_call`) decides. Only a stream refused (``RST_STREAM
REFUSED_STREAM``) or left out by a ``GOAWAY`` (``last_stream_id`` below it) may be sent again;
a reset with another code, or a ``GOAWAY`` that covers the stream, leaves the outcome unknown.
The server counts the streams it received: each failure is seen on exactly one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import h2.config
import h2.connection
import h2.events
import pytest
from h2.errors import ErrorCodes

from scalekit_langchain._failure_policy import judge_call
from scalekit_langchain._mcp_stack import http
from scalekit_langchain._mcp_transport import CALL_ID_META, CallTracker
from scalekit_langchain.errors import ScalekitConnectionError, ToolCallOutcomeUnknown
from tests.integration._net_support import LoopThreadServer, self_signed


class FailingH2Server(LoopThreadServer):
    """Accepts h2 over TLS and fails every request stream the way ``mode`` says."""

    def __init__(self, mode: str) -> None:
        tls, self.client_tls = self_signed()
        tls.set_alpn_protocols(["h2"])
        super().__init__(tls)
        self.mode = mode
        self.streams = 0  # request streams whose headers arrived

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        closing = False
        try:
            while not closing and (data := await reader.read(65536)):
                for event in conn.receive_data(data):
                    closing = self._answer(conn, event) or closing
                writer.write(conn.data_to_send())
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    def _answer(self, conn: h2.connection.H2Connection, event: h2.events.Event) -> bool:
        """Fail ``event``'s stream; True once the connection is to be closed."""
        if isinstance(event, h2.events.RequestReceived):
            self.streams += 1
            stream = event.stream_id
            if self.mode == "refused_stream":
                conn.reset_stream(stream, error_code=ErrorCodes.REFUSED_STREAM)
            elif self.mode == "goaway_before":  # processed none: last_stream_id 0
                conn.close_connection(ErrorCodes.NO_ERROR, last_stream_id=0)
                return True
            elif self.mode == "goaway_covering":  # may have processed it
                conn.close_connection(ErrorCodes.NO_ERROR, last_stream_id=stream)
                return True
        elif isinstance(event, h2.events.StreamEnded) and self.mode == "internal_error":
            conn.reset_stream(event.stream_id, error_code=ErrorCodes.INTERNAL_ERROR)
        return False

    def __enter__(self) -> FailingH2Server:
        return super().__enter__()  # type: ignore[no-any-return]


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[FailingH2Server]:
    with FailingH2Server(request.param) as failing:
        yield failing


async def _one_call(server: FailingH2Server) -> tuple[Exception, object]:
    tracker = CallTracker(
        http.AsyncHTTPTransport(verify=server.client_tls, http2=True), http2=True
    )
    exchange = tracker.watch("call-1")
    body = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": "gmail_send_message", "arguments": {}, "_meta": {CALL_ID_META: "call-1"}},
    }
    async with http.AsyncClient(transport=tracker, timeout=10) as client:
        with pytest.raises(http.RemoteProtocolError) as raised:
            await client.post(
                f"https://127.0.0.1:{server.port}/mcp",
                content=json.dumps(body),
                headers={"content-type": "application/json"},
            )
    return raised.value, exchange


@pytest.mark.parametrize("server", ["refused_stream", "goaway_before"], indirect=True)
async def test_a_stream_the_server_did_not_process_may_be_sent_again(
    server: FailingH2Server,
) -> None:
    exc, exchange = await _one_call(server)
    assert server.streams == 1  # seen once: the HTTP library did not re-send it on its own
    assert exchange.sent is False  # type: ignore[attr-defined]
    verdict = judge_call(
        "gmail_send_message", exc, label="h2", exchange=exchange,  # type: ignore[arg-type]
        call_timeout=10, failure=exc,
    )
    assert verdict.resend is True
    assert isinstance(verdict.error, ScalekitConnectionError)
    assert "did not run" in str(verdict.error)


@pytest.mark.parametrize("server", ["internal_error", "goaway_covering"], indirect=True)
async def test_any_other_h2_failure_leaves_the_outcome_unknown(server: FailingH2Server) -> None:
    exc, exchange = await _one_call(server)
    assert server.streams == 1
    assert exchange.sent is True  # type: ignore[attr-defined]
    verdict = judge_call(
        "gmail_send_message", exc, label="h2", exchange=exchange,  # type: ignore[arg-type]
        call_timeout=10, failure=exc,
    )
    assert verdict.resend is False
    assert isinstance(verdict.error, ToolCallOutcomeUnknown)
