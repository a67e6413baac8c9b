"""The main job behind ``scalekit-langchain demo`` (and ``make demo``).

With ``SCALEKIT_ENV_URL``, ``SCALEKIT_CLIENT_ID`` and ``SCALEKIT_CLIENT_SECRET`` set it talks to
the real Scalekit; with none of them set it starts the embedded emulator and runs offline; with
only some of them set it stops and names the missing ones (:func:`credentials_mode`). The setup
part (config, instance, authorization) is :func:`setup`; the ``create_agent`` run that follows is
:func:`run_agent`. What the agent run needs (``langchain``, the ``--model`` provider's package)
is checked by :func:`chat_model` before anything else happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import html.parser
import importlib
import importlib.util
import os
import re
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urljoin

import httpx

from scalekit_langchain._rest_requests import ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_URL
from scalekit_langchain.client import AsyncScalekitClient
from scalekit_langchain.errors import (
    AuthorizationRequired,
    ConflictError,
    ScalekitConfigurationError,
    ScalekitConnectionError,
    ScalekitProtocolError,
)
from scalekit_langchain.models import (
    ConnectionAuthState,
    McpConfig,
    McpConfigConnectionToolMapping,
    McpInstance,
)

__all__ = [
    "CONFIG_NAME",
    "MAPPINGS",
    "ModelUnavailable",
    "chat_model",
    "credentials_mode",
    "run_demo",
    "setup",
]

Out = Callable[[str], Any]

CONFIG_NAME = "email-calendar-assistant"
CONFIG_DESCRIPTION = "Reads the latest email, creates calendar reminders (scalekit-langchain demo)"
MAPPINGS: tuple[McpConfigConnectionToolMapping, ...] = (
    McpConfigConnectionToolMapping(connection_name="MY_GMAIL", tools=["gmail_fetch_mails"]),
    McpConfigConnectionToolMapping(
        connection_name="MY_CALENDAR", tools=["googlecalendar_create_event"]
    ),
)

#: How long the demo waits for a user to authorize against the real Scalekit.
AUTH_TIMEOUT = 300.0
AUTH_POLL_INTERVAL = 3.0


class ModelUnavailable(Exception):
    """The agent run cannot start: a package is missing or the model cannot be created."""


def credentials_mode() -> bool:
    """Whether to use the real Scalekit (all three ``SCALEKIT_*`` set) or the emulator (none).

    Raises:
        ScalekitConfigurationError: Only some of the three are set (names the missing ones):
            running offline then would hide a typo in the user's setup.
    """
    names = (ENV_URL, ENV_CLIENT_ID, ENV_CLIENT_SECRET)
    missing = [name for name in names if not os.environ.get(name)]
    if len(missing) == len(names):
        return False
    if missing:
        raise ScalekitConfigurationError(
            f"{' and '.join(missing)} not set while the other SCALEKIT_* variables are: set all "
            "three to use your Scalekit environment, or none to run offline"
        )
    return True


def run_demo(*, user: str = "john-doe", model: str | None = None, out: Out = print) -> int:
    """Run the demo end to end and return a process exit code (0 on success).

    Args:
        user: The user identifier whose instance is used.
        model: ``provider:name`` of a chat model for the agent run; ``None`` for the scripted
            offline model.
        out: Where each output line goes.

    Raises:
        ModelUnavailable: ``langchain`` or the model's provider package is missing, or the model
            cannot be created; raised before any other work.
        ScalekitConfigurationError: Some but not all ``SCALEKIT_*`` variables are set.
        ScalekitError: A Scalekit call failed (the CLI turns it into a one-line message).
    """
    chat = chat_model(model)
    real = credentials_mode()
    with contextlib.ExitStack() as stack:
        if real:
            out(f"Scalekit: {os.environ[ENV_URL]} (credentials from SCALEKIT_* variables)")
            client_kwargs: dict[str, Any] = {}
        else:
            from scalekit_langchain.testing import ScalekitEmulator

            emu = stack.enter_context(ScalekitEmulator())
            out("Scalekit: no SCALEKIT_* credentials set, so running offline against the")
            out(f"          embedded Scalekit emulator at {emu.env_url}")
            client_kwargs = {
                "env_url": emu.env_url,
                "client_id": emu.client_id,
                "client_secret": emu.client_secret,
            }
        return asyncio.run(
            _run(client_kwargs, user=user, model=model, chat=chat, out=out, emulated=not real)
        )


async def _run(
    client_kwargs: dict[str, Any],
    *,
    user: str,
    model: str | None,
    chat: Any,
    out: Out,
    emulated: bool,
) -> int:
    async with AsyncScalekitClient(**client_kwargs) as client:
        await setup(client, user=user, out=out, authorize_as_user=emulated)
        await run_agent(client, user=user, model=model, chat=chat, out=out)

    out("")
    out("Done.")
    return 0


# --------------------------------------------------------------------------- agent

TASK = (
    "Read my latest email and create a calendar reminder about it that starts 15 minutes "
    "from now and lasts 15 minutes."
)


# Providers of ``init_chat_model`` whose integration package is not ``langchain-<provider>``.
_PROVIDER_PACKAGES = {
    "azure_openai": "langchain_openai",
    "azure_ai": "langchain_azure_ai",
    "anthropic_bedrock": "langchain_aws",
    "bedrock": "langchain_aws",
    "bedrock_converse": "langchain_aws",
    "google_anthropic_vertex": "langchain_google_vertexai",
    "langsmith": "langchain_openai",
    "nvidia": "langchain_nvidia_ai_endpoints",
}
_MODEL_SPEC = re.compile(r"^([a-z][a-z0-9_]*):(\S+)$")


def chat_model(model: str | None) -> Any:
    """The agent's chat model: ``init_chat_model(model)``, or the scripted offline model.

    Checks first that ``langchain`` (for ``create_agent``) and the provider's integration package
    can be imported, so a missing package is reported before anything else runs.

    Raises:
        ModelUnavailable: With one line naming what to install (or why the model failed).
    """
    if importlib.util.find_spec("langchain") is None:
        raise ModelUnavailable(
            "the demo's agent needs LangChain 1.5 or later (create_agent): "
            "pip install 'scalekit-langchain[agents]'"
        )
    try:
        from langchain.agents import create_agent  # noqa: F401
    except ImportError as exc:
        raise ModelUnavailable(
            f"the installed langchain has no create_agent ({exc}): "
            "pip install 'scalekit-langchain[agents]'"
        ) from None
    if model is None:
        from scalekit_langchain.testing.scripted import ScriptedReminderModel

        return ScriptedReminderModel()
    match = _MODEL_SPEC.match(model)
    if match is None:
        raise ModelUnavailable(
            f"--model must look like provider:name (e.g. openai:gpt-4.1-mini), got {model!r}"
        )
    provider = match.group(1)
    module = _PROVIDER_PACKAGES.get(provider, f"langchain_{provider}")
    if importlib.util.find_spec(module) is None:
        package = module.replace("_", "-")
        raise ModelUnavailable(
            f"--model {model} needs the {package} package: pip install {package}"
        )
    chat_models = importlib.import_module("langchain.chat_models")
    try:
        return chat_models.init_chat_model(model)
    except Exception as exc:  # a missing API key, an unknown provider, ...
        detail = " ".join(str(exc).split())[:300]
        raise ModelUnavailable(
            f"could not create the model {model}: {type(exc).__name__}: {detail}"
        ) from None


async def run_agent(
    client: AsyncScalekitClient,
    *,
    user: str,
    model: str | None,
    chat: Any = None,
    out: Out = print,
) -> dict[str, Any] | None:
    """Discover the user's tools and run a ``create_agent`` agent on the seed's task.

    Args:
        client: An open client.
        user: The user identifier.
        model: ``provider:name`` (only for the label when ``chat`` is given).
        chat: The chat model; built from ``model`` by :func:`chat_model` when omitted.
        out: Where each output line goes.

    Returns:
        The calendar event the agent created (``None`` if none). Prints each tool call and
        result on the way.

    Raises:
        ModelUnavailable: ``chat`` omitted and the model cannot be built.
    """
    from langchain.agents import create_agent
    from langchain_core.messages import AIMessage, ToolMessage

    from scalekit_langchain.toolkit import ScalekitMCPToolkit

    if chat is None:
        chat = chat_model(model)

    out("")
    out("[6/7] Tools over one persistent MCP session")
    async with ScalekitMCPToolkit(
        client=client,
        config_name=CONFIG_NAME,
        user_identifier=user,
        connection_tool_mappings=list(MAPPINGS),
    ) as toolkit:
        tools = await toolkit.aget_tools()
        for tool in tools:
            out(f"      {tool.name}: {tool.description.splitlines()[0][:70]}")

        out("")
        out("[7/7] Agent (langchain.agents.create_agent)")
        if model is None:
            out("      model: scripted offline model (no LLM; --model provider:name for one)")
        else:
            out(f"      model: {model} (through init_chat_model)")
        agent = create_agent(chat, tools)
        out(f"      user: {TASK}")
        event: dict[str, Any] | None = None
        async for update in agent.astream({"messages": [("user", TASK)]}, stream_mode="updates"):
            for node_update in update.values():
                for message in (node_update or {}).get("messages", []):
                    if isinstance(message, AIMessage):
                        for call in message.tool_calls:
                            out(f"      -> tool call {call['name']}({_short(call['args'])})")
                        if message.text and not message.tool_calls:
                            out("      agent: " + message.text.replace("\n", "\n             "))
                    elif isinstance(message, ToolMessage):
                        first = message.text.strip().splitlines()[0] if message.text.strip() else ""
                        out(f"      <- {message.name} [{message.status}] {first[:100]}")
                        artifact = (message.artifact or {}).get("structured_content")
                        if isinstance(artifact, dict) and isinstance(artifact.get("event"), dict):
                            event = artifact["event"]
    out("")
    if event is None:
        out("No calendar event was created.")
        return None
    out("Created event:")
    out(f"      {event.get('summary')}")
    out(f"      {event.get('start', {}).get('dateTime')} -> {event.get('end', {}).get('dateTime')}")
    out(f"      id {event.get('id')}")
    return event


def _short(args: dict[str, Any]) -> str:
    text = ", ".join(f"{k}={v!r}" for k, v in args.items())
    return text if len(text) <= 110 else text[:107] + "..."


# --------------------------------------------------------------------------- setup


async def setup(
    client: AsyncScalekitClient,
    *,
    user: str,
    out: Out = print,
    authorize_as_user: bool = False,
    auth_timeout: float = AUTH_TIMEOUT,
    poll_interval: float = AUTH_POLL_INTERVAL,
) -> McpInstance:
    """Config, instance and authorization for one user; returns the user's instance.

    Args:
        client: An open client.
        user: The user identifier.
        out: Where each output line goes.
        authorize_as_user: Open each auth link and submit its form, as the user would (only
            works against the emulator, whose link pages have a form). Otherwise print the
            links and wait for the user to authorize in a browser.
        auth_timeout: Seconds to wait for every connection to become ACTIVE.
        poll_interval: Seconds between auth-state checks while waiting.

    Raises:
        AuthorizationRequired: Not every connection became ACTIVE within ``auth_timeout``.
        ScalekitError: A Scalekit call failed.
    """
    out("")
    out(f"[1/7] MCP config {CONFIG_NAME!r}")
    config = await ensure_config(client, out=out)

    out("")
    out(f"[2/7] MCP instance for user {user!r}")
    instance = await client.mcp.ensure_instance(config.name, user)
    out(f"      instance {instance.id} (ensure is idempotent: same one on every run)")

    out("")
    out("[3/7] Authorization state")
    states = await client.mcp.get_instance_auth_state(instance.id, include_auth_links=True)
    _print_states(states, out=out, links=True)
    pending = [s for s in states if not s.is_active]

    out("")
    if not pending:
        out("[4/7] Authorization: every connection is already ACTIVE")
    elif authorize_as_user:
        out("[4/7] Authorizing as the user would: open each link, press Authorize")
        await authorize_through_links(pending, out=out)
    else:
        out("[4/7] Authorization: open each link above in a browser and sign in")
        out(f"      waiting up to {auth_timeout:.0f}s for every connection to be ACTIVE ...")
    states = await wait_until_active(
        client,
        instance.id,
        user=user,
        timeout=auth_timeout if pending else 0.0,
        interval=poll_interval,
    )
    out("      auth state now:")
    _print_states(states, out=out, links=False, indent=8)

    out("")
    out("[5/7] Instance URL (pre-authenticated, so shown redacted)")
    out(f"      {instance.redacted_url}")
    return instance


async def ensure_config(client: AsyncScalekitClient, *, out: Out = print) -> McpConfig:
    """Get the demo config by name, creating it when absent (a concurrent create is fine)."""
    config = await client.mcp.get_config_by_name(CONFIG_NAME)
    if config is not None:
        out(f"      reused existing config {config.id}")
    else:
        try:
            config = await client.mcp.create_config(
                CONFIG_NAME, description=CONFIG_DESCRIPTION, connection_tool_mappings=MAPPINGS
            )
            out(f"      created config {config.id}")
        except ConflictError:
            # Someone created it between our lookup and our create: read theirs back.
            config = await client.mcp.get_config_by_name(CONFIG_NAME)
            if config is None:
                raise
            out(f"      reused config {config.id} (created concurrently)")
    for m in config.connection_tool_mappings:
        tools = ", ".join(m.tools) or "all tools"
        out(f"      {m.connection_name}: {tools}")
    wanted = {m.connection_name.upper(): sorted(m.tools) for m in MAPPINGS}
    have = {m.connection_name.upper(): sorted(m.tools) for m in config.connection_tool_mappings}
    if have != wanted:
        out("      note: its mappings differ from the demo's; using them as they are")
    return config


async def wait_until_active(
    client: AsyncScalekitClient,
    instance_id: str,
    *,
    user: str,
    timeout: float,
    interval: float,
) -> list[ConnectionAuthState]:
    """Poll the instance's auth state until every connection is ACTIVE.

    Raises:
        AuthorizationRequired: Still not all ACTIVE after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        states = await client.mcp.get_instance_auth_state(instance_id)
        pending = [s for s in states if not s.is_active]
        if not pending:
            return states
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AuthorizationRequired(
                pending,
                user_identifier=user,
                message=(
                    f"Timed out after {timeout:.0f}s waiting for {user!r} to authorize "
                    + ", ".join(s.connection_name for s in pending)
                ),
            )
        await asyncio.sleep(min(interval, remaining))


