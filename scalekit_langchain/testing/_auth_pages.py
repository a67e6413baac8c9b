"""The emulator's authorization page: what a person sees when they open an authentication link.

``GET /connect/<token>`` shows whose account and which connection the link is for, whether it
is already authorized, and two buttons in one plain HTML form (no JavaScript): Authorize and
Deny. ``POST`` to the same URL carries ``decision=authorize`` (also the default, for scripts
that post the form without fields) or ``decision=deny``, and the answer says what happened and
how to get back to the app. Scalekit's links carry no return URL the contract documents, so the
page says to close the tab and go back to the app (which, holding the run, resumes it).

An unknown link answers 404 and an expired one 410, each with a page that tells the person to
click Connect in the app again for a fresh link.
"""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from scalekit_langchain.testing._accounts import ACTIVE, AccountsState

__all__ = ["auth_page"]

#: Provider slug → the name a person knows it by.
_PROVIDER_NAMES = {"gmail": "Gmail", "googlecalendar": "Google Calendar", "slack": "Slack"}

_BACK = "You can close this tab and go back to the app."

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;"
    "color:#1d2330}h1{font-size:1.4rem}.box{border:1px solid #d6dae3;border-radius:8px;"
    "padding:1rem 1.25rem}.note{background:#eef7ee;border-color:#9cc89c}"
    ".warn{background:#fff4e5;border-color:#e9b36b}button{font-size:1rem;padding:.5rem 1.2rem;"
    "margin-right:.5rem;border-radius:6px;border:1px solid #888;cursor:pointer}"
    "button.go{background:#2456d6;color:#fff;border-color:#2456d6}small{color:#667}"
)


def provider_name(slug: str) -> str:
    """The display name of a provider slug (``gmail`` → ``Gmail``)."""
    return _PROVIDER_NAMES.get(slug.lower(), slug)


async def auth_page(state: AccountsState, request: Request) -> Response:
    """``GET|POST /connect/{token}``: the page a person opens to authorize a connection."""
    link, expired = state.link(request.path_params["token"])
    if link is None:
        return _html(
            "Link not valid",
            "<p>This authorization link is not valid.</p>"
            "<p>Go back to the app and click <b>Connect</b> again for a new link.</p>",
            404,
        )
    if expired:
        return _html(
            "Link expired",
            "<p>This authorization link has expired: links work for about a minute.</p>"
            "<p>Go back to the app and click <b>Connect</b> again for a fresh link.</p>",
            410,
        )
    conn = state.connection(link.connection_name)
    service = html.escape(provider_name(conn.provider))
    user = html.escape(link.user_identifier)
    what = (
        f"<p>The app you are using (signed in as <b>{user}</b>) asks to act through your "
        f"<b>{service}</b> account (connection <code>{html.escape(conn.name)}</code>, "
        f"provider <code>{html.escape(conn.provider)}</code>).</p>"
    )
    if request.method == "POST":
        async with request.form() as fields:
            decision = str(fields.get("decision") or "authorize")
        if decision == "deny":
            # Declining a new consent leaves an existing grant as it was (as OAuth providers do).
            if state.status(link.user_identifier, conn.name) == ACTIVE:
                return _html(
                    f"{service} unchanged",
                    what + f"<div class='box note'><p>You declined: {service} stays connected "
                    f"for <b>{user}</b>, as before.</p><p>{_BACK}</p></div>",
                    200,
                )
            return _html(
                f"{service} not connected",
                what + f"<div class='box warn'><p>You denied access: {service} is not connected "
                f"for <b>{user}</b>. The app will ask again when it needs it.</p>"
                f"<p>{_BACK}</p></div>",
                200,
            )
        state.set_status(link.user_identifier, conn.name, ACTIVE)
        return _html(
            "Authorized",
            what + f"<div class='box note'><p>Authorized: {service} is connected for "
            f"<b>{user}</b>.</p><p>{_BACK}</p></div>",
            200,
        )
    already = ""
    if state.status(link.user_identifier, conn.name) == ACTIVE:
        already = (
            f"<div class='box note'><p>Already authorized: {service} is connected for "
            f"<b>{user}</b>. Authorizing again keeps it connected.</p></div>"
        )
    form = (
        f'<form method="post" action="{html.escape(request.url.path)}">'
        '<button class="go" type="submit" name="decision" value="authorize">Authorize</button>'
        '<button type="submit" name="decision" value="deny">Deny</button></form>'
    )
    return _html(f"Connect {service}", what + already + form, 200)


def _html(title: str, body: str, status: int) -> HTMLResponse:
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}"
        "<p><small>Scalekit emulator: a local stand-in for Scalekit's authorization page."
        "</small></p></body></html>"
    )
    # A link is a credential for a minute: not cached, not sent to other sites as a referrer
    # ("no-referrer" would make the browser send "Origin: null" with the form, which the
    # emulator's cross-site guard refuses).
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "same-origin"}
    return HTMLResponse(page, status_code=status, headers=headers)
