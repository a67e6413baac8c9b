"""The emulator's users: connections, connected accounts, authorization links, access tokens.

:class:`AccountsState` holds the part of the emulator's state that is about who may do what:
the dashboard's connections, each user's account (and its status) on them, the authorization
links that turn an account ACTIVE, the opaque access tokens of ``/oauth/token`` and each
user's demo data. It is a base of :class:`~scalekit_langchain.testing._state.EmulatorState`,
which declares the fields; its methods hold the state's re-entrant lock. The record types and
status names live here too, with :func:`rfc3339` and :func:`random_digits` (used for ids).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from scalekit_langchain.testing._errors import ApiError

if TYPE_CHECKING:
    from scalekit_langchain.testing._providers import UserData

ACTIVE = "ACTIVE"
PENDING_AUTH = "PENDING_AUTH"
EXPIRED = "EXPIRED"
DISCONNECTED = "DISCONNECTED"

DEFAULT_CONNECTIONS: dict[str, str] = {
    "MY_GMAIL": "gmail",
    "MY_CALENDAR": "googlecalendar",
    "MY_SLACK": "slack",
}


def rfc3339(epoch: float) -> str:
    """Format UNIX seconds as an RFC 3339 UTC timestamp (second precision, ``Z`` suffix)."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")



def random_digits(n: int) -> str:
    """Return a random ``n``-digit decimal string (no leading zero), as in Scalekit's ids."""
    return str(secrets.randbelow(9 * 10 ** (n - 1)) + 10 ** (n - 1))



#: ``(user, connection_name, provider, account_id, old_status, new_status)``, on a change.
StatusHook = Callable[[str, str, str, str, "str | None", str], None]


@dataclass(frozen=True)
class Connection:
    """A connection set up in the (emulated) Scalekit dashboard.

    Attributes:
        id: ``conn_...`` id.
        name: The connection name, e.g. ``MY_GMAIL``.
        provider: Provider slug, e.g. ``gmail``.
    """

    id: str
    name: str
    provider: str


@dataclass
class ConnectedAccount:
    """A user's account on one connection."""

    id: str
    user_identifier: str
    connection_name: str
    status: str


@dataclass(frozen=True)
class AuthLink:
    """An authorization link for one user and connection."""

    token: str
    user_identifier: str
    connection_name: str
    expires_at: float



class AccountsState:
    """Connections, accounts, links, access tokens and user data; safe to use from any thread.

    A base of :class:`~scalekit_langchain.testing._state.EmulatorState`, which declares (and
    documents) the attributes below.
    """

    client_id: str
    client_secret: str
    token_ttl: float
    auth_link_ttl: float
    clock: Callable[[], float]
    env_url: str
    status_case: str
    lock: threading.RLock
    connections: dict[str, Connection]
    accounts: dict[tuple[str, str], ConnectedAccount]
    links: dict[str, AuthLink]
    access_tokens: dict[str, float]
    users: dict[str, UserData]
    on_status_change: StatusHook | None

    # connections & accounts ---------------------------------------------------

    def connection(self, name: str) -> Connection:
        """Return a connection by name (case-insensitive).

        Raises:
            KeyError: No such connection.
        """
        return self.connections[name.lower()]

    def account(self, user: str, connection_name: str, *, create: bool) -> ConnectedAccount | None:
        """Return a user's account on a connection, creating it PENDING_AUTH if asked."""
        conn = self.connection(connection_name)
        with self.lock:
            key = (user, conn.name)
            acct = self.accounts.get(key)
            if acct is None and create:
                acct = ConnectedAccount("ca_" + random_digits(18), user, conn.name, PENDING_AUTH)
                self.accounts[key] = acct
            return acct

    def set_status(self, user: str, connection_name: str, status: str) -> None:
        """Set a user's account status on a connection, creating the account when missing;
        a change is reported to :attr:`on_status_change` (the webhook sender)."""
        with self.lock:
            old = self.accounts.get((user, self.connection(connection_name).name))
            old_status = old.status if old is not None else None
            acct = self.account(user, connection_name, create=True)
            assert acct is not None
            acct.status = status
            hook = self.on_status_change
        if hook is not None and old_status != status:
            conn = self.connection(connection_name)
            hook(user, conn.name, conn.provider, acct.id, old_status, status)

    def status(self, user: str, connection_name: str) -> str | None:
        """Return the status of a user's account on a connection, or None when there is none."""
        with self.lock:
            acct = self.account(user, connection_name, create=False)
            return acct.status if acct else None

    def user_data(self, user: str) -> UserData:
        """Return the user's provider data, seeding it on first use."""
        from scalekit_langchain.testing._providers import UserData

        with self.lock:
            data = self.users.get(user)
            if data is None:
                clock = self.clock

                def now() -> datetime:
                    return datetime.fromtimestamp(clock(), tz=timezone.utc)

                data = UserData.seeded(user, now=now())
                data.clock = now
                self.users[user] = data
            return data

    # access tokens ------------------------------------------------------------

    def issue_access_token(self, client_id: str, client_secret: str, grant_type: str) -> str:
        """Check client credentials and return a new opaque access token.

        Raises:
            ApiError: 400 for an unsupported grant, 401 for wrong credentials.
        """
        if grant_type != "client_credentials":
            raise ApiError(400, f"unsupported grant_type {grant_type!r}")
        ok_id = secrets.compare_digest(client_id.encode(), self.client_id.encode())
        ok_secret = secrets.compare_digest(client_secret.encode(), self.client_secret.encode())
        if not (ok_id and ok_secret):
            raise ApiError(401, "invalid client credentials")
        token = "skat_" + secrets.token_urlsafe(32)
        with self.lock:
            self.access_tokens[token] = self.clock() + self.token_ttl
        return token

    def check_access_token(self, authorization: str | None) -> None:
        """Check an ``Authorization`` header value.

        Raises:
            ApiError: 401 when it is missing, unknown or expired.
        """
        if not authorization:
            raise ApiError(401, "Token empty")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "Token empty")
        with self.lock:
            expires = self.access_tokens.get(token.strip())
            if expires is None or expires <= self.clock():
                raise ApiError(401, "Token invalid or expired")

    def expire_access_tokens(self) -> None:
        """Invalidate every access token issued so far."""
        with self.lock:
            self.access_tokens.clear()

    # configs ------------------------------------------------------------------
    # auth links ---------------------------------------------------------------

    def new_link(self, user: str, connection_name: str) -> str:
        """Create an authorization link for a user's connection and return its URL."""
        token = secrets.token_urlsafe(24)
        with self.lock:
            now = self.clock()
            for old in [t for t, link in self.links.items() if link.expires_at <= now]:
                del self.links[old]
            self.links[token] = AuthLink(token, user, connection_name, now + self.auth_link_ttl)
        return f"{self.env_url}/connect/{token}"

    def link(self, token: str) -> tuple[AuthLink | None, bool]:
        """Return ``(link, expired)`` for a link token; ``(None, False)`` when unknown."""
        with self.lock:
            link = self.links.get(token)
            if link is None:
                return None, False
            return link, link.expires_at <= self.clock()

    # rendering ----------------------------------------------------------------

    def wire_status(self, status: str) -> str:
        """Return an account status as the REST API sends it (see :attr:`status_case`)."""
        return status.lower() if self.status_case == "lower" else status
