"""The ``scalekit-langchain`` command: ``demo``, ``emulator``, ``tools`` and ``doctor``.

Run ``scalekit-langchain --help`` (or ``python -m scalekit_langchain.cli --help``) for the options.

Exit codes: 0 on success; 2 with one ``error: ...`` line on stderr for anything the person at the
keyboard can fix (a bad option or value, missing or partial credentials, an unknown config or
instance, a Scalekit error, a missing model package); 1 with one line for an unexpected failure;
130 when interrupted. No traceback is printed, and no credential (messages of our own errors are
redacted at the source, others go through the same redaction here).

``--help``, ``--version`` and argument errors load no LangChain, LangGraph or MCP module: this
module imports only the standard library and light parts of the package at the top, and each
command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

# Light: these import only the standard library (tests/unit/test_public_api.py checks --help).
from scalekit_langchain import _redact
from scalekit_langchain._version import __version__
from scalekit_langchain.errors import ScalekitError

if TYPE_CHECKING:
    from scalekit_langchain._mcp_content import ToolSpec

__all__ = ["main"]

# The emulator's refusal modes (kept here so `--help` needs no emulator import; a test checks
# it against scalekit_langchain.testing.REFUSAL_MODES).
REFUSAL_MODE_CHOICES = (
    "is_error_text",
    "marker",
    "jsonrpc_error",
    "http_401",
    "http_403",
    "connect_prompt",
    "hidden",
    "url_elicitation",
)


class _UsageError(Exception):
    """Bad input on the command line; its message is the one line to print."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (argparse prints usage lines, then exits)."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{message} (see {self.prog} --help)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="scalekit-langchain",
        description="Per-user Scalekit MCP tools for LangChain and LangGraph agents.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser(
        "demo",
        help="run the main job (offline against the emulator unless SCALEKIT_* is set)",
        description=(
            "Create or reuse the config 'email-calendar-assistant', ensure the user's instance, "
            "authorize its connections and run the agent. Without SCALEKIT_ENV_URL, "
            "SCALEKIT_CLIENT_ID and SCALEKIT_CLIENT_SECRET it runs offline against the "
            "embedded Scalekit emulator."
        ),
    )
    demo.add_argument(
        "--model",
        metavar="PROVIDER:NAME",
        default=None,
        help="chat model for the agent, e.g. openai:gpt-4.1-mini (default: scripted offline model)",
    )
    demo.add_argument("--user", default="john-doe", help="user identifier (default: john-doe)")

    emu = sub.add_parser(
        "emulator",
        help="run a local Scalekit emulator until Ctrl-C",
        description="Serve a local Scalekit emulator (REST API, auth pages, MCP servers).",
    )
    emu.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to bind (default: 127.0.0.1); non-loopback needs --allow-remote",
    )
    emu.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (anyone who can reach it can use the emulator)",
    )
    emu.add_argument("--port", type=int, default=0, help="port to bind (default: a free one)")
    emu.add_argument(
        "--token-ttl",
        type=float,
        default=3600.0,
        metavar="S",
        help="lifetime of access tokens in seconds (default: 3600)",
    )
    emu.add_argument(
        "--refusal-mode",
        choices=REFUSAL_MODE_CHOICES,
        default=None,
        help=(
            "how MCP servers refuse a tool whose connection is not ACTIVE (default:"
            " $SCALEKIT_EMULATOR_REFUSAL_MODE, else is_error_text)"
        ),
    )
    emu.add_argument(
        "--answer-mode",
        choices=("sse", "json"),
        default=None,
        help="answer MCP POSTs as text/event-stream (sse, default) or application/json (json)",
    )
    emu.add_argument(
        "--mcp-era",
        choices=("handshake", "both", "new"),
        default=None,
        help=(
            "MCP protocol eras to speak: handshake (initialize, sessions), both, or new"
            " (2026-07-28 only: server/discover, no sessions); default:"
            " $SCALEKIT_EMULATOR_MCP_ERA, else handshake"
        ),
    )
    emu.add_argument(
        "--profile",
        default=None,
        metavar="REPORT.json",
        help="behave as a `doctor` report recorded (refusal, SSE/JSON, status case, protocol)",
    )
    emu.add_argument(
        "--control-token",
        default=None,
        metavar="TOKEN",
        help="token the /_emulator/... control routes require (default: a random one)",
    )

    tools = sub.add_parser(
        "tools",
        help="show a user's tools and authorization state (read-only)",
        description=(
            "Show the connections of an MCP config, the authorization state of a user's "
            "instance of it (with links for connections that are not ACTIVE) and the tools the "
            "instance serves. Read-only: it creates no config and no instance. Uses "
            "SCALEKIT_ENV_URL, SCALEKIT_CLIENT_ID and SCALEKIT_CLIENT_SECRET."
        ),
    )
    tools.add_argument("--config", required=True, metavar="NAME", help="MCP config name")
    tools.add_argument("--user", required=True, metavar="ID", help="user identifier")

    doctor = sub.add_parser(
        "doctor",
        help="probe a live Scalekit environment and write a report (an emulator profile)",
        description=(
            "Create a throwaway MCP config and user, record how the environment's MCP servers "
            "and auth-state APIs answer (refusals, SSE or JSON, status case, protocol...), "
            "delete what was created, print a summary and write a JSON report with no secrets. "
            "Uses SCALEKIT_ENV_URL, SCALEKIT_CLIENT_ID and SCALEKIT_CLIENT_SECRET."
        ),
    )
    doctor.add_argument(
        "--connection", action="append", default=[], metavar="NAME",
        help="a connection of your environment, e.g. MY_GMAIL (repeatable)",
    )
    doctor.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    doctor.add_argument(
        "--output", default="scalekit-doctor-report.json", metavar="FILE",
        help="where to write the JSON report (default: scalekit-doctor-report.json)",
    )
    doctor.add_argument(
        "--timeout", type=float, default=30.0, metavar="S",
        help="seconds per request or MCP step (default: 30)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``scalekit-langchain`` console script; returns the exit code."""
    try:
        args = _parser().parse_args(argv)
        if args.command == "demo":
            return _demo(args)
        if args.command == "emulator":
            return _emulator(args)
        if args.command == "tools":
            return _tools(args)
        if args.command == "doctor":
            return _doctor(args)
        raise AssertionError(f"unhandled command {args.command!r}")  # pragma: no cover
    except _UsageError as exc:
        return _fail(str(exc))
    except ScalekitError as exc:
        return _fail(_one_line(exc))
    except ValueError as exc:  # checked before anything is sent: names the bad value
        return _fail(" ".join(str(exc).split()))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        return _fail(f"unexpected {_one_line(exc)}", code=1)


def _fail(message: str, *, code: int = 2) -> int:
    print(f"error: {_redact.redact(message)}", file=sys.stderr)
    return code


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _print(line: str = "") -> None:
    print(line, flush=True)


# --------------------------------------------------------------------------- demo


def _demo(args: argparse.Namespace) -> int:
    from scalekit_langchain._demo import ModelUnavailable, run_demo

    try:
        return run_demo(user=_user(args.user), model=args.model, out=_print)
    except ModelUnavailable as exc:  # a package to install: one line, like a usage error
        raise _UsageError(str(exc)) from None


def _user(value: str) -> str:
    from scalekit_langchain._rest_requests import (
        MAX_IDENTIFIER_LEN,
        require_identifier,
    )

    return require_identifier(value, "--user", max_len=MAX_IDENTIFIER_LEN)


# --------------------------------------------------------------------------- emulator


def _emulator(args: argparse.Namespace) -> int:
    from scalekit_langchain.testing import ScalekitEmulator

    if not 0 <= args.port <= 65535:
        print(f"error: --port must be from 0 to 65535, got {args.port}", file=sys.stderr)
        return 2
    if args.token_ttl <= 0:
        print(f"error: --token-ttl must be positive, got {args.token_ttl:g}", file=sys.stderr)
        return 2
    from scalekit_langchain.testing._server import is_loopback

    if not is_loopback(args.host):
        if not args.allow_remote:
            print(
                f"error: --host {args.host} is not a loopback address; add --allow-remote to"
                " serve other machines",
                file=sys.stderr,
            )
            return 2
        print(
            f"warning: serving on {args.host}: anyone who can reach this port can use the"
            " emulator (its credentials are printed below and it has no real security)",
            file=sys.stderr,
        )
    try:
        emulator = ScalekitEmulator(
            host=args.host,
            port=args.port,
            token_ttl=args.token_ttl,
            refusal_mode=args.refusal_mode,
            answer_mode=args.answer_mode,
            mcp_era=args.mcp_era,
            control_token=args.control_token,
            allow_remote=args.allow_remote,
            profile=args.profile,
        )
        emulator.start()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        raise _UsageError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"
        ) from None
    stop = threading.Event()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        _print(f"Scalekit emulator running at {emulator.env_url}")
        _print(f"  env_url        {emulator.env_url}")
        _print(f"  client_id      {emulator.client_id}")
        # A throwaway local emulator: showing its secret is the point.
        _print(f"  client_secret  {emulator.client_secret}")
        _print(f"  control_token  {emulator.control_token}")
        _print(f"  refusal_mode   {emulator.refusal_mode}")
        _print(f"  answer_mode    {emulator.answer_mode}")
        _print(f"  mcp_era        {emulator.mcp_era}")
        _print(f"  status_case    {emulator.status_case}")
        _print("")
        _print("Point a client at it (e.g. in another shell):")
        _print(f"  export SCALEKIT_ENV_URL={emulator.env_url}")
        _print(f"  export SCALEKIT_CLIENT_ID={emulator.client_id}")
        _print(f"  export SCALEKIT_CLIENT_SECRET={emulator.client_secret}")
        _print("")
        _print("Control routes (POST JSON) need the control token, e.g.:")
        _print(
            f"  curl -X POST -H 'X-Emulator-Token: {emulator.control_token}'"
            f" {emulator.env_url}/_emulator/counts"
        )
        _print("")
        _print("Press Ctrl-C to stop.")
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    _print("Scalekit emulator stopped.")
    return 0


