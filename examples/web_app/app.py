"""A small chat app whose agent acts through each signed-in person's own accounts.

Each person signs in (a stand-in for your real sign-in: a name kept in a cookie) and chats with
an agent built with ``create_agent`` and ``AuthorizationMiddleware``. When the agent needs an
account the person has not connected, the run pauses and the page shows a "Connect Gmail"
button per connection. The button goes through ``authorization_route``, which asks Scalekit for
a link when it is clicked (links live about a minute) and redirects there. The person
authorizes in that tab, comes back, presses Continue, and the app resumes the paused run.

    make web                                       # offline: a local Scalekit emulator
    python examples/web_app/app.py                 # the same
    SCALEKIT_ENV_URL=... SCALEKIT_CLIENT_ID=... SCALEKIT_CLIENT_SECRET=... \\
        python examples/web_app/app.py --model openai:gpt-4.1-mini    # the real thing
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from string import Template
from typing import Any

from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from scalekit_langchain import (
    AUTHORIZATION_INTERRUPT_TYPE,
    AsyncScalekitClient,
    AuthorizationMiddleware,
    ScalekitError,
    ScalekitMCPToolkit,
    resume_authorization,
)
from scalekit_langchain.web import authorization_route

CONFIG = "email-calendar-assistant"
MAPPINGS = [
    {"connection_name": "MY_GMAIL", "tools": ["gmail_fetch_mails"]},
    {"connection_name": "MY_CALENDAR", "tools": ["googlecalendar_create_event"]},
]
PAGE = Template((Path(__file__).with_name("page.html")).read_text())

# -- In a web app (README): the Scalekit part of this app --------------------------------------
SERVICES = {"GMAIL": "Gmail", "GOOGLECALENDAR": "Google Calendar", "SLACK": "Slack"}


def signed_in(request: Request) -> str | None:
    """Who is signed in: a stand-in (a name in a cookie). Use your app's real sign-in."""
    user = request.cookies.get("user") or ""
    return user if re.fullmatch(r"[A-Za-z0-9._@-]{1,64}", user) else None


def run_config(user: str) -> dict[str, Any]:
    """One conversation per person; the toolkit acts for ``configurable["user_id"]``."""
    return {"configurable": {"thread_id": f"chat-{user}", "user_id": user}}


def connect_buttons(state: Any) -> str:
    """A "Connect Gmail" button per pending connection of a paused run. A button carries the
    connection's name, never a link (links die in a minute): the click asks for a fresh one."""
    pending = {
        conn["connection_name"]: SERVICES.get(str(conn["provider"]).upper(), conn["provider"])
        for pause in state.interrupts
        if pause.value.get("type") == AUTHORIZATION_INTERRUPT_TYPE
        for conn in pause.value["connections"]
    }
    return " ".join(
        f'<a class="button" target="_blank" rel="noopener" '
        f'href="/authorize/{html.escape(name)}">Connect {html.escape(service)}</a>'
        for name, service in pending.items()
    )


async def resume_if_paused(agent: Any, user: str) -> None:
    """Continue: resume the paused run; the middleware checks again (a new pause if needed)."""
    state = await agent.aget_state(run_config(user))
    if state.interrupts:
        await agent.ainvoke(resume_authorization(state), run_config(user))


def connect_route(toolkit: ScalekitMCPToolkit) -> Route:
    """``GET /authorize/{connection_name}``: a link minted now, for the signed-in person only."""
    return authorization_route(toolkit, get_user=signed_in)


# -- end of the README's part ------------------------------------------------------------------


def build_agent(toolkit: ScalekitMCPToolkit, model: Any, tools: list[Any]) -> Any:
    """Before the model runs, the middleware pauses once for every connection not ACTIVE."""
    return create_agent(
        model,
        tools,
        middleware=[AuthorizationMiddleware(toolkit)],
        checkpointer=InMemorySaver(),  # use a persistent one in production
    )


class Chat:
    """The agent (built on first use: discovering the tools needs a user) and per-person runs."""

    def __init__(self, toolkit: ScalekitMCPToolkit, model: Any) -> None:
        self.toolkit = toolkit
        self.model = model
        self.agent: Any = None
        self.errors: dict[str, str] = {}
        self._build = asyncio.Lock()
        self._runs: dict[str, asyncio.Lock] = {}

    async def agent_for(self, user: str) -> Any:
        async with self._build:
            if self.agent is None:
                tools = await self.toolkit.aget_tools(user_identifier=user)
                self.agent = build_agent(self.toolkit, self.model, tools)
        return self.agent

    async def run(self, user: str, message: str | None) -> None:
        """Send ``message``, or (``None``) press Continue."""
        # One run at a time per person: a double-clicked button must not resume twice.
        async with self._runs.setdefault(user, asyncio.Lock()):
            agent = await self.agent_for(user)
            try:
                if message is None:
                    await resume_if_paused(agent, user)
                else:
                    await agent.ainvoke({"messages": [HumanMessage(message)]}, run_config(user))
                self.errors.pop(user, None)
            except ScalekitError as exc:
                self.errors[user] = f"Something went wrong: {type(exc).__name__}. Try again."

    async def page(self, user: str) -> str:
        parts: list[str] = []
        buttons = ""
        if self.agent is not None:
            state = await self.agent.aget_state(run_config(user))
            parts = [_message(m) for m in state.values.get("messages", [])]
            buttons = connect_buttons(state)
        if buttons:
            parts.append(
                '<div class="pause"><p>To do this, the assistant needs your permission to use '
                f"your accounts.</p><p>{buttons}</p><p>Each button opens the authorization page "
                "in a new tab. When you are done there, come back here and press Continue.</p>"
                '<form method="post" action="/continue"><button>Continue</button></form></div>'
            )
        else:
            parts.append(
                '<form class="chat" method="post" action="/chat">'
                '<input name="text" autocomplete="off" autofocus '
                'value="Remind me about my latest email in 15 minutes.">'
                "<button>Send</button></form>"
            )
        if user in self.errors:
            parts.append(f"<p>{html.escape(self.errors[user])}</p>")
        return "".join(parts)


