"""Links that work when people click them: fresh links on demand, a route that redirects the
signed-in user to one, and the emulator's authorization page as a person meets it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request

from scalekit_langchain import AsyncScalekitClient, ScalekitMCPToolkit
from scalekit_langchain.errors import AUTH_LINK_LIFETIME
from scalekit_langchain.testing import ScalekitEmulator
from scalekit_langchain.web import authorization_route

from ._toolkit_support import SEED_CONFIG, SEED_MAPPINGS


class Clock:
    """A clock the test moves by hand (the emulator's links expire by it)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emu(clock: Clock) -> Iterator[ScalekitEmulator]:
    # The default lifetime on purpose: the real one.
    with ScalekitEmulator(now=clock) as emulator:
        yield emulator


@pytest.fixture
async def toolkit(emu: ScalekitEmulator) -> AsyncIterator[ScalekitMCPToolkit]:
    client = AsyncScalekitClient(
        env_url=emu.env_url, client_id=emu.client_id, client_secret=emu.client_secret
    )
    kit = ScalekitMCPToolkit(
        client=client, config_name=SEED_CONFIG, connection_tool_mappings=SEED_MAPPINGS
    )
    try:
        yield kit
    finally:
        await kit.aclose()
        await client.aclose()


def _page(link: str, **kwargs: Any) -> httpx.Response:
    with httpx.Client() as http:
        if "data" in kwargs:
            return http.post(link, **kwargs)
        return http.get(link)


def test_emulator_links_live_the_real_minute_by_default(
    emu: ScalekitEmulator, clock: Clock
) -> None:
    assert AUTH_LINK_LIFETIME == 60.0
    client_kwargs = {"env_url": emu.env_url, "client_id": emu.client_id,
                     "client_secret": emu.client_secret}
    kit = _sync_toolkit(client_kwargs)
    try:
        link = kit.authorization_link("MY_GMAIL", user_identifier="ana")  # the sync twin
    finally:
        kit.close()
        assert kit.client is not None
        kit.client.close()
    assert link is not None
    clock.now += 59
    assert _page(link).status_code == 200
    clock.now += 2
    expired = _page(link)
    assert expired.status_code == 410
    assert "expired" in expired.text and "Connect" in expired.text  # says what to do next
    assert _page(link, data={"decision": "authorize"}).status_code == 410
    assert emu.connection_status("ana", "MY_GMAIL") == "PENDING_AUTH"


def _sync_toolkit(client_kwargs: dict[str, str]) -> ScalekitMCPToolkit:
    from scalekit_langchain import ScalekitClient

    return ScalekitMCPToolkit(
        client=ScalekitClient(**client_kwargs),
        config_name=SEED_CONFIG,
        connection_tool_mappings=SEED_MAPPINGS,
    )


async def test_a_fresh_link_works_after_the_paused_runs_link_died(
    emu: ScalekitEmulator, clock: Clock, toolkit: ScalekitMCPToolkit
) -> None:
    (pending,) = [
        s for s in await toolkit.aunauthorized_connections(user_identifier="ana")
        if s.connection_name == "MY_GMAIL"
    ]
    old = pending.authentication_link
    assert old is not None
    clock.now += AUTH_LINK_LIFETIME + 1  # the person read the message later
    assert _page(old).status_code == 410
    fresh = await toolkit.aauthorization_link("my_gmail", user_identifier="ana")  # any case
    assert fresh is not None and fresh != old
    page = _page(fresh)
    assert page.status_code == 200
    assert "ana" in page.text and "Gmail" in page.text and "MY_GMAIL" in page.text
    assert page.text.count("<form") == 1 and "<script" not in page.text
    assert 'value="authorize"' in page.text and 'value="deny"' in page.text
    assert "Already authorized" not in page.text

    denied = _page(fresh, data={"decision": "deny"})
    assert denied.status_code == 200 and "denied" in denied.text
    assert "close this tab" in denied.text
    assert emu.connection_status("ana", "MY_GMAIL") == "PENDING_AUTH"

    done = _page(fresh, data={"decision": "authorize"})
    assert done.status_code == 200 and "Authorized" in done.text and "close this tab" in done.text
    assert emu.connection_status("ana", "MY_GMAIL") == "ACTIVE"
    assert emu.connection_status("bob", "MY_GMAIL") is None  # only ana's account

    again = _page(fresh)
    assert again.status_code == 200 and "Already authorized" in again.text
    kept = _page(fresh, data={"decision": "deny"})  # declining again keeps the grant
    assert "stays connected" in kept.text
    assert emu.connection_status("ana", "MY_GMAIL") == "ACTIVE"


async def test_a_link_for_a_connection_the_config_does_not_have_is_a_value_error(
    toolkit: ScalekitMCPToolkit,
) -> None:
    with pytest.raises(ValueError, match="MY_SLACK"):
        await toolkit.aauthorization_link("MY_SLACK", user_identifier="ana")
    with pytest.raises(ValueError, match="user_identifier"):
        await toolkit.aauthorization_link("MY_GMAIL")


def _signed_in(request: Request) -> str | None:
    # The app's own sign-in: a cookie here; never a query parameter.
    return request.cookies.get("user")


async def _async_signed_in(request: Request) -> str | None:
    return request.cookies.get("user")


@pytest.mark.parametrize("get_user", [_signed_in, _async_signed_in])
async def test_the_route_sends_the_signed_in_person_to_their_own_fresh_link(
    emu: ScalekitEmulator, toolkit: ScalekitMCPToolkit, get_user: Any
) -> None:
    app = Starlette(routes=[authorization_route(toolkit, get_user=get_user)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as http:
        before = emu.counts().get("instances.auth_state", 0)
        nobody = await http.get("/authorize/MY_GMAIL")
        assert nobody.status_code == 401
        assert emu.counts().get("instances.auth_state", 0) == before  # nothing minted

        http.cookies.set("user", "ana")
        # Asking for someone else's link through the URL changes nothing: ana gets ana's.
        first = await http.get("/authorize/MY_GMAIL?user_identifier=bob&user=bob")
        second = await http.get("/authorize/MY_GMAIL")
        for answer in (first, second):
            assert answer.status_code == 303
            assert answer.headers["cache-control"] == "no-store"
            assert answer.headers["location"].startswith(f"{emu.env_url}/connect/")
        assert first.headers["location"] != second.headers["location"]  # minted per click
        page = _page(first.headers["location"])
        assert re.search(r"signed in as <b>ana</b>", page.text)
        assert "bob" not in page.text

        unknown = await http.get("/authorize/NOT_A_CONNECTION")
        assert unknown.status_code == 404


def test_the_route_needs_a_connection_name_in_its_path(toolkit: ScalekitMCPToolkit) -> None:
    with pytest.raises(ValueError, match="connection_name"):
        authorization_route(toolkit, get_user=_signed_in, path="/authorize")


async def test_the_pause_payload_carries_what_a_click_needs() -> None:
    from scalekit_langchain import AuthorizationRequired, ConnectionAuthState

    error = AuthorizationRequired(
        [
            ConnectionAuthState(connection_name="MY_GMAIL", provider="GMAIL",
                                connected_account_status="PENDING_AUTH",
                                authentication_link="https://env.example/connect/x"),
            ConnectionAuthState(connection_name="MY_CALENDAR", provider="GOOGLECALENDAR"),
        ],
        user_identifier="ana",
    )
    gmail, calendar = error.to_payload()["connections"]
    assert gmail["connection_name"] == "MY_GMAIL" and gmail["user_identifier"] == "ana"
    assert gmail["link_expires_at"].endswith("Z")
    assert calendar["link_expires_at"] is None and calendar["user_identifier"] == "ana"
