"""Integration tests: the real clients against the Scalekit emulator over loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from scalekit_langchain import AsyncScalekitClient, ScalekitClient, _mcp_stack
from scalekit_langchain.testing import McpEra, ScalekitEmulator

#: The MCP eras a toolkit test runs in: mcp 2 speaks both (the newest the server offers), mcp 1
#: only the handshake. Parametrize a test with ``@pytest.mark.parametrize("mcp_era", ERAS)`` to
#: run it against an emulator of each (the ``emulator`` fixture reads ``mcp_era``).
ERAS: list[McpEra] = ["handshake", "new"] if _mcp_stack.MCP_MAJOR >= 2 else ["handshake"]


@pytest.fixture
def mcp_era() -> McpEra | None:
    """The emulator's MCP era (None: ``SCALEKIT_EMULATOR_MCP_ERA``, else handshake)."""
    return None


@pytest.fixture
def emulator(mcp_era: McpEra | None) -> Iterator[ScalekitEmulator]:
    """A fresh emulator per test, on a free loopback port."""
    with ScalekitEmulator(mcp_era=mcp_era) as emu:
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
