"""The doctor's run: create throwaway resources, observe, clean up, report.

:func:`arun_probe` creates a config ``sk-doctor-<random>`` mapping the given connections (all
tools) and an MCP instance for a throwaway user ``sk-doctor-user-<random>``; observes the REST
auth-state answers and both ways in (instance URL; session tokens) with raw HTTP and with the
``mcp`` SDK; deletes the instance and the config in a ``finally`` that survives cancellation;
and returns a redacted :class:`~._report.DoctorReport`.

Nothing here can make a tool run: the user is new, so none of its connections is ACTIVE, and a
tool is only called when the auth state says its connection is not ACTIVE.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import httpx
from pydantic import SecretStr

from scalekit_langchain._connection_auth import ConnectionMap
from scalekit_langchain._version import __version__
from scalekit_langchain.client import AsyncScalekitClient
from scalekit_langchain.doctor._idle_timeout import watch_idle_connection
from scalekit_langchain.doctor._raw_jsonrpc import ACCEPT_BOTH, exchange
from scalekit_langchain.doctor._redaction import Redactor
from scalekit_langchain.doctor._report import REPORT_FORMAT, DoctorReport, build_report
from scalekit_langchain.doctor._servers import ServerContext, probe_sdk, probe_server
from scalekit_langchain.doctor._tcp_connections import ConnectionCounter
from scalekit_langchain.errors import ScalekitAPIError, ScalekitError, ScalekitProtocolError

__all__ = ["arun_probe", "plan", "run_probe"]

Out = Callable[[str], None]

#: A bearer token no server can accept: JWT-shaped, unsigned, expired in 1970.
GARBLED_TOKEN = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjEsInN1YiI6ImRvY3RvciJ9.c2stZG9jdG9y"
_SESSION_TOKEN_SECONDS = 300
_STANDARD_STATE_KEYS = {
    "connection_id", "connection_name", "provider", "connected_account_id",
    "connected_account_status", "authentication_link",
}


@dataclass
class _Created:
    config_id: str | None = None
    config_name: str | None = None
    instance_id: str | None = None


class _RestRecorder(httpx.AsyncBaseTransport):
    """The REST client's transport: keeps the raw JSON of every ``/api/`` answer.

    The client hides the wire (statuses, extra fields, error bodies); the report needs it.
    """

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.records: list[dict[str, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``; read and keep the answer's body when it is a REST call."""
        response = await self._inner.handle_async_request(request)
        path = request.url.path
        if not path.startswith("/api/"):
            return response
        await response.aread()
        try:
            body: Any = json.loads(response.content)
        except ValueError:
            body = {"_not_json": response.content[:300].decode(errors="replace")}
        self.records.append({
            "method": request.method,
            "path": path,
            "http_status": response.status_code,
            "body": body,
        })
        return response

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self._inner.aclose()

    def last(self, method: str, suffix: str) -> dict[str, Any] | None:
        """The latest record of ``method`` on a path ending with ``suffix``."""
        for record in reversed(self.records):
            if record["method"] == method and str(record["path"]).endswith(suffix):
                return dict(record)
        return None


def plan(connections: Sequence[str], env_url: str) -> list[str]:
    """Return the lines that tell the user what a run will create and delete."""
    names = ", ".join(connections)
    return [
        f"The doctor will create, in the Scalekit environment at {env_url}:",
        f"  - an MCP config named sk-doctor-<random> mapping {names} (all tools);",
        "  - an MCP instance of it for a throwaway user sk-doctor-user-<random>;",
        "  - pending connected accounts of that user (Scalekit creates them when asked for",
        "    auth links; no API deletes them, they never hold credentials).",
        "It calls no tool of an ACTIVE connection, so nothing is read or sent on anyone's behalf.",
        "At the end (also on failure or Ctrl-C) it deletes the instance and the config.",
    ]


