"""In-memory state of the emulator: connections, configs, instances, accounts, links, tokens.

Everything here is guarded by one re-entrant lock, because the HTTP server runs in its own
thread while tests call the control methods from theirs. Methods validate their input and raise
:class:`~scalekit_langchain.testing._errors.ApiError`, which the REST layer turns into an error
response. Rendering to the wire's JSON shapes also lives here, since it needs a consistent view.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from scalekit_langchain.testing._errors import ApiError, invalid
from scalekit_langchain.testing._paging import Page, paginate

if TYPE_CHECKING:
    from scalekit_langchain.testing._providers import UserData

ACTIVE = "ACTIVE"
PENDING_AUTH = "PENDING_AUTH"
EXPIRED = "EXPIRED"
DISCONNECTED = "DISCONNECTED"

CONFIG_NAME_RE = re.compile(r"^[a-z0-9_-]{1,100}$")
FILTER_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{0,100}$")
MAX_MAPPINGS = 25
ZERO_TIME = "0001-01-01T00:00:00Z"

DEFAULT_CONNECTIONS: dict[str, str] = {
    "MY_GMAIL": "gmail",
    "MY_CALENDAR": "googlecalendar",
    "MY_SLACK": "slack",
}


def rfc3339(epoch: float) -> str:
    """Format UNIX seconds as an RFC 3339 UTC timestamp (second precision, ``Z`` suffix)."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _digits(n: int) -> str:
    return str(secrets.randbelow(9 * 10 ** (n - 1)) + 10 ** (n - 1))


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
class Mapping:
    """One connection of a config and the tools it exposes (empty = all of the provider's)."""

    connection: Connection
    tools: list[str]


@dataclass
class ConfigRecord:
    """A stored MCP config."""

    id: str
    name: str
    description: str
    mappings: list[Mapping]
    server_key: str


@dataclass
class InstanceRecord:
    """A stored MCP instance of one user for one config."""

    id: str
    name: str
    user_identifier: str
    config_id: str
    secret: str
    updated_at: float
    last_used_at: float | None = None


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