# --------------------------------------------------------------------------- tools


def _tools(args: argparse.Namespace) -> int:
    from scalekit_langchain import _session_loop
    from scalekit_langchain._connection_auth import ConnectionMap
    from scalekit_langchain._demo import credentials_mode
    from scalekit_langchain._rest_requests import check_config_name
    from scalekit_langchain.client import ScalekitClient

    config_name = check_config_name(args.config, "--config")
    user = _user(args.user)
    if not credentials_mode():
        raise _UsageError(
            "no Scalekit credentials: set SCALEKIT_ENV_URL, SCALEKIT_CLIENT_ID and "
            "SCALEKIT_CLIENT_SECRET (scalekit-langchain emulator prints them for a local one)"
        )
    with ScalekitClient() as client:
        config = client.mcp.get_config_by_name(config_name)
        if config is None:
            raise _UsageError(f"no MCP config named {config_name!r} at {client.env_url}")
        instances = list(
            client.mcp.iter_instances(filter_config_name=config.name, filter_user_identifier=user)
        )
        _print(f"Config {config.name} ({config.id})")
        if config.description:
            _print(f"  {config.description}")
        for m in config.connection_tool_mappings:
            tools = ", ".join(m.tools) or "all tools"
            _print(f"  {m.connection_name} ({m.provider or '?'}): {tools}")
        if not instances:
            raise _UsageError(
                f"user {user!r} has no instance of {config.name!r} yet (this command creates "
                "none; ScalekitMCPToolkit or `scalekit-langchain demo --user` does)"
            )
        for instance in instances:
            _print("")
            named = f" ({instance.name})" if instance.name else ""
            _print(f"Instance {instance.id}{named} for user {user!r}")
            _print(f"  url  {instance.redacted_url}")
            states = client.mcp.get_instance_auth_state(instance.id, include_auth_links=True)
            _print("")
            _print("Authorization")
            for s in states:
                _print(f"  {s.connection_name} ({s.provider or '?'}): {s.status or 'NO_ACCOUNT'}")
                if not s.is_active and s.authentication_link:
                    _print(f"    link: {s.authentication_link}")
            if not instance.url:
                _print("")
                _print("Tools: unknown (Scalekit returned no URL for this instance)")
                continue
            specs = _session_loop.run_sync(_list_tools(instance.url, f"{config.name}/{user}"))
            connections = ConnectionMap(config.connection_tool_mappings)
            _print("")
            _print(f"Tools ({len(specs)})")
            for spec in specs:
                summary = spec.description.strip().splitlines()[0][:80] if spec.description else ""
                where = ", ".join(connections.connections_for(spec.name)) or "?"
                _print(f"  {spec.name} [{where}]: {summary}")
    return 0


async def _list_tools(url: str, label: str) -> list[ToolSpec]:
    """``tools/list`` on an instance URL we already have (no ensure_instance: read-only)."""
    from scalekit_langchain._mcp_session import ConnectParams, McpSession

    _redact.register_secret(url)
    _redact.register_secret(url.rstrip("/").rsplit("/", 1)[-1])

    async def params() -> ConnectParams:
        return ConnectParams(url=url, label=label)

    session = McpSession(params, label=label)
    try:
        return await session.list_tools()
    finally:
        await session.aclose()


# --------------------------------------------------------------------------- doctor


def _doctor(args: argparse.Namespace) -> int:
    from scalekit_langchain.doctor import run_command

    return run_command(args.connection, yes=args.yes, output=args.output, timeout=args.timeout)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