def _credentials(
    env_url: str | None, client_id: str | None, client_secret: str | SecretStr | None
) -> tuple[str, str, str]:
    env = env_url or os.environ.get("SCALEKIT_ENV_URL", "")
    cid = client_id or os.environ.get("SCALEKIT_CLIENT_ID", "")
    raw = client_secret or os.environ.get("SCALEKIT_CLIENT_SECRET", "")
    secret = raw.get_secret_value() if isinstance(raw, SecretStr) else raw
    missing = [
        name
        for name, value in (
            ("SCALEKIT_ENV_URL", env), ("SCALEKIT_CLIENT_ID", cid),
            ("SCALEKIT_CLIENT_SECRET", secret),
        )
        if not value
    ]
    if missing:
        from scalekit_langchain.errors import ScalekitConfigurationError

        raise ScalekitConfigurationError(f"missing credentials: set {', '.join(missing)}")
    return env.rstrip("/"), cid, secret


def _check_connections(connections: Sequence[str]) -> list[str]:
    if isinstance(connections, str):
        connections = [connections]
    names = [str(c).strip() for c in connections]
    if not names or not all(names):
        raise ValueError("connections: give at least one connection name, e.g. MY_GMAIL")
    if len({n.lower() for n in names}) != len(names):
        raise ValueError("connections: each connection may be given once")
    return names


def _jwt_audience(token: str) -> str | None:
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return None
    aud = claims.get("aud") if isinstance(claims, dict) else None
    if isinstance(aud, list):
        aud = next((a for a in aud if isinstance(a, str) and a.startswith("http")), None)
    return aud if isinstance(aud, str) and aud.startswith("http") else None


def _auth_state(record: dict[str, Any] | None, key: str) -> dict[str, Any]:
    """Summarize a raw auth-state answer: statuses as sent, link shape and lifetime fields."""
    body = (record or {}).get("body")
    items = body.get(key) if isinstance(body, dict) else None
    items = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
    out: dict[str, Any] = {
        "http_status": (record or {}).get("http_status"),
        "connections": [],
    }
    for item in items:
        extra = {k: v for k, v in item.items() if k not in _STANDARD_STATE_KEYS}
        out["connections"].append({
            "connection_name": item.get("connection_name"),
            "provider": item.get("provider"),
            "connected_account_status": item.get("connected_account_status"),
            "authentication_link": item.get("authentication_link") or None,
            "other_fields": extra,
            "link_lifetime_fields": {k: v for k, v in extra.items() if "expir" in k.lower()},
        })
    return out


async def _shielded(coro: Any) -> Any:
    """Run ``coro`` to its end even if the caller is cancelled meanwhile, then re-raise."""
    task = asyncio.ensure_future(coro)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        while not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                continue
        if not task.cancelled():
            task.exception()  # retrieved: the cancellation is what the caller must see
        raise


async def _cleanup(client: AsyncScalekitClient, created: _Created, say: Out) -> dict[str, Any]:
    """Delete the instance, then the config; report what was deleted and what failed.

    Deleting a config also deletes its instances, so an instance whose creation was cut short
    (its id never came back) goes with the config.
    """
    result: dict[str, Any] = {"instance_deleted": None, "config_deleted": None, "errors": []}
    if created.instance_id:
        try:
            await client.mcp.delete_instance(created.instance_id)
            result["instance_deleted"] = True
        except ScalekitError as exc:
            result["instance_deleted"] = False
            result["errors"].append(f"delete instance: {type(exc).__name__}: {exc}")
    if created.config_id:
        try:
            await client.mcp.delete_config(created.config_id)
            result["config_deleted"] = True
        except ScalekitError as exc:
            result["config_deleted"] = False
            result["errors"].append(f"delete config: {type(exc).__name__}: {exc}")
    deleted = [
        what
        for what, ok in (
            (f"MCP instance {created.instance_id}", result["instance_deleted"]),
            (f"config {created.config_name}", result["config_deleted"]),
        )
        if ok
    ]
    if deleted:
        say(f"Cleanup: deleted {' and '.join(deleted)}.")
    for error in result["errors"]:
        say(f"Cleanup FAILED: {error}; delete it by hand.")
    if not created.config_id:
        say("Cleanup: nothing was created.")
    return result