@dataclass
class EmulatorState:
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

    def __post_init__(self) -> None:
        for name, provider in self.connections_by_name.items():
            self.connections[name.lower()] = Connection("conn_" + _digits(18), name, provider)

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
                acct = ConnectedAccount("ca_" + _digits(18), user, conn.name, PENDING_AUTH)
                self.accounts[key] = acct
            return acct

    def set_status(self, user: str, connection_name: str, status: str) -> None:
        """Set a user's account status on a connection, creating the account when missing."""
        with self.lock:
            acct = self.account(user, connection_name, create=True)
            assert acct is not None
            acct.status = status

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

    def _parse_mappings(self, raw: Any) -> list[Mapping]:
        from scalekit_langchain.testing._providers import tools_for_provider

        if raw is None:
            return []
        if not isinstance(raw, list):
            raise invalid("connection_tool_mappings", "must be a list")
        if len(raw) > MAX_MAPPINGS:
            raise invalid("connection_tool_mappings", f"at most {MAX_MAPPINGS} mappings allowed")
        mappings: list[Mapping] = []
        seen: set[str] = set()
        for i, item in enumerate(raw):
            where = f"connection_tool_mappings[{i}]"
            if not isinstance(item, dict):
                raise invalid(where, "must be an object")
            name = item.get("connection_name")
            if not isinstance(name, str) or not name:
                raise invalid(f"{where}.connection_name", "value is required")
            try:
                conn = self.connection(name)
            except KeyError:
                raise invalid(
                    f"{where}.connection_name",
                    f"connection {name!r} does not exist",
                    "invalid connection/tool mappings",
                ) from None
            if conn.name in seen:
                raise invalid(f"{where}.connection_name", f"connection {name!r} mapped twice")
            seen.add(conn.name)
            tools = item.get("tools") or []
            if not isinstance(tools, list) or not all(isinstance(t, str) for t in tools):
                raise invalid(f"{where}.tools", "must be a list of tool names")
            known = {t.name for t in tools_for_provider(conn.provider)}
            for tool in tools:
                if tool not in known:
                    raise invalid(
                        f"{where}.tools",
                        f"tool {tool!r} does not belong to connection {conn.name!r}"
                        f" (provider {conn.provider})",
                        "invalid connection/tool mappings",
                    )
            mappings.append(Mapping(conn, list(dict.fromkeys(tools))))
        return mappings

    def create_config(self, body: Any) -> ConfigRecord:
        """Create a config from the request body.

        Raises:
            ApiError: 400 for invalid fields or mappings, 409 when the name is taken.
        """
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object")
        name = body.get("name")
        if not isinstance(name, str) or not CONFIG_NAME_RE.match(name):
            raise invalid("name", "must match ^[a-z0-9_-]+$ and be 1 to 100 characters long")
        description = body.get("description") or ""
        if not isinstance(description, str):
            raise invalid("description", "must be a string")
        mappings = self._parse_mappings(body.get("connection_tool_mappings"))
        with self.lock:
            if any(c.name == name for c in self.configs.values()):
                raise ApiError(409, f"an MCP config named {name!r} already exists")
            record = ConfigRecord(
                "cfg_" + _digits(18), name, description, mappings, str(uuid.uuid4())
            )
            self.configs[record.id] = record
            return record

    def get_config(self, config_id: str) -> ConfigRecord:
        """Return a config by id.

        Raises:
            ApiError: 404 when unknown.
        """
        with self.lock:
            record = self.configs.get(config_id)
            if record is None:
                raise ApiError(404, "MCP config does not exist")
            return record

    def config_by_name(self, name: str) -> ConfigRecord | None:
        """Return the config with this exact name, if any."""
        with self.lock:
            return next((c for c in self.configs.values() if c.name == name), None)

    def config_by_server_key(self, key: str) -> ConfigRecord | None:
        """Return the config whose ``mcp_server_url`` ends with ``key``, if any."""
        with self.lock:
            return next((c for c in self.configs.values() if c.server_key == key), None)

    def update_config(self, config_id: str, body: Any) -> ConfigRecord:
        """Update description and/or mappings (mappings are replaced).

        Raises:
            ApiError: 404 unknown config; 400 invalid body or an attempt to rename.
        """
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object")
        with self.lock:
            record = self.get_config(config_id)
            name = body.get("name")
            if name not in (None, "", record.name):
                raise invalid("name", "the name of a config cannot be changed")
            if "description" in body:
                description = body["description"] or ""
                if not isinstance(description, str):
                    raise invalid("description", "must be a string")
                record.description = description
            if body.get("connection_tool_mappings") is not None:
                record.mappings = self._parse_mappings(body["connection_tool_mappings"])
            return record

    def delete_config(self, config_id: str) -> None:
        """Delete a config and its instances.

        Raises:
            ApiError: 404 when unknown.
        """
        with self.lock:
            self.get_config(config_id)
            del self.configs[config_id]
            for inst_id in [i.id for i in self.instances.values() if i.config_id == config_id]:
                del self.instances[inst_id]

    def list_configs(self, query: dict[str, str]) -> Page:
        """List configs with the query's filters and paging.

        Raises:
            ApiError: 400 for a bad filter, page size or page token.
        """
        f_name = query.get("filter.name", "")
        if not FILTER_NAME_RE.match(f_name):
            raise invalid("filter.name", "must match ^[a-zA-Z0-9_-]*$ (max 100 characters)")
        f_id = query.get("filter.id", "")
        f_provider = query.get("filter.provider", "").lower()
        f_url = query.get("filter.mcp_server_url", "").rstrip("/").rsplit("/", 1)[-1]
        search = query.get("search", "").lower()
        with self.lock:
            items = [
                c
                for c in self.configs.values()
                if (not f_id or c.id == f_id)
                and (not f_name or c.name.lower() == f_name.lower())
                and (not f_provider or any(m.connection.provider == f_provider for m in c.mappings))
                and (not f_url or c.server_key == f_url)
                and (not search or search in c.name.lower() or search in c.description.lower())
            ]
        return paginate(items, query)

    # instances ----------------------------------------------------------------

    def ensure_instance(self, body: Any) -> InstanceRecord:
        """Return the instance for (config, user, name), creating it and the user's accounts.

        Raises:
            ApiError: 400 missing fields; 404 unknown config name.
        """
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object")
        config_name = body.get("config_name")
        user = body.get("user_identifier")
        if not isinstance(config_name, str) or not config_name:
            raise invalid("config_name", "value is required")
        if not isinstance(user, str) or not user:
            raise invalid("user_identifier", "value is required")
        name = body.get("name") or config_name
        if not isinstance(name, str):
            raise invalid("name", "must be a string")
        with self.lock:
            config = self.config_by_name(config_name)
            if config is None:
                raise ApiError(404, f"MCP config {config_name!r} does not exist")
            self._ensure_accounts(config, user)
            for inst in self.instances.values():
                same_user = inst.user_identifier == user
                if inst.config_id == config.id and same_user and inst.name == name:
                    return inst
            inst = InstanceRecord(
                id="inst_" + _digits(17),
                name=name,
                user_identifier=user,
                config_id=config.id,
                secret=secrets.token_urlsafe(24),
                updated_at=self.clock(),
            )
            self.instances[inst.id] = inst
            return inst

    def _ensure_accounts(self, config: ConfigRecord, user: str) -> None:
        for m in config.mappings:
            self.account(user, m.connection.name, create=True)

    def get_instance(self, instance_id: str) -> InstanceRecord:
        """Return an instance by id.

        Raises:
            ApiError: 404 when unknown.
        """
        with self.lock:
            inst = self.instances.get(instance_id)
            if inst is None:
                raise ApiError(404, "MCP instance does not exist")
            return inst

    def instance_by_secret(self, secret: str) -> InstanceRecord | None:
        """Return the instance whose URL ends with ``secret``, if any."""
        with self.lock:
            for inst in self.instances.values():
                if secrets.compare_digest(inst.secret.encode(), secret.encode()):
                    return inst
            return None

    def update_instance(self, instance_id: str, body: Any) -> InstanceRecord:
        """Rename an instance and/or move it to another config.

        Raises:
            ApiError: 404 unknown instance or config; 400 bad body; 409 clash with another instance.
        """
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object")
        with self.lock:
            inst = self.get_instance(instance_id)
            name = body.get("name") or inst.name
            config_id = inst.config_id
            if body.get("config_name"):
                config = self.config_by_name(str(body["config_name"]))
                if config is None:
                    raise ApiError(404, f"MCP config {body['config_name']!r} does not exist")
                config_id = config.id
            if not isinstance(name, str):
                raise invalid("name", "must be a string")
            for other in self.instances.values():
                if (
                    other.id != inst.id
                    and other.config_id == config_id
                    and other.user_identifier == inst.user_identifier
                    and other.name == name
                ):
                    raise ApiError(409, "another instance with this name already exists")
            inst.name, inst.config_id = name, config_id
            inst.updated_at = self.clock()
            self._ensure_accounts(self.configs[config_id], inst.user_identifier)
            return inst

    def delete_instance(self, instance_id: str) -> None:
        """Delete an instance.

        Raises:
            ApiError: 404 when unknown.
        """
        with self.lock:
            self.get_instance(instance_id)
            del self.instances[instance_id]

    def list_instances(self, query: dict[str, str]) -> Page:
        """List instances with the query's filters and paging.

        Raises:
            ApiError: 400 for a bad page size or page token.
        """
        f_id = query.get("filter.id", "")
        f_name = query.get("filter.name", "")
        f_config = query.get("filter.config_name", "")
        f_user = query.get("filter.user_identifier", "")
        search = query.get("search", "").lower()
        with self.lock:
            items = [
                i
                for i in self.instances.values()
                if (not f_id or i.id == f_id)
                and (not f_name or i.name == f_name)
                and (not f_config or self.configs[i.config_id].name == f_config)
                and (not f_user or i.user_identifier == f_user)
                and (
                    not search
                    or search in i.name.lower()
                    or search in i.user_identifier.lower()
                )
            ]
        return paginate(items, query)

    def touch_instance(self, instance_id: str) -> None:
        """Record that an instance's MCP server was used now."""
        with self.lock:
            inst = self.instances.get(instance_id)
            if inst is not None:
                inst.last_used_at = self.clock()

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

    def auth_states(
        self, config: ConfigRecord, user: str, *, create: bool, links: bool
    ) -> list[dict[str, Any]]:
        """Render the per-connection auth state of a user for a config.

        Args:
            config: The config whose connections are reported.
            user: The user identifier.
            create: Create missing accounts (PENDING_AUTH).
            links: Include a fresh ``authentication_link`` for every connection.

        Returns:
            One ``McpConnectionAuthState``-shaped dict per mapped connection.
        """
        out: list[dict[str, Any]] = []
        with self.lock:
            for m in config.mappings:
                acct = self.account(user, m.connection.name, create=create)
                out.append(
                    {
                        "connection_id": m.connection.id,
                        "connection_name": m.connection.name,
                        "provider": m.connection.provider.upper(),
                        "connected_account_id": acct.id if acct else "",
                        "connected_account_status": self.wire_status(acct.status) if acct else "",
                        "authentication_link": (
                            self.new_link(user, m.connection.name) if links else ""
                        ),
                    }
                )
        return out

    # rendering ----------------------------------------------------------------

    def wire_status(self, status: str) -> str:
        """Return an account status as the REST API sends it (see :attr:`status_case`)."""
        return status.lower() if self.status_case == "lower" else status

    def server_url(self, config: ConfigRecord) -> str:
        """Return a config's virtual MCP server URL."""
        return f"{self.env_url}/mcp/v3/servers/{config.server_key}"

    def connection_server_url(self, conn: Connection) -> str:
        """Return a connection's per-connection MCP server URL (configured spelling)."""
        return f"{self.env_url}/mcp/v3/connections/{conn.name}"

    def instance_url(self, inst: InstanceRecord) -> str:
        """Return an instance's (capability) URL."""
        return f"{self.env_url}/mcp/v2/servers/{inst.secret}"

    def render_config(self, config: ConfigRecord, user: str | None = None) -> dict[str, Any]:
        """Render a config as JSON; with ``user``, mappings carry that user's account state."""
        with self.lock:
            mappings: list[dict[str, Any]] = []
            for m in config.mappings:
                item: dict[str, Any] = {
                    "connection_id": m.connection.id,
                    "connection_name": m.connection.name,
                    "provider": m.connection.provider.upper(),
                    "tools": list(m.tools),
                }
                if user is not None:
                    acct = self.account(user, m.connection.name, create=False)
                    if acct is not None:
                        item["connected_account_id"] = acct.id
                        item["connected_account_status"] = self.wire_status(acct.status)
                mappings.append(item)
            return {
                "id": config.id,
                "name": config.name,
                "description": config.description,
                "connection_tool_mappings": mappings,
                "mcp_server_url": self.server_url(config),
            }

    def render_instance(self, inst: InstanceRecord) -> dict[str, Any]:
        """Render an instance as JSON."""
        with self.lock:
            config = self.configs[inst.config_id]
            return {
                "id": inst.id,
                "name": inst.name,
                "user_identifier": inst.user_identifier,
                "config": self.render_config(config, inst.user_identifier),
                "last_used_at": rfc3339(inst.last_used_at) if inst.last_used_at else ZERO_TIME,
                "updated_at": rfc3339(inst.updated_at),
                "url": self.instance_url(inst),
            }

    def tool_names(self, config: ConfigRecord) -> list[tuple[str, Connection]]:
        """Return ``(tool name, connection)`` for every tool the config exposes, in order."""
        from scalekit_langchain.testing._providers import tools_for_provider

        with self.lock:
            mappings = list(config.mappings)
        out: list[tuple[str, Connection]] = []
        for m in mappings:
            names: Iterable[str] = m.tools or [
                t.name for t in tools_for_provider(m.connection.provider)
            ]
            out.extend((n, m.connection) for n in names)
        return out
