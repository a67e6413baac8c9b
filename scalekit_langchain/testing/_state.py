"""In-memory state of the emulator: the one object its REST, MCP and control layers share.

:class:`EmulatorState` declares every field (connections, configs, instances, accounts, links,
tokens, user data) and gets its behaviour from two bases along the state's two concerns:
:class:`~scalekit_langchain.testing._accounts.AccountsState` (who is connected, links, access
tokens) and :class:`~scalekit_langchain.testing._mcp_configs.ConfigsState` (configs and
instances, and their JSON rendering). Everything is guarded by one re-entrant lock, because
the HTTP server runs in its own thread while tests call the control methods from theirs.
Methods validate their input and raise
:class:`~scalekit_langchain.testing._errors.ApiError`, which the REST layer turns into an error
response.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from scalekit_langchain.testing._accounts import (
    DEFAULT_CONNECTIONS,
    AuthLink,
    ConnectedAccount,
    Connection,
    StatusHook,
    random_digits,
)
from scalekit_langchain.testing._mcp_configs import ConfigRecord, ConfigsState, InstanceRecord

if TYPE_CHECKING:
    from scalekit_langchain.testing._providers import UserData

__all__ = ["EmulatorState", "as_clock"]


def as_clock(now: Callable[[], float | datetime] | None) -> Callable[[], float]:
    """Return a clock in UNIX seconds from one giving seconds or aware datetimes (None: wall)."""
    if now is None:
        return time.time

    def clock() -> float:
        value = now()
        return value.timestamp() if isinstance(value, datetime) else float(value)

    return clock


@dataclass
class EmulatorState(ConfigsState):
    """All mutable state of one emulator; safe to use from any thread.

    Attributes:
        client_id: The OAuth client id accepted at ``/oauth/token``.
        client_secret: The matching secret.
        token_ttl: Lifetime of access tokens, seconds.
        auth_link_ttl: Lifetime of authorization links, seconds.
        clock: Returns the current time as UNIX seconds.
        env_url: Base URL, set once the port is known.
    """

    client_id: str
    client_secret: str
    token_ttl: float
    auth_link_ttl: float
    clock: Callable[[], float] = time.time
    connections_by_name: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CONNECTIONS))
    env_url: str = ""
    #: Case of ``connected_account_status`` on the wire: ``upper`` (``ACTIVE``) or ``lower``.
    status_case: str = "upper"
    lock: threading.RLock = field(default_factory=threading.RLock)
    connections: dict[str, Connection] = field(default_factory=dict)
    configs: dict[str, ConfigRecord] = field(default_factory=dict)
    instances: dict[str, InstanceRecord] = field(default_factory=dict)
    accounts: dict[tuple[str, str], ConnectedAccount] = field(default_factory=dict)
    links: dict[str, AuthLink] = field(default_factory=dict)
    access_tokens: dict[str, float] = field(default_factory=dict)
    users: dict[str, UserData] = field(default_factory=dict)
    #: Told of every status change (the emulator's webhook sender); ``None``: nobody.
    on_status_change: StatusHook | None = None

    def __post_init__(self) -> None:
        for name, provider in self.connections_by_name.items():
            self.connections[name.lower()] = Connection("conn_" + random_digits(18), name, provider)

    def live_secrets(self) -> set[str]:
        """Return every instance URL secret, authorization link token and access token held now.

        The client secret and the control token are not included; deleted instances are gone.
        """
        with self.lock:
            return {i.secret for i in self.instances.values()} | set(self.links) | set(
                self.access_tokens
            )

    def known_users(self) -> set[str]:
        """Return the user identifiers that have an MCP instance or a connected account."""
        with self.lock:
            return {i.user_identifier for i in self.instances.values()} | {
                user for user, _ in self.accounts
            }
