"""``AuthorizationMiddleware`` for ``langchain.agents.create_agent`` (needs ``langchain>=1.5``).

Before the model first runs, the middleware makes sure the run's user has authorized every
connection of the toolkit's config: one pause lists every connection that is not ACTIVE, with
fresh links, and is checked again on resume. A state older than the toolkit's
``auth_state_ttl`` is asked for again. Tool calls refused for authorization later in the
run (an account that expired, say) still pause and re-run by themselves; the middleware only saves
the user a pause per tool.

Example:
    >>> from langchain.agents import create_agent  # doctest: +SKIP
    >>> agent = create_agent(model, tools, middleware=[AuthorizationMiddleware(toolkit)],
    ...                      checkpointer=InMemorySaver())  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

try:
    from langchain.agents.middleware import AgentMiddleware
except ImportError as exc:  # pragma: no cover - exercised only without langchain installed
    raise ImportError(
        "AuthorizationMiddleware needs LangChain 1.5 or later: "
        "pip install 'scalekit-langchain[agents]' (or pip install 'langchain>=1.5')"
    ) from exc

from langchain_core.runnables import RunnableConfig

from scalekit_langchain.errors import AuthorizationRequired
from scalekit_langchain.langgraph import pause_for_authorization

if TYPE_CHECKING:
    from scalekit_langchain.toolkit import ScalekitMCPToolkit

__all__ = ["AuthorizationMiddleware"]


def _run_config() -> RunnableConfig | None:
    try:
        from langgraph.config import get_config

        return get_config()
    except RuntimeError:
        return None


class AuthorizationMiddleware(AgentMiddleware):
    """Pause a ``create_agent`` run until the user authorized every connection.

    The user is the toolkit's ``user_identifier``, or (multi-user toolkits) the run's
    ``configurable["user_id"]``, its context (``context_schema`` with a ``user_id`` field), or
    the LangGraph Platform user (``runtime.server_info.user.identity``). Checking costs no
    request while every connection was seen ACTIVE less than the toolkit's ``auth_state_ttl``
    seconds ago (and not forgotten since, e.g. by a webhook); older, it asks Scalekit again,
    so an account revoked between two runs pauses this run before the model, not after a
    refused tool call.

    Args:
        toolkit: The toolkit whose connections must be authorized.
    """

    def __init__(self, toolkit: ScalekitMCPToolkit) -> None:
        super().__init__()
        self.toolkit = toolkit
        self.tools = []

    @property
    def name(self) -> str:
        """The middleware's node name in the graph."""
        return "ScalekitAuthorizationMiddleware"

    def before_agent(self, state: Any, runtime: Any) -> dict[str, Any] | None:
        """Pause (one interrupt, every pending connection) until all are ACTIVE."""
        config = _run_config()
        user = self.toolkit.user_for_run(config)
        while pending := self.toolkit.unauthorized_connections(user_identifier=user):
            pause_for_authorization(AuthorizationRequired(pending, user_identifier=user), config)
        return None

    async def abefore_agent(self, state: Any, runtime: Any) -> dict[str, Any] | None:
        """Async twin of :meth:`before_agent`."""
        config = _run_config()
        user = self.toolkit.user_for_run(config)
        while pending := await self.toolkit.aunauthorized_connections(user_identifier=user):
            pause_for_authorization(AuthorizationRequired(pending, user_identifier=user), config)
        return None
