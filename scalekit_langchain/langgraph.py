"""Authorization inside LangGraph: a resumable interrupt, and a gate node for the first turn.

When a tool's connection is not authorized, a tool running inside a graph calls LangGraph's
``interrupt()`` with a JSON-serializable payload::

    {"type": "scalekit_authorization", "user_identifier": "...",
     "connections": [{"connection_name", "provider", "status", "authentication_link"}]}

The app shows the links to the user (never to the model) and resumes the run with
``Command(resume=...)``; the tool then checks the auth state again (a new interrupt with fresh
links while anything is still pending) and runs the same call once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_core.runnables import RunnableConfig, RunnableLambda

from scalekit_langchain.errors import AuthorizationRequired

if TYPE_CHECKING:
    from scalekit_langchain.toolkit import ScalekitMCPToolkit

__all__ = ["AUTHORIZATION_INTERRUPT_TYPE", "authorization_gate", "in_graph_run"]

AUTHORIZATION_INTERRUPT_TYPE = "scalekit_authorization"
_SCRATCHPAD_KEY = "__pregel_scratchpad"


def in_graph_run(config: RunnableConfig | None = None) -> bool:
    """Whether the current code runs inside a LangGraph node (where ``interrupt()`` works)."""
    if config is not None and _SCRATCHPAD_KEY in (config.get("configurable") or {}):
        return True
    try:
        from langgraph.config import get_config

        current = get_config()
    except (ImportError, RuntimeError):
        return False
    return _SCRATCHPAD_KEY in (current.get("configurable") or {})


def _should_interrupt(toolkit: ScalekitMCPToolkit, config: RunnableConfig | None) -> bool:
    setting = toolkit.interrupt_on_authorization
    if setting is False:
        return False
    return in_graph_run(config)


def _pending(states: list[Any]) -> list[Any]:
    return [s for s in states if not s.is_active]


def _interrupt_until_authorized(
    toolkit: ScalekitMCPToolkit, user: str | None, pending: list[Any]
) -> None:
    """Interrupt with the pending connections; on each resume check again, until none is left."""
    from langgraph.types import interrupt

    while pending:
        interrupt(AuthorizationRequired(pending, user_identifier=user).to_payload())
        pending = _pending(toolkit.auth_state(True, user_identifier=user))


async def _ainterrupt_until_authorized(
    toolkit: ScalekitMCPToolkit, user: str | None, pending: list[Any]
) -> None:
    """Async twin of :func:`_interrupt_until_authorized`."""
    from langgraph.types import interrupt

    while pending:
        interrupt(AuthorizationRequired(pending, user_identifier=user).to_payload())
        pending = _pending(await toolkit.aauth_state(True, user_identifier=user))


def wait_for_authorization_sync(
    toolkit: ScalekitMCPToolkit, error: AuthorizationRequired, config: RunnableConfig | None
) -> None:
    """Interrupt the graph until the user authorized, or re-raise ``error`` outside a graph."""
    if not _should_interrupt(toolkit, config):
        raise error
    _interrupt_until_authorized(toolkit, error.user_identifier, error.connections)


async def wait_for_authorization_async(
    toolkit: ScalekitMCPToolkit, error: AuthorizationRequired, config: RunnableConfig | None
) -> None:
    """Async twin of :func:`wait_for_authorization_sync`."""
    if not _should_interrupt(toolkit, config):
        raise error
    await _ainterrupt_until_authorized(toolkit, error.user_identifier, error.connections)


def authorization_gate(
    toolkit: ScalekitMCPToolkit, *, name: str = "scalekit_authorization_gate"
) -> RunnableLambda[Any, None]:
    """A graph node that makes the run's user authorize every connection before the model runs.

    It checks all of the config's connections for the user (the toolkit's, or the run's in
    multi-user mode) and raises one interrupt listing every pending one, so the user authorizes
    everything at once. On resume it checks again: a new interrupt (fresh links) while anything
    is still pending, otherwise it lets the run through without changing the state.

    Example:
        >>> builder.add_node("authorize", authorization_gate(toolkit))  # doctest: +SKIP
        >>> builder.add_edge(START, "authorize")  # doctest: +SKIP
        >>> builder.add_edge("authorize", "agent")  # doctest: +SKIP
    """

    def gate(state: Any, config: RunnableConfig) -> None:
        user = toolkit._user_for_call(config)
        pending = _pending(toolkit.auth_state(True, user_identifier=user))
        _interrupt_until_authorized(toolkit, user, pending)

    async def agate(state: Any, config: RunnableConfig) -> None:
        user = toolkit._user_for_call(config)
        pending = _pending(await toolkit.aauth_state(True, user_identifier=user))
        await _ainterrupt_until_authorized(toolkit, user, pending)

    return RunnableLambda(gate, afunc=agate, name=name)
