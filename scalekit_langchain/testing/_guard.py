"""The emulator's outermost ASGI layer: Host/Origin checks and the control-route token.

The emulator is a local test server, but a browser on the same machine can still reach it:
a web page could POST to ``http://127.0.0.1:<port>/_emulator/authorize`` (cross-site request)
or, through DNS rebinding, read its answers under a foreign host name. So:

* every request must carry a ``Host`` that names the loopback interface with the bound port
  (``127.0.0.1:<port>``, ``localhost:<port>``, ``[::1]:<port>``) or the bound host itself;
  otherwise 403. An emulator started with ``allow_remote=True`` skips this check, because
  remote clients reach it under names it cannot know;
* a request with an ``Origin`` header must come from the same origin as its ``Host``
  (``http://<host>``); otherwise 403. Requests without ``Origin`` (non-browser clients) pass;
* ``/_emulator/...`` control routes need the emulator's control token, as
  ``Authorization: Bearer <token>`` or ``X-Emulator-Token: <token>``: without one 401 (with
  ``WWW-Authenticate: Bearer``), with a wrong one 403.

Refused requests are not counted and never reach the fault injection.
"""

from __future__ import annotations

import json
import secrets

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

CONTROL_PREFIX = "/_emulator"
TOKEN_HEADER = "x-emulator-token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def allowed_hosts(host: str, port: int) -> frozenset[str]:
    """Return the ``Host`` header values an emulator bound to ``host:port`` accepts.

    Args:
        host: The bound interface.
        port: The bound port.

    Returns:
        Lowercase ``name:port`` values.
    """
    bound = f"[{host}]" if ":" in host else host
    names = {*LOOPBACK_NAMES, bound.lower()}
    return frozenset(f"{name}:{port}" for name in names)


class GuardMiddleware:
    """Refuses foreign ``Host``/``Origin`` headers and unauthenticated control requests.

    Args:
        app: The app to protect.
        hosts: Accepted ``Host`` values; None accepts any (remote access allowed).
        control_token: The token the control routes require.
    """

    def __init__(self, app: ASGIApp, hosts: frozenset[str] | None, control_token: str) -> None:
        self.app = app
        self.hosts = hosts
        self.control_token = control_token

    def _problem(self, scope: Scope) -> tuple[int, str] | None:
        headers = Headers(scope=scope)
        host = headers.get("host", "").strip().lower()
        if self.hosts is not None and host not in self.hosts:
            return 403, "forbidden: unexpected Host header"
        origin = headers.get("origin")
        if origin is not None and origin.strip().lower().rstrip("/") != f"http://{host}":
            return 403, "forbidden: cross-origin request"
        if scope["path"].startswith(CONTROL_PREFIX):
            token = headers.get(TOKEN_HEADER)
            if token is None:
                scheme, _, value = headers.get("authorization", "").partition(" ")
                token = value.strip() if scheme.lower() == "bearer" else None
            if not token:
                return 401, "the control routes need the emulator's control token"
            if not secrets.compare_digest(token.encode(), self.control_token.encode()):
                return 403, "wrong control token"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = self._problem(scope)
        if problem is None:
            await self.app(scope, receive, send)
            return
        status, message = problem
        body = json.dumps({"error": message}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="scalekit-emulator-control"'))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
