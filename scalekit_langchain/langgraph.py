"""Authorization inside LangGraph: a resumable interrupt, the resume command, a gate node.

When a tool's connection is not authorized, a tool running inside a graph calls LangGraph's
``interrupt()`` with a JSON-serializable payload::

    {"type": "scalekit_authorization", "user_identifier": "...",
     "connections": [{"connection_name", "provider", "status", "authentication_link",
                      "link_expires_at", "user_identifier"}]}

Links live about a minute, so a person who reads the message later would click a dead one: the
app shows a button per connection that asks for a fresh link when clicked
(``toolkit.aauthorization_link(connection_name, user_identifier=...)``, or the ready-made route
:func:`scalekit_langchain.web.authorization_route`), never the link to the model. It resumes the
run with :func:`resume_authorization` (one command for every pending authorization interrupt of
the turn). On resume the tool checks the auth state again (a new interrupt with fresh links while
anything is still pending) and runs the same call once.

Pausing needs a checkpointer (an interrupt without one can never be resumed): in a graph
compiled without one, the tool raises :class:`AuthorizationRequired` with a message that says
so instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import SimpleNamespace
from typing import Any, Protocol

from langchain_core.runnables import RunnableConfig, RunnableLambda

from scalekit_langchain.errors import AuthorizationRequired, ElicitationRequired
from scalekit_langchain.models import ConnectionAuthState

__all__ = [
    "run_user",
    "AUTHORIZATION_INTERRUPT_TYPE",
    "authorization_gate",
    "in_graph_run",
    "elicitation_accepted",
    "pause_for_authorization",
    "resume_authorization",
    "resume_elicitation",
]

AUTHORIZATION_INTERRUPT_TYPE = "scalekit_authorization"
_SCRATCHPAD_KEY = "__pregel_scratchpad"
_CHECKPOINTER_KEY = "__pregel_checkpointer"

_NO_CHECKPOINTER = (
    "{base} The run cannot pause for it: the graph has no checkpointer. Compile it with one "
    "(e.g. checkpointer=InMemorySaver()) and pass a thread_id, or authorize before running "
    "(toolkit.await_authorization())."
)


def _configurable(config: RunnableConfig | None) -> Mapping[str, Any]:
    if config is not None and _SCRATCHPAD_KEY in (config.get("configurable") or {}):
        return config.get("configurable") or {}
    try:
        from langgraph.config import get_config

        current = get_config()
    except (ImportError, RuntimeError):
        return {}
    return current.get("configurable") or {}


def run_user(config: RunnableConfig | None, key: str = "user_id") -> Any:
    """The user a LangGraph run acts for, or ``None``: ``configurable[key]``, then the run's
    context (``context_schema``: a dict key or an attribute), then the LangGraph Platform user
    (``runtime.server_info.user.identity``, or ``configurable["langgraph_auth_user"]``)."""
    configurable = (config or {}).get("configurable") or {}
    user = configurable.get(key)
    runtime = configurable.get("__pregel_runtime")
    if user is None:
        context = getattr(runtime, "context", None)
        if isinstance(context, dict):
            user = context.get(key)
        elif context is not None:
            user = getattr(context, key, None)
    if user is None:
        server_user = getattr(getattr(runtime, "server_info", None), "user", None)
        user = getattr(server_user or configurable.get("langgraph_auth_user"), "identity", None)
    return user


def in_graph_run(config: RunnableConfig | None = None) -> bool:
    """Whether the current code runs inside a LangGraph node (where ``interrupt()`` works)."""
    return _SCRATCHPAD_KEY in _configurable(config)


def pause_for_authorization(
    error: AuthorizationRequired | ElicitationRequired, config: RunnableConfig | None
) -> Any:
    """Interrupt the graph run with ``error``'s payload, or raise ``error`` where that is
    impossible (outside a graph, or in a graph without a checkpointer).

    Returns:
        The resume value, once the run is resumed.
    """
    configurable = _configurable(config)
    if _SCRATCHPAD_KEY not in configurable:
        raise error
    if configurable.get(_CHECKPOINTER_KEY) is None:
        if isinstance(error, ElicitationRequired):
            raise ElicitationRequired(
                error.tool_name, error.requests, request_state=error.request_state
            ) from None
        raise AuthorizationRequired(
            error.connections,
            user_identifier=error.user_identifier,
            message=_NO_CHECKPOINTER.format(base=str(error)),
        ) from None
    from langgraph.types import interrupt

    return interrupt(error.to_payload())


def elicitation_accepted(error: ElicitationRequired, resume: Any) -> bool:
    """Whether a resume value accepts every request of an elicitation interrupt.

    The value has ``langchain.mcp``'s shape: ``{"responses": {key: {"action": "accept"}}}``.
    """
    responses = resume.get("responses") if isinstance(resume, Mapping) else None
    if not isinstance(responses, Mapping):
        return False
    for request in error.requests:
        answer = responses.get(request.get("key"))
        if not isinstance(answer, Mapping) or answer.get("action") != "accept":
            return False
    return True


def resume_authorization(interrupts: Any, value: Any = True) -> Any:
    """The ``Command`` that resumes every pending authorization interrupt of a run.

    Several tool calls can pause in one turn (one interrupt each); LangGraph then needs the
    resume value by interrupt id. Pass the run's result (a dict with ``"__interrupt__"``), the
    list of interrupts, or a ``StateSnapshot``; from a LangGraph server, what
    ``langgraph_sdk`` returns (a thread state with ``"interrupts"``, a ``runs.wait`` result),
    and send ``{"resume": command.resume}`` as the run's ``command``.

    Example:
        >>> result = agent.invoke(inputs, run)  # doctest: +SKIP
        >>> # ...the user opens the links...
        >>> agent.invoke(resume_authorization(result), run)  # doctest: +SKIP

    Raises:
        ValueError: No authorization interrupt is pending.
    """
    from langgraph.types import Command

    pending = _authorization_interrupts(interrupts)
    if not pending:
        raise ValueError("no scalekit authorization interrupt is pending in what was passed")
    return Command(resume={i.id: value for i in pending})


def _authorization_interrupts(source: Any) -> list[Any]:
    if isinstance(source, Mapping):  # a run's result, or a LangGraph server's thread state
        source = source.get("__interrupt__") or source.get("interrupts") or ()
    elif hasattr(source, "interrupts"):  # StateSnapshot
        source = source.interrupts
    items: Iterable[Any] = source or ()
    found = []
    for item in items:
        # Interrupt objects, or their JSON form from a LangGraph server ({"id", "value"}).
        value, ident = (
            (item.get("value"), item.get("id"))
            if isinstance(item, Mapping)
            else (getattr(item, "value", None), getattr(item, "id", None))
        )
        is_ours = isinstance(value, Mapping) and value.get("type") == AUTHORIZATION_INTERRUPT_TYPE
        if is_ours and ident:
            found.append(SimpleNamespace(id=ident, value=value))
    return found


def resume_elicitation(interrupts: Any, action: str = "accept") -> Any:
    """The ``Command`` that answers every pending ``mcp_elicitation`` interrupt of a run.

    Args:
        interrupts: The run's result, its interrupts, or a ``StateSnapshot``.
        action: ``"accept"`` (the user did what the URL asked), ``"decline"`` or ``"cancel"``.

    Raises:
        ValueError: No elicitation interrupt is pending.
    """
    from langgraph.types import Command

    if isinstance(interrupts, Mapping):
        interrupts = interrupts.get("__interrupt__", ())
    elif hasattr(interrupts, "interrupts"):
        interrupts = interrupts.interrupts
    pending = [
        i
        for i in interrupts or ()
        if isinstance(getattr(i, "value", None), Mapping)
        and i.value.get("type") == "mcp_elicitation"
    ]
    if not pending:
        raise ValueError("no mcp_elicitation interrupt is pending in what was passed")
    return Command(
        resume={
            i.id: {"responses": {r["key"]: {"action": action} for r in i.value["requests"]}}
            for i in pending
        }
    )


class _GateTarget(Protocol):
    def user_for_run(self, config: RunnableConfig | None) -> str: ...

    def unauthorized_connections(
        self, *, user_identifier: str | None = None
    ) -> list[ConnectionAuthState]: ...

    async def aunauthorized_connections(
        self, *, user_identifier: str | None = None
    ) -> list[ConnectionAuthState]: ...


def authorization_gate(
    toolkit: _GateTarget, *, name: str = "scalekit_authorization_gate"
) -> RunnableLambda[Any, None]:
    """A graph node that makes the run's user authorize every connection before the model runs.

    It checks all of the config's connections for the user (the toolkit's, or the run's in
    multi-user mode) and raises one interrupt listing every pending one, so the user authorizes
    everything at once. On resume it checks again: a new interrupt (fresh links) while anything
    is still pending, otherwise it lets the run through without changing the state. A check
    costs no request while every connection was seen ACTIVE less than the toolkit's
    ``auth_state_ttl`` seconds ago.

    Example:
        >>> builder.add_node("authorize", authorization_gate(toolkit))  # doctest: +SKIP
        >>> builder.add_edge(START, "authorize")  # doctest: +SKIP
        >>> builder.add_edge("authorize", "agent")  # doctest: +SKIP
    """

    def gate(state: Any, config: RunnableConfig) -> None:
        user = toolkit.user_for_run(config)
        while pending := toolkit.unauthorized_connections(user_identifier=user):
            pause_for_authorization(AuthorizationRequired(pending, user_identifier=user), config)

    async def agate(state: Any, config: RunnableConfig) -> None:
        user = toolkit.user_for_run(config)
        while pending := await toolkit.aunauthorized_connections(user_identifier=user):
            pause_for_authorization(AuthorizationRequired(pending, user_identifier=user), config)

    return RunnableLambda(gate, afunc=agate, name=name)
