"""A TLS edge that speaks HTTP/2, in front of a plain HTTP/1.1 server (the emulator).

What a real load balancer or CDN edge does: it terminates TLS, offers ``h2`` and ``http/1.1``
through ALPN, and forwards each request (HTTP/2 stream or HTTP/1.1 request) to the upstream
over HTTP/1.1. Hypercorn serves the client side (it speaks h2 over TLS); the forwarding is a
small ASGI reverse proxy that streams answers (SSE included) as they arrive and drops the
upstream request when the client's stream goes away.

Used by ``tests/integration/test_http2.py`` and the benchmark (``benchmarks/_h2.py``); count
client connections with a plain TCP proxy in front (:class:`CountingProxy` in ``_net_support``,
or the benchmark network's delay stage): TLS and ALPN pass through it untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import tempfile
import threading
from typing import Any

import httpx
from hypercorn.asyncio import serve
from hypercorn.config import Config

from tests.integration._net_support import free_port, self_signed_pem

# Hop-by-hop headers (RFC 9110 §7.6.1) and what httpx sets itself are not forwarded.
_HOP = {
    b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade", b"te",
    b"host", b"content-length",
}


class _Proxy:
    """ASGI app forwarding every HTTP request to ``upstream`` (``http://127.0.0.1:port``)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.client: httpx.AsyncClient | None = None
        #: HTTP versions the clients spoke, one entry per request ("2", "1.1").
        self.versions: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.versions.append(scope["http_version"])
        if self.client is None:
            self.client = httpx.AsyncClient(
                base_url=self.upstream, timeout=httpx.Timeout(30.0, read=None)
            )
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        target = scope["raw_path"].decode("latin-1")
        if scope["query_string"]:
            target += "?" + scope["query_string"].decode("latin-1")
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _HOP]
        request = self.client.build_request(scope["method"], target, headers=headers, content=body)
        response = await self.client.send(request, stream=True)
        pump = asyncio.ensure_future(self._pump(response, send))
        gone = asyncio.ensure_future(self._disconnected(receive))
        try:
            await asyncio.wait({pump, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, gone):
                task.cancel()
            await asyncio.gather(pump, gone, return_exceptions=True)
            await response.aclose()

    @staticmethod
    async def _pump(response: httpx.Response, send: Any) -> None:
        headers = [
            (k.lower(), v) for k, v in response.headers.raw if k.lower() not in _HOP
        ]
        await send({"type": "http.response.start", "status": response.status_code,
                    "headers": headers})
        async for chunk in response.aiter_raw():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    @staticmethod
    async def _disconnected(receive: Any) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass


class H2Edge:
    """Hypercorn over TLS (ALPN ``h2``, ``http/1.1``) on 127.0.0.1, forwarding to
    ``upstream_port``, in its own thread and loop. :attr:`client_tls` trusts its certificate
    (:attr:`ca_pem`).
    """

    def __init__(self, upstream_port: int) -> None:
        self.port = free_port()
        self.app = _Proxy(f"http://127.0.0.1:{upstream_port}")
        cert_pem, key_pem = self_signed_pem()
        self._dir = tempfile.TemporaryDirectory()
        config = Config()
        config.bind = [f"127.0.0.1:{self.port}"]
        config.certfile, config.keyfile = f"{self._dir.name}/cert.pem", f"{self._dir.name}/key.pem"
        with open(config.certfile, "wb") as f:
            f.write(cert_pem)
        with open(config.keyfile, "wb") as f:
            f.write(key_pem)
        config.alpn_protocols = ["h2", "http/1.1"]
        config.keep_alive_timeout = 60
        config.graceful_timeout = 1
        config.loglevel = "WARNING"
        config.accesslog = None
        self._config = config
        self.ca_pem = cert_pem.decode("ascii")
        self.client_tls = ssl.create_default_context(cadata=self.ca_pem)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._stop: asyncio.Event | None = None
        self._served: Any = None

    async def _start(self) -> None:
        self._stop = asyncio.Event()
        self._served = asyncio.ensure_future(
            serve(self.app, self._config, shutdown_trigger=self._stop.wait, mode="asgi")  # type: ignore[arg-type]
        )
        while True:  # bound once it accepts a TCP connection
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            await asyncio.sleep(0.01)

    def __enter__(self) -> H2Edge:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            assert self._stop is not None
            self._stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._served, 5)
            if self.app.client is not None:
                await self.app.client.aclose()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._dir.cleanup()
