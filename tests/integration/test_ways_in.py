"""Every way in: a pre-authenticated URL you already have, a URL with a bearer token, a token
provider that renews it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest

from scalekit_langchain import AsyncScalekitClient, AuthorizationRequired, ScalekitMCPToolkit
from scalekit_langchain.testing import ScalekitEmulator
from tests.integration._toolkit_support import MAIL_CONFIG, MAIL_MAPPINGS, mail

USER = "rita"


@pytest.fixture
def emu() -> Iterator[ScalekitEmulator]:
    with ScalekitEmulator() as emulator:
        yield emulator


@pytest.fixture
async def client(emu: ScalekitEmulator) -> AsyncIterator[AsyncScalekitClient]:
    async with AsyncScalekitClient(emu.env_url, emu.client_id, emu.client_secret) as c:
        await c.mcp.create_config(MAIL_CONFIG, connection_tool_mappings=MAIL_MAPPINGS)
        yield c


async def test_a_pre_authenticated_instance_url(emu: ScalekitEmulator, client: AsyncScalekitClient) -> None:
    emu.authorize(USER, "MY_GMAIL")
    instance = await client.mcp.ensure_instance(MAIL_CONFIG, USER)
    assert instance.url
    emu.reset_counts()
    async with ScalekitMCPToolkit(url=instance.url, user_identifier=USER) as toolkit:
        assert instance.url not in repr(toolkit)
        send = {t.name: t for t in await toolkit.aget_tools()}["gmail_send_message"]
        text = await send.ainvoke(mail("via url"))
        assert "Email sent" in text
    # No Scalekit REST call at all: the URL is the credential.
    assert emu.count("instances.") + emu.count("configs.") + emu.count("oauth.") == 0
    assert [m["subject"] for m in emu.user_data(USER).sent] == ["via url"]


def test_a_pre_authenticated_url_sync(emu: ScalekitEmulator, client: AsyncScalekitClient) -> None:
    from scalekit_langchain import _session_loop

    emu.authorize(USER, "MY_GMAIL")
    instance = _session_loop.run_sync(client.mcp.ensure_instance(MAIL_CONFIG, USER))
    assert instance.url
    with ScalekitMCPToolkit(url=instance.url, user_identifier=USER) as toolkit:
        fetch = {t.name: t for t in toolkit.get_tools()}["gmail_fetch_mails"]
        assert "msg_0005" in fetch.invoke({"max_results": 1})


async def test_url_with_a_bearer_token(emu: ScalekitEmulator, client: AsyncScalekitClient) -> None:
    emu.authorize(USER, "MY_GMAIL")
    emu.authorize(USER, "MY_CALENDAR")
    config = await client.mcp.get_config_by_name(MAIL_CONFIG)
    assert config is not None and config.id and config.mcp_server_url
    token = await client.mcp.create_session_token(config.id, USER, expiry=timedelta(minutes=5))
    async with ScalekitMCPToolkit(
        url=config.mcp_server_url, bearer_token=token.token, user_identifier=USER
    ) as toolkit:
        assert token.token.get_secret_value() not in repr(toolkit)
        fetch = {t.name: t for t in await toolkit.aget_tools()}["gmail_fetch_mails"]
        assert "msg_0005" in await fetch.ainvoke({"max_results": 1})


async def test_a_token_provider_is_asked_on_every_connect(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    emu.authorize(USER, "MY_GMAIL")
    emu.authorize(USER, "MY_CALENDAR")
    config = await client.mcp.get_config_by_name(MAIL_CONFIG)
    assert config is not None and config.id and config.mcp_server_url
    minted: list[str] = []

    async def provider() -> str:
        token = await client.mcp.create_session_token(config.id, USER, expiry=timedelta(minutes=5))
        minted.append(token.token.get_secret_value())
        return minted[-1]

    async with ScalekitMCPToolkit(
        url=config.mcp_server_url, token_provider=provider, user_identifier=USER
    ) as toolkit:
        fetch = {t.name: t for t in await toolkit.aget_tools()}["gmail_fetch_mails"]
        await fetch.ainvoke({"max_results": 1})
        assert len(minted) == 1
        emu.drop_mcp_sessions()  # the server forgets the session: reconnect, fresh token
        assert "msg_0005" in await fetch.ainvoke({"max_results": 1})
        assert len(minted) == 2


async def test_url_with_a_config_name_decides_authorization_from_scalekit(
    emu: ScalekitEmulator, client: AsyncScalekitClient
) -> None:
    emu.authorize(USER, "MY_GMAIL")  # MY_CALENDAR pending
    instance = await client.mcp.ensure_instance(MAIL_CONFIG, USER)
    assert instance.url
    async with ScalekitMCPToolkit(
        client=client,
        url=instance.url,
        config_name=MAIL_CONFIG,
        connection_tool_mappings=MAIL_MAPPINGS,
        user_identifier=USER,
    ) as toolkit:
        tools = {t.name: t for t in await toolkit.aget_tools()}
        assert "Email sent" in await tools["gmail_send_message"].ainvoke(mail("ok"))
        with pytest.raises(AuthorizationRequired) as info:
            await tools["googlecalendar_create_event"].ainvoke(
                {"summary": "x", "start_datetime": "2030-01-01T10:00:00Z"}
            )
    assert list(info.value.links) == ["MY_CALENDAR"]
    assert len(emu.user_data(USER).events) == 2  # the seed events only


def test_bad_way_in_options_are_errors() -> None:
    with pytest.raises(ValueError, match="config_name is required"):
        ScalekitMCPToolkit(user_identifier=USER)
    with pytest.raises(ValueError, match="go with url"):
        ScalekitMCPToolkit(config_name="x", bearer_token="t", user_identifier=USER)
    with pytest.raises(ValueError):
        ScalekitMCPToolkit(config_name="x", user_identifier=USER, not_an_option=1)  # type: ignore[call-arg]


def test_a_sync_client_is_accepted(emu: ScalekitEmulator) -> None:
    from scalekit_langchain import ScalekitClient

    emu.authorize(USER, "MY_GMAIL")
    with ScalekitClient(emu.env_url, emu.client_id, emu.client_secret) as sync_client:
        sync_client.mcp.create_config(MAIL_CONFIG, connection_tool_mappings=MAIL_MAPPINGS)
        with ScalekitMCPToolkit(
            client=sync_client, config_name=MAIL_CONFIG, user_identifier=USER
        ) as toolkit:
            fetch = {t.name: t for t in toolkit.get_tools()}["gmail_fetch_mails"]
            assert "msg_0005" in fetch.invoke({"max_results": 1})
        # One access token between the sync client and the toolkit's async twin.
        assert emu.count("oauth.token") == 1


async def test_a_per_connection_virtual_server(emu: ScalekitEmulator, client: AsyncScalekitClient) -> None:
    async with ScalekitMCPToolkit(
        client=client,
        config_name=MAIL_CONFIG,
        mode="connection",
        connection_name="MY_GMAIL",
        user_identifier=USER,
    ) as toolkit:
        tools = {t.name: t for t in await toolkit.aget_tools()}
        assert all(name.startswith("gmail_") for name in tools)
        # The mint succeeded for a pending account; the refusal comes at call time.
        with pytest.raises(AuthorizationRequired) as info:
            await tools["gmail_send_message"].ainvoke(mail("pending"))
        assert list(info.value.links) == ["MY_GMAIL"]
        assert emu.user_data(USER).sent == []
        emu.authorize(USER, "MY_GMAIL")
        assert "Email sent" in await tools["gmail_send_message"].ainvoke(mail("now"))
    assert [m["subject"] for m in emu.user_data(USER).sent] == ["now"]
    assert emu.count("connections.tokens") >= 1


def test_connection_mode_needs_a_connection_name() -> None:
    with pytest.raises(ValueError, match="connection_name"):
        ScalekitMCPToolkit(config_name="cfg", user_identifier=USER, mode="connection")


async def test_a_skewed_clock_changes_nothing_in_session_token_mode() -> None:
    """The server's clock two hours behind ours: its expires_at looks past to us."""
    import time

    with ScalekitEmulator(now=lambda: time.time() - 7200) as emu:
        emu.authorize(USER, "MY_GMAIL")
        emu.authorize(USER, "MY_CALENDAR")
        async with AsyncScalekitClient(emu.env_url, emu.client_id, emu.client_secret) as c:
            await c.mcp.create_config(MAIL_CONFIG, connection_tool_mappings=MAIL_MAPPINGS)
            async with ScalekitMCPToolkit(
                client=c, config_name=MAIL_CONFIG, user_identifier=USER, mode="session_token"
            ) as toolkit:
                fetch = {t.name: t for t in await toolkit.aget_tools()}["gmail_fetch_mails"]
                for _ in range(10):
                    await fetch.ainvoke({"max_results": 1})
            assert emu.count("configs.tokens") == 1
            assert emu.count("mcp.initialize") == 1
            assert emu.count("mcp.tools/call") == 10


@pytest.mark.parametrize("bearer", [False, True])
async def test_no_secret_in_the_errors_of_a_url_toolkit(bearer: bool) -> None:
    from tests.integration._net_support import free_port
    from tests.integration.test_session_secrets import assert_no_secret

    secret_path = "s3cr3t-path-0123456789abcdef"
    token = "tok-9f8e7d6c5b4a39281706"
    url = f"http://127.0.0.1:{free_port()}/mcp/v2/servers/{secret_path}"  # nothing listens
    kwargs: dict[str, object] = {"bearer_token": token} if bearer else {}
    toolkit = ScalekitMCPToolkit(url=url, user_identifier=USER, connect_timeout=5, **kwargs)  # type: ignore[arg-type]
    assert secret_path not in repr(toolkit) and token not in repr(toolkit)

    async def fail(tk: ScalekitMCPToolkit) -> BaseException:
        # Caught here, so the traceback starts in a frame that holds only the toolkit.
        try:
            await tk.aget_tools()
        except Exception as exc:
            return exc
        raise AssertionError("connecting to a closed port succeeded")

    try:
        error = await fail(toolkit)
    finally:
        await toolkit.aclose()
    assert_no_secret(error, [secret_path, url, token])
