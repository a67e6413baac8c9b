"""The emulator's MCP configs and instances: validation, storage, listing and JSON rendering.

:class:`ConfigsState` holds the part of the emulator's state the MCP REST API manages: configs
(their connection/tool mappings, each with a virtual server key) and the per-user instances
of a config (each with a capability URL). Its methods validate request bodies and raise
:class:`~scalekit_langchain.testing._errors.ApiError`, page lists, render configs, instances
and auth states in the wire's JSON shapes (which need a consistent view of the accounts too)
and list the tools a config exposes. It extends
:class:`~scalekit_langchain.testing._accounts.AccountsState`, and
:class:`~scalekit_langchain.testing._state.EmulatorState` declares the fields.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from scalekit_langchain.testing._accounts import AccountsState, Connection, random_digits, rfc3339
from scalekit_langchain.testing._errors import ApiError, invalid
from scalekit_langchain.testing._paging import Page, paginate

CONFIG_NAME_RE = re.compile(r"^[a-z0-9_-]{1,100}$")
FILTER_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{0,100}$")
MAX_MAPPINGS = 25
ZERO_TIME = "0001-01-01T00:00:00Z"


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



class ConfigsState(AccountsState):
    """MCP configs and instances on top of the accounts; safe to use from any thread."""

    configs: dict[str, ConfigRecord]
    instances: dict[str, InstanceRecord]

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
                "cfg_" + random_digits(18), name, description, mappings, str(uuid.uuid4())
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
                id="inst_" + random_digits(17),
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
