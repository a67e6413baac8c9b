"""Unit tests run without sockets: every HTTP exchange goes through httpx.MockTransport."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _no_sockets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def guard(*args: object, **kwargs: object) -> None:
        raise RuntimeError("unit tests must not open sockets; use httpx.MockTransport")

    monkeypatch.setattr(socket.socket, "connect", guard)
    yield