@dataclass
class _Run:
    """One doctor run: its clients, what it created, and the secrets to mask."""

    client: AsyncScalekitClient
    http: httpx.AsyncClient
    recorder: _RestRecorder
    redactor: Redactor
    created: _Created
    names: list[str]
    user: str
    env: str
    client_id: str
    client_secret: str
    timeout: float
    say: Out
    idle_probe: float = 0.0

    async def observe(self, obs: dict[str, Any]) -> None:
        """Create the config and instance, then observe both ways in."""
        from mcp.types import LATEST_PROTOCOL_VERSION

        client, created, say = self.client, self.created, self.say
        assert created.config_name is not None
        say(f"Creating config {created.config_name} ({', '.join(self.names)}, all tools)...")
        config = await client.mcp.create_config(
            created.config_name,
            description="Throwaway config of `scalekit-langchain doctor`; safe to delete.",
            connection_tool_mappings=[{"connection_name": n, "tools": []} for n in self.names],
        )
        if not config.id:  # read it back by name, so that it can be deleted
            config = await client.mcp.get_config_by_name(created.config_name) or config
        if not config.id:
            raise ScalekitProtocolError("the config was created but no id came back")
        config_id: str = config.id
        created.config_id = config_id
        record = self.recorder.last("POST", "/api/v1/mcp/configs")
        obs["config"] = {
            "create_http_status": record["http_status"] if record else None,
            "mcp_server_url": config.mcp_server_url or None,
            "mappings": [
                {"connection_name": m.connection_name, "provider": m.provider, "tools": m.tools}
                for m in config.connection_tool_mappings
            ],
        }
        say("Creating an MCP instance for a throwaway user...")
        instance = await client.mcp.ensure_instance(created.config_name, self.user)
        created.instance_id = instance.id
        url = instance.url or ""
        if url.count("/") > 3:
            self.redactor.secret(url.rstrip("/").rsplit("/", 1)[-1])

        say("Reading the instance's auth state (with links)...")
        await client.mcp.get_instance_auth_state(instance.id, include_auth_links=True)
        auth = _auth_state(self.recorder.last("POST", ":get_auth_state"), "connections")
        providers = {
            str(c["connection_name"]): str(c.get("provider") or "").lower()
            for c in auth["connections"]
        }
        statuses = {
            str(c["connection_name"]): c["connected_account_status"] for c in auth["connections"]
        }
        ctx = ServerContext(
            connection_map=ConnectionMap(config.connection_tool_mappings, dict(providers)),
            statuses=statuses,
            providers=providers,
            protocol_version=LATEST_PROTOCOL_VERSION,
            timeout=self.timeout,
        )
        instance_obs: dict[str, Any] = {"url": url or None, "auth_state": auth}
        obs["instance_mode"] = instance_obs
        idle: asyncio.Task[dict[str, Any]] | None = None
        if url and self.idle_probe > 0:
            say(f"Watching an idle connection to the instance (up to {self.idle_probe:g}s)...")
            idle = asyncio.ensure_future(
                watch_idle_connection(url, limit=self.idle_probe, timeout=self.timeout)
            )
        try:
            if url:
                say("Probing the instance's MCP server (raw HTTP and the mcp SDK)...")
                instance_obs["server"] = await self.server(url, ctx, None)
                instance_obs["sdk"] = await _sdk(url, ctx, None)
            say("Probing session-token mode...")
            obs["session_token_mode"] = await self.session_mode(
                config_id, config.mcp_server_url or "", ctx
            )
            if idle is not None:
                instance_obs["idle_connection"] = await idle
        finally:
            if idle is not None and not idle.done():
                idle.cancel()

    async def server(
        self, url: str, ctx: ServerContext, headers: dict[str, str] | None
    ) -> dict[str, Any]:
        """Probe one MCP server over raw HTTP; transport failures become observations."""
        counter = ConnectionCounter()
        try:
            async with httpx.AsyncClient(transport=counter, timeout=ctx.timeout) as raw_http:
                return await probe_server(
                    raw_http, counter, url, ctx, headers=headers,
                    on_session_id=self.redactor.secret,
                )
        except (httpx.HTTPError, asyncio.TimeoutError) as exc:
            return {"error": f"{type(exc).__name__}: {exc}"}

    async def session_mode(
        self, config_id: str, server_url: str, ctx: ServerContext
    ) -> dict[str, Any]:
        """Connected accounts, the refused mint, a garbled bearer, a per-connection server."""
        obs: dict[str, Any] = {"mcp_server_url": server_url or None}
        await self.client.mcp.list_mcp_connected_accounts(
            config_id, self.user, include_auth_link=True
        )
        obs["connected_accounts"] = _auth_state(
            self.recorder.last("POST", "/connected_accounts"), "connected_accounts"
        )
        try:
            token = await self.client.mcp.create_session_token(
                config_id, self.user, expiry=_SESSION_TOKEN_SECONDS
            )
        except ScalekitAPIError:
            record = self.recorder.last("POST", f"/configs/{config_id}/tokens")
            obs["mint_refusal"] = {
                "http_status": record["http_status"] if record else None,
                "body": record["body"] if record else None,
            }
        else:
            value = token.token.get_secret_value()
            self.redactor.secret(value)
            obs["mint_refusal"] = None
            if server_url:
                bearer = {"authorization": f"Bearer {value}"}
                obs["config_server"] = await self.server(server_url, ctx, bearer)
        if server_url:
            obs["garbled_bearer"] = await self.garbled(server_url, ctx)
        obs["connection_server"] = await self.connection_server(self.names[0], ctx)
        return obs

    async def garbled(self, url: str, ctx: ServerContext) -> dict[str, Any]:
        """The answer to ``initialize`` with a bearer token no server accepts."""
        payload = {
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": ctx.protocol_version, "capabilities": {},
                       "clientInfo": {"name": "scalekit-langchain-doctor", "version": "1"}},
        }
        headers = {
            "accept": ACCEPT_BOTH,
            "content-type": "application/json",
            "authorization": f"Bearer {GARBLED_TOKEN}",
        }
        try:
            response = await self.http.post(url, content=json.dumps(payload), headers=headers)
        except httpx.HTTPError as exc:
            return {"error": f"{type(exc).__name__}: {exc}"}
        return exchange(response, response.text)

    async def access_token(self) -> str:
        """A REST access token fetched by hand (the client keeps its own private)."""
        response = await self.http.post(
            f"{self.env}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            },
        )
        if response.status_code != 200:
            raise ScalekitError(f"the token endpoint answered HTTP {response.status_code}")
        token = response.json().get("access_token")
        if not isinstance(token, str) or not token:
            raise ScalekitError("the token endpoint answered no access_token")
        self.redactor.secret(token)
        return token

    async def connection_server(self, connection: str, ctx: ServerContext) -> dict[str, Any]:
        """Mint a per-connection session token (raw REST) and probe that server with it."""
        obs: dict[str, Any] = {"connection": connection}
        try:
            access = await self.access_token()
            response = await self.http.post(
                f"{self.env}/api/v1/mcp/connections/{connection}/tokens",
                json={"identifier": self.user, "expiry": f"{_SESSION_TOKEN_SECONDS}s"},
                headers={"authorization": f"Bearer {access}"},
            )
        except (httpx.HTTPError, ScalekitError, ValueError) as exc:
            obs["error"] = f"{type(exc).__name__}: {exc}"
            return obs
        body: Any
        try:
            body = response.json()
        except ValueError:
            body = {"_not_json": response.text[:300]}
        obs["mint_http_status"] = response.status_code
        token = body.get("token") if isinstance(body, dict) else None
        if response.status_code != 200 or not isinstance(token, str) or not token:
            obs["mint_body"] = body
            return obs
        self.redactor.secret(token)
        obs["mint_body_keys"] = sorted(body)
        url = _jwt_audience(token) or f"{self.env}/mcp/v3/connections/{connection}"
        obs["url"] = url
        bearer = {"authorization": f"Bearer {token}"}
        obs["server"] = await self.server(url, ctx, bearer)
        obs["sdk"] = await _sdk(url, ctx, bearer)
        return obs


