"""Config drift is never silent: an existing config whose mappings differ from the declared ones
is an error naming the config, the difference and the ways out; ``sync_config=True`` updates it."""

from __future__ import annotations

import logging

import pytest

from scalekit_langchain import (
    AsyncScalekitClient,
    ConfigDriftError,
    McpConfigConnectionToolMapping,
    ScalekitConfigurationError,
    ScalekitMCPToolkit,
)
from scalekit_langchain.testing import ScalekitEmulator

NAME = "drift-check"
OLD = [McpConfigConnectionToolMapping(connection_name="MY_GMAIL", tools=["gmail_fetch_mails"])]
NEW = [
    McpConfigConnectionToolMapping(
        connection_name="MY_GMAIL", tools=["gmail_fetch_mails", "gmail_send_message"]
    ),
    McpConfigConnectionToolMapping(connection_name="MY_CALENDAR"),
]
MODES = ["instance", "session_token"]


async def _setup(emu: ScalekitEmulator, client: AsyncScalekitClient, user: str) -> None:
    await client.mcp.create_config(NAME, connection_tool_mappings=OLD)
    for conn in ("MY_GMAIL", "MY_CALENDAR"):
        emu.authorize(user, conn)


def _toolkit(client: AsyncScalekitClient, mode: str, user: str, **kw: object) -> ScalekitMCPToolkit:
    return ScalekitMCPToolkit(
        client=client, config_name=NAME, connection_tool_mappings=NEW, user_identifier=user,
        mode=mode, **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("mode", MODES)
async def test_differing_mappings_are_an_error_naming_the_config_the_difference_and_the_ways_out(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient, mode: str
) -> None:
    await _setup(emulator, aclient, "dana")
    emulator.reset_counts()
    toolkit = _toolkit(aclient, mode, "dana")
    with pytest.raises(ConfigDriftError) as caught:
        await toolkit.aget_tools()
    await toolkit.aclose()
    error = caught.value
    assert isinstance(error, ScalekitConfigurationError)
    assert error.config_name == NAME
    assert error.differences == [
        "MY_GMAIL: config has [gmail_fetch_mails], code declares "
        "[gmail_fetch_mails, gmail_send_message]",
        "MY_CALENDAR: only in the code (all tools)",
    ]
    message = str(error)
    assert repr(NAME) in message and "sync_config=True" in message
    assert "declare its mappings (or none) here, or pick another config_name" in message
    assert emulator.count("configs.update") == 0 and emulator.count("mcp.") == 0
    config = await aclient.mcp.get_config_by_name(NAME)
    assert config is not None
    assert [(m.connection_name, m.tools) for m in config.connection_tool_mappings] == [
        ("MY_GMAIL", ["gmail_fetch_mails"])
    ]


@pytest.mark.parametrize("mode", MODES)
async def test_sync_config_updates_the_config_and_logs_what_changed(
    emulator: ScalekitEmulator,
    aclient: AsyncScalekitClient,
    mode: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await _setup(emulator, aclient, "eli")
    emulator.reset_counts()
    with caplog.at_level(logging.WARNING, logger="scalekit_langchain"):
        async with _toolkit(aclient, mode, "eli", sync_config=True) as toolkit:
            names = sorted(t.name for t in await toolkit.aget_tools())
    assert emulator.count("configs.update") == 1
    assert "gmail_send_message" in names and "googlecalendar_create_event" in names
    config = await aclient.mcp.get_config_by_name(NAME)
    assert config is not None
    assert [(m.connection_name, sorted(m.tools)) for m in config.connection_tool_mappings] == [
        ("MY_GMAIL", ["gmail_fetch_mails", "gmail_send_message"]), ("MY_CALENDAR", [])
    ]
    (record,) = [r for r in caplog.records if "Updated the mappings" in r.getMessage()]
    assert NAME in record.getMessage() and "MY_CALENDAR: only in the code" in record.getMessage()


async def test_agreeing_mappings_cost_no_extra_request_in_any_order_or_case(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    await aclient.mcp.create_config(NAME, connection_tool_mappings=NEW)
    emulator.authorize("fay", "MY_GMAIL")
    emulator.authorize("fay", "MY_CALENDAR")
    same = [
        McpConfigConnectionToolMapping(connection_name="my_calendar"),
        McpConfigConnectionToolMapping(
            connection_name="MY_GMAIL", tools=["gmail_send_message", "gmail_fetch_mails"]
        ),
    ]
    emulator.reset_counts()
    async with ScalekitMCPToolkit(
        client=aclient, config_name=NAME, connection_tool_mappings=same, user_identifier="fay"
    ) as toolkit:
        await toolkit.aget_tools()
    # The instance carries its config: no config request at all to compare.
    assert emulator.count("configs.") == 0
    assert emulator.count("instances.ensure") == 1


async def test_a_config_synced_by_one_toolkit_is_not_drift_for_the_next(
    emulator: ScalekitEmulator, aclient: AsyncScalekitClient
) -> None:
    await _setup(emulator, aclient, "gus")
    async with ScalekitMCPToolkit(
        client=aclient, config_name=NAME, connection_tool_mappings=OLD, user_identifier="gus"
    ) as first:
        await first.aget_tools()  # caches the instance, carrying the OLD mappings
    async with _toolkit(aclient, "instance", "gus", sync_config=True) as synced:
        await synced.aget_tools()
    emulator.reset_counts()
    # The cached instance still carries OLD: the config itself is asked, and agrees.
    async with _toolkit(aclient, "instance", "gus") as third:
        await third.aget_tools()
    assert emulator.count("configs.list") == 1 and emulator.count("configs.update") == 0
