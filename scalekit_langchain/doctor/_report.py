"""The doctor's report: :class:`DoctorReport`, and how it is built from the observations.

:func:`build_report` derives the emulator settings and the human summary from the (already
redacted) observation dicts of :mod:`~scalekit_langchain.doctor._probe`. The report's top-level
setting keys are the emulator's profile keys
(:data:`~scalekit_langchain.testing._profile.PROFILE_KEYS`), so a report is an emulator profile
as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scalekit_langchain.doctor._classify import (
    describe_refusal,
    refusal_mode,
    status_case,
    toolkit_handles,
)
from scalekit_langchain.doctor._idle_timeout import idle_timeout_setting
from scalekit_langchain.doctor._redaction import Redactor

__all__ = ["REPORT_FORMAT", "SETTING_KEYS", "DoctorReport", "build_report"]

REPORT_FORMAT = "scalekit-langchain-doctor/1"
#: Top-level keys of a report that are emulator settings (one to one).
SETTING_KEYS = (
    "refusal_mode",
    "answer_mode",
    "status_case",
    "lists_unauthorized_tools",
    "protocol_version",
    "mcp_era",
    "idle_timeout",
)


@dataclass(frozen=True)
class DoctorReport:
    """A finished doctor run, already redacted.

    Attributes:
        data: The JSON object: the setting keys (:data:`SETTING_KEYS`, an emulator profile),
            ``toolkit_handles_refusal``, ``summary`` and the raw ``observations``.
    """

    data: dict[str, Any]

    @property
    def settings(self) -> dict[str, Any]:
        """The emulator settings the report names (``None`` where nothing was observed)."""
        return {key: self.data.get(key) for key in SETTING_KEYS}

    @property
    def summary(self) -> list[str]:
        """The human summary, one line per item."""
        return list(self.data.get("summary", []))

    @property
    def toolkit_handles_refusal(self) -> bool | None:
        """Whether the toolkit treats the observed refusal as refusal-like."""
        value = self.data.get("toolkit_handles_refusal")
        return value if isinstance(value, bool) else None

    def to_json(self) -> str:
        """Return the report as indented JSON."""
        return json.dumps(self.data, indent=2, sort_keys=False) + "\n"

    def write(self, path: str | Path) -> Path:
        """Write the report as JSON to ``path`` and return the path."""
        target = Path(path)
        target.write_text(self.to_json(), encoding="utf-8")
        return target



def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _servers(obs: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """``(label, raw server observation, sdk observation)`` for every MCP server probed."""
    inst = _dict(obs.get("instance_mode"))
    session = _dict(obs.get("session_token_mode"))
    conn = _dict(session.get("connection_server"))
    found = [
        ("instance URL", _dict(inst.get("server")), _dict(inst.get("sdk"))),
        ("config server (session token)", _dict(session.get("config_server")), {}),
        (
            "per-connection server (session token)",
            _dict(conn.get("server")),
            _dict(conn.get("sdk")),
        ),
    ]
    return [(label, raw, sdk) for label, raw, sdk in found if raw]


def _refusal(server: dict[str, Any]) -> tuple[bool | None, dict[str, Any] | None, bool]:
    """``(listed, call, probed)`` of a server's refusal observation."""
    refusal = _dict(server.get("refusal"))
    if "connection" not in refusal:
        return None, None, False
    listed = refusal.get("listed")
    call = refusal.get("call")
    return (
        listed if isinstance(listed, bool) else None,
        call if isinstance(call, dict) else None,
        True,
    )


_AUTH_STATES = (("instance_mode", "auth_state"), ("session_token_mode", "connected_accounts"))


