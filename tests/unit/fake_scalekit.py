"""A tiny scripted Scalekit for unit tests: records requests, answers from a queue or a router."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

ENV = "https://acme.scalekit.test"
SECRET = "sk_test_very_secret_value_123"
ACCESS = "at_super_secret_access_token"


def error_body(code: int, message: str, error_code: str, request_id: str = "req-1") -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "details": [
            {
                "@type": "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo",
                "error_code": error_code,
                "request_info": {"request_id": request_id},
            }
        ],
    }


class FakeScalekit:
    """Answers /oauth/token itself; other requests go to `router` (or a queued response)."""

    def __init__(self, router: Callable[[httpx.Request], httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.queue: list[httpx.Response | Exception] = []
        self.router = router
        self.token_requests = 0
        self.tokens_issued: list[str] = []
        self.expires_in = 3600

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/oauth/token":
            self.token_requests += 1
            token = f"{ACCESS}_{self.token_requests}"
            self.tokens_issued.append(token)
            return httpx.Response(
                200, json={"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}
            )
        if self.queue:
            item = self.queue.pop(0)
            if isinstance(item, Exception):
                raise item
            return item
        if self.router is not None:
            return self.router(request)
        return httpx.Response(404, json=error_body(5, "not found", "NOT_FOUND"))

    @property
    def api_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path != "/oauth/token"]

    def async_transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)

    def sync_transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)


def body(request: httpx.Request) -> Any:
    return json.loads(request.content) if request.content else None