def _message(message: Any) -> str:
    if isinstance(message, HumanMessage):
        return f'<div class="msg you">{html.escape(message.text)}</div>'
    if isinstance(message, ToolMessage):
        return f'<div class="tool">used {html.escape(str(message.name))}</div>'
    if isinstance(message, AIMessage) and message.text:
        return f'<div class="msg assistant">{html.escape(message.text)}</div>'
    return ""


def _render(title: str, body: str, who: str = "", status: int = 200) -> HTMLResponse:
    footer = "A scalekit-langchain example: your agent, your accounts, no tokens in this app."
    return HTMLResponse(
        PAGE.substitute(title=html.escape(title), who=who, body=body, footer=footer),
        status_code=status,
    )


def create_app(
    *, client: AsyncScalekitClient | None = None, model: Any = None
) -> Starlette:
    """The chat app. ``client`` defaults to one built from the ``SCALEKIT_*`` variables and
    ``model`` to the scripted offline model."""
    if model is None:
        from scalekit_langchain.testing.scripted import ScriptedReminderModel

        model = ScriptedReminderModel()
    toolkit = ScalekitMCPToolkit(  # one toolkit for every person: each run names its user
        client=client, config_name=CONFIG, connection_tool_mappings=MAPPINGS
    )
    chat = Chat(toolkit, model)

    async def home(request: Request) -> Response:
        if "user" in request.query_params:  # /?user=ana: the stand-in sign-in, as a link
            return _sign_in(request.query_params["user"])
        user = signed_in(request)
        if user is None:
            form = (
                '<form class="chat" method="post" action="/login">'
                '<input name="user" placeholder="Your name, e.g. ana" autofocus>'
                "<button>Sign in</button></form>"
                "<p><small>A stand-in for your app's real sign-in.</small></p>"
            )
            return _render("Sign in", form)
        who = (
            f'{html.escape(user)} <form style="display:inline" method="post" action="/logout">'
            '<button class="plain">Sign out</button></form>'
        )
        return _render("Assistant", await chat.page(user), who)

    async def login(request: Request) -> Response:
        async with request.form() as form:
            return _sign_in(str(form.get("user") or ""))

    async def logout(request: Request) -> Response:
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie("user")
        return response

    async def send(request: Request) -> Response:
        user = signed_in(request)
        if user is not None:
            async with request.form() as form:
                text = str(form.get("text") or "").strip()
            if text:
                await chat.run(user, text)
        return RedirectResponse("/", status_code=303)

    async def resume(request: Request) -> Response:
        user = signed_in(request)
        if user is not None:
            await chat.run(user, None)
        return RedirectResponse("/", status_code=303)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await toolkit.aclose()

    return Starlette(
        routes=[
            Route("/", home),
            Route("/login", login, methods=["POST"]),
            Route("/logout", logout, methods=["POST"]),
            Route("/chat", send, methods=["POST"]),
            Route("/continue", resume, methods=["POST"]),
            connect_route(toolkit),  # where the "Connect Gmail" buttons go
        ],
        lifespan=lifespan,
    )


def _sign_in(user: str) -> Response:
    if not re.fullmatch(r"[A-Za-z0-9._@-]{1,64}", user):
        return _render("Sign in", "<p>Use letters, digits, '.', '_', '@' or '-'.</p>", status=400)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie("user", user, httponly=True, samesite="lax")
    return response


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model", help="provider:name for init_chat_model (default: scripted)")
    parser.add_argument(
        "--link-lifetime", type=float, default=60.0,
        help="offline only: seconds the emulator's authorization links live (Scalekit's: 60)",
    )
    args = parser.parse_args()
    model = None
    if args.model:
        from langchain.chat_models import init_chat_model

        model = init_chat_model(args.model)
    with contextlib.ExitStack() as stack:
        client = None
        names = ("SCALEKIT_ENV_URL", "SCALEKIT_CLIENT_ID", "SCALEKIT_CLIENT_SECRET")
        if not all(os.environ.get(n) for n in names):
            from scalekit_langchain.testing import ScalekitEmulator

            emu = stack.enter_context(ScalekitEmulator(auth_link_ttl=args.link_lifetime))
            client = AsyncScalekitClient(
                env_url=emu.env_url, client_id=emu.client_id, client_secret=emu.client_secret
            )
            stack.callback(asyncio.run, client.aclose())
            print(f"(offline: the local Scalekit emulator at {emu.env_url})")
        print(f"Open http://{args.host}:{args.port}/?user=ana (and ?user=bob in another browser)")
        uvicorn.run(create_app(client=client, model=model), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
