"""For web apps: a route that sends the signed-in person to a fresh authorization link.

Scalekit's authentication links live about a minute. A link put in a chat message when a run
paused is dead by the time many people click it, so a web app shows a button per connection
that points at this route; the route asks Scalekit for a link *when the person clicks* and
redirects there. Who the person is comes from the app's own sign-in (``get_user``), never from
the URL: a user can only ever be sent to a link for their own account.

Example (Starlette; with FastAPI, ``app.router.routes.append(route)``)::

    from starlette.applications import Starlette
    from scalekit_langchain.web import authorization_route

    def signed_in_user(request):          # the app's own sign-in decides (sync or async)
        return request.session.get("user")

    app = Starlette(routes=[authorization_route(toolkit, get_user=signed_in_user)])
    # <a href="/authorize/MY_GMAIL" target="_blank">Connect Gmail</a>
"""

from __future__ import annotations

import html
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from scalekit_langchain.errors import ScalekitError

__all__ = ["GetUser", "LinkSource", "authorization_route"]

logger = logging.getLogger("scalekit_langchain")

#: The app's answer to "who is signed in?" for a request: a user identifier, or ``None``.
GetUser = Callable[[Request], Awaitable[str | None] | str | None]

#: Never cache a redirect to a one-minute link, never send it on as a referrer.
_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


class LinkSource(Protocol):
    """What the route needs: :class:`~scalekit_langchain.toolkit.ScalekitMCPToolkit` has it."""

    async def aauthorization_link(
        self, connection_name: str, *, user_identifier: str | None = None
    ) -> str | None:
        """A link minted now for ``user_identifier``'s connection, or ``None``."""
        ...


def authorization_route(
    toolkit: LinkSource,
    *,
    get_user: GetUser,
    path: str = "/authorize/{connection_name}",
    name: str = "scalekit_authorize",
) -> Route:
    """A ``GET`` route that redirects the signed-in user to a fresh link for a connection.

    Args:
        toolkit: The toolkit whose config holds the connection (multi-user toolkits work: the
            user comes from ``get_user``).
        get_user: ``(request) -> user identifier | None`` (sync or async), from the app's own
            sign-in. ``None`` answers 401 and mints nothing.
        path: The route's path; it must contain ``{connection_name}``.
        name: The route's name (for ``request.url_for``).

    Returns:
        A Starlette ``Route`` (FastAPI apps accept it too). It answers 303 to the link, 401
        when nobody is signed in, 404 for a connection the config does not have, 200 with a
        short page when Scalekit gives no link (the connection is already authorized), and
        502 when Scalekit cannot be reached.

    Raises:
        ValueError: ``path`` has no ``{connection_name}``.
    """
    if "{connection_name}" not in path:
        raise ValueError("path must contain '{connection_name}'")

    async def authorize(request: Request) -> Response:
        user = get_user(request)
        if inspect.isawaitable(user):
            user = await user
        if not user:
            return _page("Sign in first", "Sign in to the app, then click Connect again.", 401)
        connection = str(request.path_params["connection_name"])
        try:
            link = await toolkit.aauthorization_link(connection, user_identifier=str(user))
        except ValueError:
            return _page("Unknown connection", f"There is no connection {connection!r}.", 404)
        except ScalekitError as exc:
            logger.warning("no authorization link for %s: %s", connection, type(exc).__name__)
            return _page(
                "Try again", "Could not reach the authorization service; try again.", 502
            )
        if link is None:
            return _page(
                "Already connected", f"{connection} is already connected. You can close this tab.",
                200,
            )
        return RedirectResponse(link, status_code=303, headers=_NO_STORE)

    return Route(path, authorize, methods=["GET"], name=name)


def _page(title: str, text: str, status: int) -> HTMLResponse:
    body = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>"
    )
    return HTMLResponse(body, status_code=status, headers=_NO_STORE)
