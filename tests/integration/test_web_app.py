"""examples/web_app over plain HTTP (no browser): sign in, chat, pause, Connect → a fresh link,
authorize on the emulator's page, Continue → the answer; the side effect once per person."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest

from ._web_app_support import SEED_EVENTS, WebApp, served_web_app

LIFETIME = 1.0  # seconds the emulator's links live here (Scalekit's: 60)


@pytest.fixture
def web() -> Iterator[WebApp]:
    with served_web_app(auth_link_ttl=LIFETIME) as served:
        yield served


def _authorize_through_the_app(http: httpx.Client, connection: str) -> str:
    """Click Connect (the app's route mints a link now), then Authorize on the emulator page."""
    answer = http.get(f"/authorize/{connection}")
    assert answer.status_code == 303
    link = answer.headers["location"]
    with httpx.Client() as browser:
        page = browser.get(link)
        assert page.status_code == 200
        done = browser.post(link, data={"decision": "authorize"})
    assert done.status_code == 200 and "Authorized" in done.text
    return page.text


def test_two_people_chat_connect_late_and_get_their_answer(web: WebApp) -> None:
    people = {u: httpx.Client(base_url=web.url, timeout=30) for u in ("ana", "bob")}
    try:
        for user, http in people.items():
            assert http.get(f"/?user={user}").status_code == 303
            assert http.cookies["user"] == user
            page = http.post("/chat", data={"text": "Remind me about my latest email"},
                             follow_redirects=True)
            assert page.status_code == 200
            buttons = re.findall(r'href="/authorize/([A-Z_]+)">Connect ([^<]+)<', page.text)
            assert buttons == [("MY_GMAIL", "Gmail"), ("MY_CALENDAR", "Google Calendar")]
            assert "/connect/" not in page.text  # no link in the page: they die in a minute
        time.sleep(LIFETIME + 0.5)  # the people read the page later than a link lives
        for user, http in people.items():
            page = _authorize_through_the_app(http, "MY_GMAIL")
            assert f"signed in as <b>{user}</b>" in page
            _authorize_through_the_app(http, "MY_CALENDAR")
            done = http.post("/continue", follow_redirects=True)
            assert "Done. I read your latest email and created a reminder." in done.text
            assert "Connect Gmail" not in done.text
            again = http.post("/continue", follow_redirects=True)  # a second press: no-op
            assert again.status_code == 200
        for user in people:
            data = web.emu.user_data(user)
            assert len(data.events) == SEED_EVENTS + 1, user
            assert data.events[-1]["summary"] == "Reminder: send the Q3 budget to finance before the 4pm review"
            assert web.emu.connection_status(user, "MY_GMAIL") == "ACTIVE"
    finally:
        for http in people.values():
            http.close()


def test_nobody_signed_in_gets_no_link(web: WebApp) -> None:
    with httpx.Client(base_url=web.url) as http:
        assert "Sign in" in http.get("/").text
        assert http.get("/authorize/MY_GMAIL").status_code == 401
        assert http.get("/?user=not a name").status_code == 400
