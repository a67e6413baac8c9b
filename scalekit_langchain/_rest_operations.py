"""The MCP REST operations of Scalekit's API, built once for both clients (no I/O).

Each function validates its input (``ValueError`` naming the field, nothing sent) and returns
an :class:`~scalekit_langchain._rest_requests.Operation`: method, path, body, whether it is safe to
repeat, and how to read its answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from scalekit_langchain._rest_requests import (
    MappingInput,
    Operation,
    check_config_name,
    check_page_size,
    mappings_body,
    query_params,
    require_id,
    require_identifier,
    token_body,
)
from scalekit_langchain._rest_responses import (
    parse_auth_state,
    parse_config,
    parse_config_page,
    parse_connected_accounts,
    parse_empty,
    parse_instance,
    parse_instance_page,
    parse_session_token,
)
from scalekit_langchain.models import (
    ConnectionAuthState,
    McpConfig,
    McpInstance,
    Page,
    SessionToken,
)

CONFIGS = "/api/v1/mcp/configs"
INSTANCES = "/api/v1/mcp/instances"
CONNECTIONS = "/api/v1/mcp/connections"


class McpOperations:
    """Builds (and validates) every MCP operation once, for both clients.

    Each method raises ``ValueError`` naming the field for input it can check, before anything
    is sent.
    """

    @staticmethod
    def create_config(
        name: str,
        description: str | None,
        connection_tool_mappings: Sequence[MappingInput] | None,
    ) -> Operation[McpConfig]:
        body: dict[str, Any] = {"name": check_config_name(name)}
        if description is not None:
            body["description"] = description
        body["connection_tool_mappings"] = mappings_body(connection_tool_mappings or [])
        return Operation("POST", CONFIGS, parse_config, json=body, idempotent=False)

    @staticmethod
    def get_config(config_id: str) -> Operation[McpConfig]:
        return Operation("GET", f"{CONFIGS}/{require_id(config_id, 'config_id')}", parse_config)

    @staticmethod
    def list_configs(
        *,
        page_size: int | None = None,
        page_token: str | None = None,
        filter_id: str | None = None,
        filter_name: str | None = None,
        filter_provider: str | None = None,
        filter_mcp_server_url: str | None = None,
        search: str | None = None,
    ) -> Operation[Page[McpConfig]]:
        params = query_params(
            page_size=check_page_size(page_size),
            page_token=page_token or None,
            search=search or None,
            **{
                "filter.id": filter_id or None,
                "filter.name": filter_name or None,
                "filter.provider": filter_provider or None,
                "filter.mcp_server_url": filter_mcp_server_url or None,
            },
        )
        return Operation("GET", CONFIGS, parse_config_page, params=params)

    @staticmethod
    def update_config(
        config_id: str,
        description: str | None,
        connection_tool_mappings: Sequence[MappingInput] | None,
    ) -> Operation[McpConfig]:
        path = f"{CONFIGS}/{require_id(config_id, 'config_id')}"
        body: dict[str, Any] = {}
        if description is not None:
            body["description"] = description
        if connection_tool_mappings is not None:
            body["connection_tool_mappings"] = mappings_body(connection_tool_mappings)
        return Operation("PUT", path, parse_config, json=body, idempotent=False)

    @staticmethod
    def delete_config(config_id: str) -> Operation[None]:
        path = f"{CONFIGS}/{require_id(config_id, 'config_id')}"
        return Operation("DELETE", path, parse_empty, idempotent=False)

    @staticmethod
    def ensure_instance(
        config_name: str, user_identifier: str, name: str | None
    ) -> Operation[McpInstance]:
        body: dict[str, Any] = {
            "config_name": require_identifier(config_name, "config_name"),
            "user_identifier": require_identifier(user_identifier, "user_identifier"),
        }
        if name is not None:
            body["name"] = require_identifier(name, "name")
        # Ensure is get-or-create on (config, user, name): repeating it is harmless.
        return Operation("POST", INSTANCES, parse_instance, json=body, idempotent=True)

    @staticmethod
    def get_instance(instance_id: str) -> Operation[McpInstance]:
        path = f"{INSTANCES}/{require_id(instance_id, 'instance_id')}"
        return Operation("GET", path, parse_instance)

    @staticmethod
    def list_instances(
        *,
        page_size: int | None = None,
        page_token: str | None = None,
        filter_id: str | None = None,
        filter_name: str | None = None,
        filter_config_name: str | None = None,
        filter_user_identifier: str | None = None,
        search: str | None = None,
    ) -> Operation[Page[McpInstance]]:
        params = query_params(
            page_size=check_page_size(page_size),
            page_token=page_token or None,
            search=search or None,
            **{
                "filter.id": filter_id or None,
                "filter.name": filter_name or None,
                "filter.config_name": filter_config_name or None,
                "filter.user_identifier": filter_user_identifier or None,
            },
        )
        return Operation("GET", INSTANCES, parse_instance_page, params=params)

    @staticmethod
    def update_instance(
        instance_id: str, name: str | None, config_name: str | None
    ) -> Operation[McpInstance]:
        path = f"{INSTANCES}/{require_id(instance_id, 'instance_id')}"
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = require_identifier(name, "name")
        if config_name is not None:
            body["config_name"] = check_config_name(config_name, "config_name")
        return Operation("PATCH", path, parse_instance, json=body, idempotent=False)

    @staticmethod
    def delete_instance(instance_id: str) -> Operation[None]:
        path = f"{INSTANCES}/{require_id(instance_id, 'instance_id')}"
        return Operation("DELETE", path, parse_empty, idempotent=False)

    @staticmethod
    def get_instance_auth_state(
        instance_id: str, include_auth_links: bool
    ) -> Operation[list[ConnectionAuthState]]:
        path = f"{INSTANCES}/{require_id(instance_id, 'instance_id')}:get_auth_state"
        # The RPC has no body binding, so grpc-gateway reads the flag from the query string.
        params = query_params(include_auth_links=bool(include_auth_links))
        return Operation("POST", path, parse_auth_state, params=params)

    @staticmethod
    def list_mcp_connected_accounts(
        config_id: str, identifier: str, include_auth_link: bool
    ) -> Operation[list[ConnectionAuthState]]:
        path = f"{CONFIGS}/{require_id(config_id, 'config_id')}/connected_accounts"
        body = {
            "identifier": require_identifier(identifier, "identifier"),
            "include_auth_link": bool(include_auth_link),
        }
        # Creating missing accounts on the fly is idempotent, so this is safe to repeat.
        return Operation("POST", path, parse_connected_accounts, json=body)

    @staticmethod
    def create_session_token(
        config_id: str,
        identifier: str,
        expiry: timedelta | float | None,
        access_level: str | None = None,
    ) -> Operation[SessionToken]:
        path = f"{CONFIGS}/{require_id(config_id, 'mcp_config_id')}/tokens"
        body = token_body(identifier, expiry, access_level)
        # Minting twice only yields two tokens; nothing changes server-side.
        return Operation("POST", path, parse_session_token, json=body)

    @staticmethod
    def create_connection_session_token(
        connection_name: str,
        identifier: str,
        expiry: timedelta | float | None,
        access_level: str | None = None,
    ) -> Operation[SessionToken]:
        key = require_id(connection_name, "connection_name")
        body = token_body(identifier, expiry, access_level)
        return Operation("POST", f"{CONNECTIONS}/{key}/tokens", parse_session_token, json=body)


def token_operation() -> Operation[None]:
    """The client-credentials token call (its form body is rendered by ``build_request``)."""
    return Operation("POST", "/oauth/token", parse_empty, sends_credentials=True)