async def authorize_through_links(states: Sequence[ConnectionAuthState], *, out: Out) -> None:
    """Do what a user does with each auth link: GET the page, then POST its form."""
    async with httpx.AsyncClient(timeout=10.0, follow_redirects=True) as http:
        for state in states:
            link = state.authentication_link
            if not link:
                out(f"      {state.connection_name}: no link to open")
                continue
            try:
                page = await http.get(link)
                page.raise_for_status()
                action = form_action(page.text)
                if action is None:
                    raise ScalekitProtocolError(
                        f"the authorization page for {state.connection_name} has no form"
                    )
                done = await http.post(urljoin(str(page.url), action))
                done.raise_for_status()
            except httpx.HTTPStatusError as exc:
                raise ScalekitProtocolError(
                    f"authorizing {state.connection_name} failed: HTTP "
                    f"{exc.response.status_code} from the authorization page"
                ) from None
            except httpx.TransportError as exc:
                raise ScalekitConnectionError(
                    f"authorizing {state.connection_name} failed: {type(exc).__name__}"
                ) from exc
            out(f"      {state.connection_name}: opened the link, pressed Authorize")


# --------------------------------------------------------------------------- output


def _print_states(
    states: Sequence[ConnectionAuthState], *, out: Out, links: bool, indent: int = 6
) -> None:
    pad = " " * indent
    width = max((len(s.connection_name) for s in states), default=0)
    for s in states:
        status = s.status or "NO_ACCOUNT"
        out(f"{pad}{s.connection_name:<{width}}  {s.provider or '?':<15} {status}")
        if links and not s.is_active:
            out(f"{pad}  link: {s.authentication_link or '(none returned)'}")


class _FormFinder(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "form" and self.action is None:
            values = dict(attrs)
            if (values.get("method") or "get").lower() == "post":
                self.action = values.get("action") or ""


def form_action(page: str) -> str | None:
    """The action URL of the first form on an HTML page (the auth page's Authorize button)."""
    finder = _FormFinder()
    finder.feed(page)
    return finder.action
