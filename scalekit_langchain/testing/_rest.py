"""The emulator's REST routes: OAuth token, JWKS, MCP configs and instances, auth link pages
(rendered by :mod:`~scalekit_langchain.testing._auth_pages`)."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from scalekit_langchain.testing._accounts import ACTIVE, rfc3339
from scalekit_langchain.testing._auth_pages import auth_page
from scalekit_langchain.testing._errors import ApiError, error_body, invalid
from scalekit_langchain.testing._paging import Page
from scalekit_langchain.testing._session_jwts import (
    ACCESS_LEVELS,
    TOKEN_TYPE,
    SigningKey,
    parse_expiry,
)
from scalekit_langchain.testing._state import EmulatorState

Handler = Callable[[Request], Awaitable[Response]]

_CAMEL_RE = re.compile(r"(?<!^)([A-Z])")


def request_id(request: Request) -> str:
    """Return the id the middleware gave this request."""
    rid = request.scope.get("state", {}).get("request_id")
    return str(rid) if rid else "req_unknown"


def error_response(request: Request, err: ApiError) -> JSONResponse:
    """Render an :class:`ApiError` as a gRPC-gateway error response."""
    headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
    return JSONResponse(
        error_body(
            err.status,
            err.message,
            request_id=request_id(request),
            error_code=err.error_code,
            field_violations=err.field_violations,
        ),
        status_code=err.status,
        headers=headers,
    )


def _snake(value: Any) -> Any:
    """Accept lowerCamel keys too, as protojson does, by converting them to snake_case."""
    if isinstance(value, dict):
        return {_CAMEL_RE.sub(r"_\1", str(k)).lower(): _snake(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_snake(v) for v in value]
    return value


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiError(400, "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    result: dict[str, Any] = _snake(body)
    return result


def _page_json(page: Page, key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        key: items,
        "next_page_token": page.next_page_token,
        "prev_page_token": page.prev_page_token,
        "total_size": page.total_size,
    }


def _token_request(body: dict[str, Any]) -> tuple[str, int, str]:
    """Check a tokens body; return ``(identifier, expiry seconds, access level)``.

    Raises:
        ApiError: 400 for a bad identifier, expiry or access level.
    """
    identifier = body.get("identifier")
    if not isinstance(identifier, str) or not 1 <= len(identifier) <= 255:
        raise invalid("identifier", "value length must be between 1 and 255 characters")
    seconds = parse_expiry(body.get("expiry"))
    # grpc-gateway reads a field by its proto name and by its JSON name alike.
    access_level = body.get("access_level") or body.get("accessLevel") or "FULL"
    if access_level not in ACCESS_LEVELS:
        raise invalid("access_level", "must be FULL or READ_ONLY")
    return identifier, seconds, str(access_level)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


class RestApi:
    """Request handlers bound to one emulator's state and signing key."""

    def __init__(self, state: EmulatorState, key: SigningKey) -> None:
        self.state = state
        self.key = key

    def _api(self, func: Callable[[Request], Awaitable[Any]], *, status: int = 200) -> Handler:
        """Wrap a handler: bearer check, ApiError -> error body, dict -> JSON response."""

        async def handler(request: Request) -> Response:
            try:
                self.state.check_access_token(request.headers.get("authorization"))
                result = await func(request)
            except ApiError as err:
                return error_response(request, err)
            return JSONResponse(result, status_code=status)

        return handler

    def routes(self) -> list[Route]:
        """Return the starlette routes of the REST API and the auth pages."""
        base = "/api/v1/mcp"
        return [
            Route("/oauth/token", self.token, methods=["POST"]),
            Route("/keys", self.keys, methods=["GET"]),
            Route(f"{base}/configs", self._api(self.list_configs), methods=["GET"]),
            Route(f"{base}/configs", self._api(self.create_config, status=201), methods=["POST"]),
            Route(f"{base}/configs/{{config_id}}", self._api(self.get_config), methods=["GET"]),
            Route(f"{base}/configs/{{config_id}}", self._api(self.update_config), methods=["PUT"]),
            Route(
                f"{base}/configs/{{config_id}}", self._api(self.delete_config), methods=["DELETE"]
            ),
            Route(
                f"{base}/configs/{{config_id}}/connected_accounts",
                self._api(self.connected_accounts),
                methods=["POST"],
            ),
            Route(f"{base}/configs/{{config_id}}/tokens", self._api(self.mint), methods=["POST"]),
            Route(
                f"{base}/connections/{{key_id}}/tokens",
                self._api(self.mint_connection),
                methods=["POST"],
            ),
            Route(f"{base}/instances", self._api(self.list_instances), methods=["GET"]),
            Route(f"{base}/instances", self._api(self.ensure_instance), methods=["POST"]),
            Route(f"{base}/instances/{{ref}}", self._api(self.get_instance), methods=["GET"]),
            Route(f"{base}/instances/{{ref}}", self._api(self.update_instance), methods=["PATCH"]),
            Route(f"{base}/instances/{{ref}}", self._api(self.delete_instance), methods=["DELETE"]),
            Route(f"{base}/instances/{{ref}}", self._api(self.auth_state), methods=["POST"]),
            Route("/connect/{token}", self.auth_page, methods=["GET", "POST"]),
        ]

    # oauth & keys -------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        """``POST /oauth/token``: client-credentials grant."""
        try:
            async with request.form() as form:
                token = self.state.issue_access_token(
                    str(form.get("client_id") or ""),
                    str(form.get("client_secret") or ""),
                    str(form.get("grant_type") or ""),
                )
        except ApiError as err:
            return error_response(request, err)
        return JSONResponse(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": int(self.state.token_ttl),
                "scope": "openid",
            }
        )

    async def keys(self, request: Request) -> Response:
        """``GET /keys``: the JWKS that verifies session tokens."""
        return JSONResponse(self.key.jwks())

    # configs ------------------------------------------------------------------

    async def list_configs(self, request: Request) -> dict[str, Any]:
        """``GET /api/v1/mcp/configs``."""
        page = self.state.list_configs(dict(request.query_params))
        return _page_json(page, "configs", [self.state.render_config(c) for c in page.items])

    async def create_config(self, request: Request) -> dict[str, Any]:
        """``POST /api/v1/mcp/configs`` (the body is the bare config)."""
        body = await _json_body(request)
        # Tolerate a body wrapped as {"config": {...}} as well.
        if set(body) == {"config"} and isinstance(body["config"], dict):
            body = body["config"]
        return {"config": self.state.render_config(self.state.create_config(body))}

    async def get_config(self, request: Request) -> dict[str, Any]:
        """``GET /api/v1/mcp/configs/{id}``."""
        config = self.state.get_config(request.path_params["config_id"])
        return {"config": self.state.render_config(config)}

    async def update_config(self, request: Request) -> dict[str, Any]:
        """``PUT /api/v1/mcp/configs/{id}``."""
        body = await _json_body(request)
        config = self.state.update_config(request.path_params["config_id"], body)
        return {"config": self.state.render_config(config)}

    async def delete_config(self, request: Request) -> dict[str, Any]:
        """``DELETE /api/v1/mcp/configs/{id}``: also deletes the config's instances."""
        self.state.delete_config(request.path_params["config_id"])
        return {}

    async def connected_accounts(self, request: Request) -> dict[str, Any]:
        """``POST /api/v1/mcp/configs/{id}/connected_accounts``."""
        body = await _json_body(request)
        config = self.state.get_config(request.path_params["config_id"])
        identifier = body.get("identifier")
        if not isinstance(identifier, str) or not identifier:
            raise invalid("identifier", "value is required")
        links = _truthy(body.get("include_auth_link", False))
        states = self.state.auth_states(config, identifier, create=links, links=links)
        return {"connected_accounts": states}

    async def mint(self, request: Request) -> dict[str, Any]:
        """``POST /api/v1/mcp/configs/{id}/tokens``: an RS256 session token for one user."""
        body = await _json_body(request)
        config = self.state.get_config(request.path_params["config_id"])
        identifier, seconds, access_level = _token_request(body)
        if not config.mappings:
            raise ApiError(400, "the MCP config has no connections")
        account_ids: list[str] = []
        for m in config.mappings:
            acct = self.state.account(identifier, m.connection.name, create=False)
            if acct is None or acct.status != ACTIVE:
                raise ApiError(
                    400,
                    f"connection {m.connection.name!r} has no active connected account"
                    f" for identifier {identifier!r}",
                    error_code="FAILED_PRECONDITION",
                )
            account_ids.append(acct.id)
        claims = {"aud": self.state.server_url(config), "mcp_cfg": config.id}
        return self._sign(identifier, seconds, access_level, account_ids, claims)

    async def mint_connection(self, request: Request) -> dict[str, Any]:
        """``POST /api/v1/mcp/connections/{key_id}/tokens``: a token for a per-connection server.

        The emulator plays an environment with the hosted connected-accounts widget enabled:
        a user with no ACTIVE account still gets a token (a PENDING_AUTH account is created),
        so the agent meets the refusal at call time.
        """
        body = await _json_body(request)
        key_id: str = request.path_params["key_id"]
        try:
            conn = self.state.connection(key_id)
        except KeyError:
            raise ApiError(404, f"no active connection with key_id {key_id!r}") from None
        identifier, seconds, access_level = _token_request(body)
        acct = self.state.account(identifier, conn.name, create=True)
        assert acct is not None
        claims = {"aud": self.state.connection_server_url(conn), "conn_id": conn.id}
        return self._sign(identifier, seconds, access_level, [acct.id], claims)

    def _sign(
        self,
        identifier: str,
        seconds: int,
        access_level: str,
        account_ids: list[str],
        claims: dict[str, Any],
    ) -> dict[str, Any]:
        now = int(self.state.clock())
        claims = {
            "iss": self.state.env_url,
            "sub": identifier,
            **claims,
            "ca_ids": account_ids,
            "iat": now,
            "exp": now + seconds,
            "token_type": TOKEN_TYPE,
            "access_level": access_level,
        }
        return {"token": self.key.sign(claims), "expires_at": rfc3339(now + seconds)}

    # instances ----------------------------------------------------------------

    async def list_instances(self, request: Request) -> dict[str, Any]:
        """``GET /api/v1/mcp/instances``."""
        page = self.state.list_instances(dict(request.query_params))
        return _page_json(page, "instances", [self.state.render_instance(i) for i in page.items])

    async def ensure_instance(self, request: Request) -> dict[str, Any]:
        """``POST /api/v1/mcp/instances``: existing or new instance."""
        inst = self.state.ensure_instance(await _json_body(request))
        return {"instance": self.state.render_instance(inst)}

    async def get_instance(self, request: Request) -> dict[str, Any]:
        """``GET /api/v1/mcp/instances/{id}``."""
        inst = self.state.get_instance(request.path_params["ref"])
        return {"instance": self.state.render_instance(inst)}

    async def update_instance(self, request: Request) -> dict[str, Any]:
        """``PATCH /api/v1/mcp/instances/{id}``."""
        body = await _json_body(request)
        inst = self.state.update_instance(request.path_params["ref"], body)
        return {"instance": self.state.render_instance(inst)}

    async def delete_instance(self, request: Request) -> dict[str, Any]:
        """``DELETE /api/v1/mcp/instances/{id}``."""
        self.state.delete_instance(request.path_params["ref"])
        return {}

    async def auth_state(self, request: Request) -> dict[str, Any]:
        """``POST /api/v1/mcp/instances/{id}:get_auth_state``.

        ``include_auth_links`` is read from the query string and, failing that, a JSON body.
        """
        ref: str = request.path_params["ref"]
        instance_id, sep, verb = ref.partition(":")
        if not sep or verb != "get_auth_state":
            raise ApiError(404, f"no such method {verb!r}" if sep else "Not Found")
        flag: Any = request.query_params.get("include_auth_links")
        if flag is None:
            flag = (await _json_body(request)).get("include_auth_links", False)
        inst = self.state.get_instance(instance_id)
        config = self.state.get_config(inst.config_id)
        states = self.state.auth_states(
            config, inst.user_identifier, create=True, links=_truthy(flag)
        )
        return {"connections": states}

    # auth link pages ----------------------------------------------------------

    async def auth_page(self, request: Request) -> Response:
        """``GET|POST /connect/{token}``: the page a person opens to authorize a connection."""
        return await auth_page(self.state, request)