def _statuses(obs: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for part, key in _AUTH_STATES:
        for conn in _dict(_dict(obs.get(part)).get(key)).get("connections", []):
            status = _dict(conn).get("connected_account_status")
            if isinstance(status, str) and status:
                out.append(status)
    return out


def _yes_no(value: bool | None, unknown: str = "unknown") -> str:
    return unknown if value is None else ("yes" if value else "no")


def _survives(count: Any, warm: Any) -> str:
    if not isinstance(count, int) or not isinstance(warm, int):
        return "not measurable"
    return "yes" if count == 0 else f"no ({count} new connections in {warm} warm calls)"


def _link_lines(obs: dict[str, Any]) -> list[str]:
    links: set[str] = set()
    lifetimes: dict[str, Any] = {}
    for part, key in _AUTH_STATES:
        for conn in _dict(_dict(obs.get(part)).get(key)).get("connections", []):
            link = _dict(conn).get("authentication_link")
            if isinstance(link, str) and link:
                links.add(link)
            lifetimes.update(_dict(_dict(conn).get("link_lifetime_fields")))
    shape = ", ".join(sorted(links)) or "no links sent"
    stated = ", ".join(f"{k}={v}" for k, v in sorted(lifetimes.items())) or "not stated"
    return [f"auth links: {shape}; lifetime: {stated}"]


def _summary(data: dict[str, Any], obs: dict[str, Any]) -> list[str]:
    lines = [f"Scalekit doctor report for {data.get('recorded_from')}"]
    servers = _servers(obs)
    for label, raw, sdk in servers:
        if "eras" in raw:
            lines.append(f"{label}: {_eras_line(raw)}")
        if "error" in raw or "stopped" in raw:
            lines.append(f"{label}: {raw.get('error') or raw.get('stopped')}")
            continue
        info = _dict(sdk.get("server_info") or raw.get("server_info"))
        sid = _dict(raw.get("session_id"))
        sdk_reuse = _survives(sdk.get("new_connections_in_warm_calls"), sdk.get("warm_calls"))
        raw_reuse = _survives(raw.get("new_connections_in_warm_calls"), raw.get("warm_calls"))
        lines.append(
            f"{label}: MCP {sdk.get('protocol_version') or raw.get('protocol_version')},"
            f" server {info.get('name')} {info.get('version')}; answers:"
            f" {str(raw.get('answer_framing')).upper()}; TCP connection survives a warm call:"
            f" {sdk_reuse} (mcp SDK), {raw_reuse} (plain HTTP); session id issued:"
            f" {_yes_no(sid.get('issued'))}, without it"
            f" HTTP {sid.get('request_without_id')}, unknown id HTTP"
            f" {sid.get('request_with_unknown_id')}"
        )
        listed, call, probed = _refusal(raw)
        if probed:
            mode = refusal_mode(listed, call)
            lines.append(
                f"  refusal shape: {describe_refusal(listed, call)}; emulator mode:"
                f" {mode or 'none matches'}; the toolkit handles it:"
                f" {_yes_no(toolkit_handles(listed, call))}"
            )
        unmapped = _dict(raw.get("unmapped_tool"))
        if unmapped:
            listed_u = unmapped.get("listed")
            call_u = unmapped.get("call") if isinstance(unmapped.get("call"), dict) else None
            lines.append(
                f"  tool not in the config ({unmapped.get('tool')}):"
                f" {describe_refusal(listed_u if isinstance(listed_u, bool) else None, call_u)}"
            )
    if not servers:
        lines.append("no MCP server could be probed")
    statuses = sorted(set(_statuses(obs)))
    lines.append(
        f"auth state: statuses as sent: {', '.join(statuses) or 'none'}"
        f" (case: {data.get('status_case') or 'unknown'})"
    )
    lines += _link_lines(obs)
    session = _dict(obs.get("session_token_mode"))
    mint = session.get("mint_refusal")
    if isinstance(mint, dict):
        body = mint.get("body")
        keys = ", ".join(sorted(body)) if isinstance(body, dict) else "not JSON"
        codes = [
            _dict(d).get("error_code") for d in _dict(body).get("details", []) or []
        ]
        lines.append(
            f"session-token mint for a pending account: HTTP {mint.get('http_status')},"
            f" body keys: {keys}; error_code: {', '.join(str(c) for c in codes if c) or 'none'}"
        )
    elif "mint_refusal" in session:
        lines.append("session-token mint for a pending account: NOT refused (a token was minted)")
    garbled = _dict(session.get("garbled_bearer"))
    if garbled:
        challenge = _dict(garbled.get("headers")).get("www-authenticate", "none")
        lines.append(
            f"garbled bearer token: HTTP {garbled.get('http_status')},"
            f" WWW-Authenticate: {challenge}"
        )
    idle = _dict(_dict(obs.get("instance_mode")).get("idle_connection"))
    if idle:
        closed = idle.get("closed_after_seconds")
        lines.append(
            f"idle connection: {idle['error']}" if "error" in idle
            else f"idle connection: kept at least {idle.get('watched_seconds')}s" if closed is None
            else f"idle connection: closed by the server after {closed}s"
            " (keep the toolkit's keepalive_expiry below it)"
        )
    settings = ", ".join(
        f"{k}={data.get(k)}" for k in (
            "refusal_mode", "answer_mode", "status_case", "lists_unauthorized_tools",
            "protocol_version", "mcp_era", "idle_timeout",
        )
    )
    lines.append(f"emulator profile: {settings}")
    lines.append(_cleanup_line(_dict(obs.get("cleanup"))))
    return lines


def _eras_line(raw: dict[str, Any]) -> str:
    """Which MCP eras the server offers and what ``server/discover`` answered."""
    eras = _dict(raw.get("eras"))
    discover = _dict(raw.get("discover"))
    message = _dict(discover.get("message"))
    result, error = _dict(message.get("result")), _dict(message.get("error"))
    if result:
        answer = (
            f"supportedVersions {result.get('supportedVersions')}, ttlMs {result.get('ttlMs')},"
            f" cacheScope {result.get('cacheScope')}"
        )
    elif error:
        answer = f"JSON-RPC error {error.get('code')} {error.get('message')!r}"
    else:
        answer = "no JSON-RPC answer"
    return (
        f"MCP eras offered: handshake (initialize) {_yes_no(eras.get('handshake'))},"
        f" 2026-07-28 (server/discover) {_yes_no(eras.get('new'))};"
        f" server/discover: HTTP {discover.get('http_status')}, {answer}"
    )


def _cleanup_line(cleanup: dict[str, Any]) -> str:
    if cleanup.get("errors"):
        return "cleanup: FAILED: " + "; ".join(str(e) for e in cleanup["errors"])
    done = [
        what for what, key in (("instance", "instance_deleted"), ("config", "config_deleted"))
        if cleanup.get(key)
    ]
    return f"cleanup: deleted {' and '.join(done) or 'nothing'}"


def build_report(meta: dict[str, Any], obs: dict[str, Any], redactor: Redactor) -> DoctorReport:
    """Derive the emulator settings and the summary; return the redacted report.

    The refusal settings come from the instance URL when it was probed, else from the first
    session-token server that was.
    """
    listed: bool | None = None
    call: dict[str, Any] | None = None
    answer: str | None = None
    protocol: str | None = None
    for _, raw, sdk in _servers(obs):
        r_listed, r_call, probed = _refusal(raw)
        if not probed or "error" in raw:
            continue
        listed, call = r_listed, r_call
        framing = raw.get("answer_framing")
        answer = framing if framing in ("sse", "json") else None
        version = sdk.get("protocol_version") or raw.get("protocol_version")
        protocol = version if isinstance(version, str) else None
        break
    era: str | None = None
    for _, raw, _sdk in _servers(obs):
        offered = _dict(raw.get("eras"))
        if offered:
            era = {(True, True): "both", (False, True): "new", (True, False): "handshake"}.get(
                (bool(offered.get("handshake")), bool(offered.get("new")))
            )
            break
    data: dict[str, Any] = dict(meta)
    data.update({
        "mcp_era": era,
        "refusal_mode": refusal_mode(listed, call),
        "answer_mode": answer,
        "status_case": status_case(_statuses(obs)),
        "lists_unauthorized_tools": listed,
        "protocol_version": protocol,
        "idle_timeout": idle_timeout_setting(_dict(_dict(obs.get("instance_mode")).get(
            "idle_connection"))),
        "toolkit_handles_refusal": toolkit_handles(listed, call),
    })
    data["summary"] = _summary(data, obs)
    data["observations"] = obs
    cleaned = redactor.clean(data)
    assert isinstance(cleaned, dict)
    return DoctorReport(cleaned)
