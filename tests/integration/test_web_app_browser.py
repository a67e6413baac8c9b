"""examples/web_app in a real browser: a headless Chromium (Playwright) plays two people at once.

Each person signs in, asks the assistant, sees the pause with its Connect buttons, waits longer
than an authorization link lives, clicks Connect (a new tab: the app mints a link now), presses
Authorize on the emulator's page, closes the tab, presses Continue, and reads the answer. Each
side effect happens once, in the person's own account.

Playwright's own browser download is not reachable everywhere; the test uses the distribution's
``chromium`` (``apt-get install chromium``), ``$CHROMIUM`` when set, or Playwright's browser.
Set ``SCREENSHOTS_DIR`` to keep a screenshot of each page the first person sees
(docs/screenshots/ holds the committed ones).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ._web_app_support import SEED_EVENTS, WebApp, served_web_app

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="Playwright is not installed (pip install '.[browser]')"
)

LIFETIME = 2.0  # seconds the emulator's links live here (Scalekit's: 60)
WAIT = 3.0  # how long each person reads the page before clicking Connect: more than LIFETIME
PEOPLE = ("ana", "bob")


def _chromium() -> str | None:
    """A Chromium binary to drive, or None to try Playwright's own download."""
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and (path := shutil.which(name)):
            return path
    return None


@pytest.fixture
def web() -> Iterator[WebApp]:
    with served_web_app(auth_link_ttl=LIFETIME) as served:
        yield served


class Shots:
    """Screenshots of what the first person sees, when SCREENSHOTS_DIR is set."""

    def __init__(self) -> None:
        folder = os.environ.get("SCREENSHOTS_DIR")
        self.folder = Path(folder) if folder else None
        self.taken: list[str] = []

    async def take(self, page: Any, user: str, name: str) -> None:
        if user != PEOPLE[0]:
            return
        self.taken.append(name)
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(self.folder / f"{len(self.taken)}-{name}.png"))


async def _person(browser: Any, web: WebApp, user: str, shots: Shots) -> str:
    context = await browser.new_context(viewport={"width": 760, "height": 560})
    try:
        page = await context.new_page()
        await page.goto(web.url + "/")
        await shots.take(page, user, "sign-in")
        await page.fill("input[name=user]", user)
        await page.click("button:has-text('Sign in')")
        await page.wait_for_selector("button:has-text('Send')")
        await shots.take(page, user, "chat")
        await page.click("button:has-text('Send')")
        await page.wait_for_selector("a:has-text('Connect Gmail')")
        await shots.take(page, user, "paused-connect-buttons")
        assert "/connect/" not in await page.content()  # no link in the page to go stale

        await asyncio.sleep(WAIT)  # the person reads, switches tabs, comes back: > LIFETIME
        for service in ("Gmail", "Google Calendar"):
            async with context.expect_page() as opened:
                await page.click(f"a:has-text('Connect {service}')")
            tab = await opened.value
            await tab.wait_for_load_state()
            assert await tab.title() == f"Connect {service}"
            text = await tab.inner_text("body")
            assert f"signed in as {user}" in text and "Already authorized" not in text
            await shots.take(tab, user, f"authorize-{service.lower().replace(' ', '-')}")
            await tab.click("button:has-text('Authorize')")
            await tab.wait_for_selector("text=You can close this tab")
            await shots.take(tab, user, f"authorized-{service.lower().replace(' ', '-')}")
            await tab.close()

        await page.click("button:has-text('Continue')")
        answer = await page.wait_for_selector("text=Done. I read your latest email")
        assert answer is not None
        await shots.take(page, user, "answer")
        assert await page.locator("a:has-text('Connect')").count() == 0
        return await page.inner_text("body")
    finally:
        await context.close()


async def test_two_people_connect_their_accounts_in_a_real_browser(web: WebApp) -> None:
    shots = Shots()
    async with playwright_api.async_playwright() as pw:
        try:
            browser = await pw.chromium.launch(executable_path=_chromium(), headless=True)
        except playwright_api.Error as exc:
            pytest.skip(f"no Chromium to drive: install the `chromium` package ({exc.message[:80]})")
        try:
            bodies = await asyncio.gather(*(_person(browser, web, u, shots) for u in PEOPLE))
        finally:
            await browser.close()
    for user, body in zip(PEOPLE, bodies, strict=True):
        assert body.count("Done. I read your latest email and created a reminder.") == 1
        data = web.emu.user_data(user)
        assert len(data.events) == SEED_EVENTS + 1, user  # the reminder, exactly once
        assert data.events[-1]["summary"].startswith("Reminder: send the Q3 budget")
        assert len(data.sent) == 0
        for connection in ("MY_GMAIL", "MY_CALENDAR"):
            assert web.emu.connection_status(user, connection) == "ACTIVE"
    assert web.emu.connection_status("carol", "MY_GMAIL") is None  # nobody else was touched
    assert shots.taken == [
        "sign-in", "chat", "paused-connect-buttons", "authorize-gmail", "authorized-gmail",
        "authorize-google-calendar", "authorized-google-calendar", "answer",
    ]
