"""Integration tests: the real clients against the Scalekit emulator over loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from scalekit_langchain import AsyncScalekitClient, ScalekitClient
from scalekit_langchain.testing import ScalekitEmulator


@pytest.fixture
def emulator() -> Iterator[ScalekitEmulator]:
    """A fresh emulator per test, on a free loopback port."""
    with ScalekitEmulator() as emu:
        yield emu


@pytest.fixture
async def aclient(emulator: ScalekitEmulator) -> AsyncIterator[AsyncScalekitClient]:
    """An async client of ``emulator``, closed after the test."""
    client = AsyncScalekitClient(
        env_url=emulator.env_url,
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
    )
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def client(emulator: ScalekitEmulator) -> Iterator[ScalekitClient]:
    """A sync client of ``emulator``, closed after the test."""
    with ScalekitClient(
        env_url=emulator.env_url,
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
    ) as sync_client:
        yield sync_client