async def _sdk(url: str, ctx: ServerContext, headers: dict[str, str] | None) -> dict[str, Any]:
    try:
        return await probe_sdk(url, ctx, headers)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # any SDK failure is an observation, not a crash
        return {"error": f"{type(exc).__name__}: {exc}"}


async def arun_probe(
    connections: Sequence[str],
    *,
    env_url: str | None = None,
    client_id: str | None = None,
    client_secret: str | SecretStr | None = None,
    out: Out | None = None,
    timeout: float = 30.0,
    idle_probe: float = 75.0,
) -> DoctorReport:
    """Probe a live Scalekit environment and return a redacted report.

    Args:
        connections: Connection names set up in the environment (``MY_GMAIL``...).
        env_url: Default ``$SCALEKIT_ENV_URL``.
        client_id: Default ``$SCALEKIT_CLIENT_ID``.
        client_secret: Default ``$SCALEKIT_CLIENT_SECRET``.
        out: Receives progress lines (they hold no secret); default: silent.
        timeout: Seconds per request or MCP step.
        idle_probe: Watch an idle connection to the instance this long (seconds, alongside
            the rest) to learn the server's idle timeout; 0 skips it.

    Returns:
        The report (secrets masked, user ids hashed).

    Raises:
        ScalekitConfigurationError: A credential is missing.
        ValueError: No connection name, or one given twice.
        ScalekitError: Creating the config or the instance failed (nothing is left behind).
        asyncio.CancelledError: Cancelled; the config and instance are deleted first.
    """
    names = _check_connections(connections)
    env, cid, secret = _credentials(env_url, client_id, client_secret)
    suffix = secrets.token_hex(4)
    redactor = Redactor()
    redactor.secret(secret)
    # The REST client makes its own HTTP client around our recording transport; raw requests
    # (a hand-fetched token, the per-connection mint, a garbled bearer) use this one.
    http = httpx.AsyncClient(timeout=timeout)
    recorder = _RestRecorder()
    run = _Run(
        client=AsyncScalekitClient(env, cid, secret, transport=recorder, timeout=timeout),
        http=http,
        recorder=recorder,
        redactor=redactor,
        created=_Created(config_name=f"sk-doctor-{suffix}"),
        names=names,
        user=f"sk-doctor-user-{suffix}",
        env=env,
        client_id=cid,
        client_secret=secret,
        timeout=timeout,
        say=out or (lambda line: None),
        idle_probe=idle_probe,
    )
    redactor.user(run.user)
    observations: dict[str, Any] = {}
    started = time.monotonic()
    try:
        await run.observe(observations)
    finally:
        try:
            observations["cleanup"] = await _shielded(_cleanup(run.client, run.created, run.say))
        finally:
            await _shielded(_close(run.client, http))
    observations["duration_seconds"] = round(time.monotonic() - started, 2)
    meta = {
        "report_format": REPORT_FORMAT,
        "generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "scalekit_langchain_version": __version__,
        "mcp_sdk_version": _mcp_version(),
        "recorded_from": env,
        "connections": names,
    }
    return build_report(meta, redactor.clean(observations), redactor)


async def _close(client: AsyncScalekitClient, http: httpx.AsyncClient) -> None:
    await client.aclose()
    await http.aclose()


def _mcp_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mcp")
    except PackageNotFoundError:  # pragma: no cover - mcp is a dependency
        return None


def run_probe(
    connections: Sequence[str],
    *,
    env_url: str | None = None,
    client_id: str | None = None,
    client_secret: str | SecretStr | None = None,
    out: Out | None = None,
    timeout: float = 30.0,
    idle_probe: float = 75.0,
) -> DoctorReport:
    """Blocking twin of :func:`arun_probe` (same arguments); not from a running event loop.

    Raises:
        RuntimeError: Called while an event loop runs in this thread.
        ScalekitConfigurationError, ValueError, ScalekitError: As :func:`arun_probe`.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(
            arun_probe(
                connections, env_url=env_url, client_id=client_id, client_secret=client_secret,
                out=out, timeout=timeout, idle_probe=idle_probe,
            )
        )
    raise RuntimeError("run_probe() cannot run inside an event loop; await arun_probe()")
