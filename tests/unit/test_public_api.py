"""The package's public face: ``__all__`` exactly, ``import *`` on a plain install, light imports.

``scalekit_langchain`` loads each public name on first use, so importing it (and the
``scalekit-langchain`` command's ``--help`` and argument errors) loads no LangChain, LangGraph or
MCP module. A plain install has no ``langchain`` (only ``langchain-core``): there
``from scalekit_langchain import *`` still works and ``AuthorizationMiddleware`` fails on use
with the install hint. Those cases run in a subprocess, with ``langchain`` hidden by an import
hook where a plain install is played (the fresh-venv check in ``.ci/install_lines.py`` runs the
real thing).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import scalekit_langchain

ROOT = Path(__file__).resolve().parents[2]

EXPECTED_ALL = [
    "AUTHORIZATION_INTERRUPT_TYPE",
    "AsyncScalekitClient",
    "AuthenticationError",
    "AuthorizationMiddleware",
    "AuthorizationRequired",
    "BadRequestError",
    "ConfigDriftError",
    "ConflictError",
    "ConnectionAuthState",
    "ElicitationRequired",
    "McpConfig",
    "McpConfigConnectionToolMapping",
    "McpInstance",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "RateLimitError",
    "ScalekitAPIError",
    "ScalekitClient",
    "ScalekitConfigurationError",
    "ScalekitConnectionError",
    "ScalekitError",
    "ScalekitMCPTool",
    "ScalekitMCPToolkit",
    "ScalekitProtocolError",
    "ScalekitTimeoutError",
    "ServerError",
    "SessionToken",
    "ToolCallOutcomeUnknown",
    "ToolCallRejected",
    "WebhookVerificationError",
    "__version__",
    "authorization_gate",
    "resume_authorization",
    "resume_elicitation",
]

#: Top-level packages that ``--help`` and a bare ``import scalekit_langchain`` must not load.
HEAVY = ("langchain", "langchain_core", "langgraph", "mcp", "httpx", "httpx2", "fastmcp", "pydantic")

#: Run first in a subprocess: makes ``langchain`` (not ``langchain_core``) unimportable.
HIDE_LANGCHAIN = textwrap.dedent(
    """
    import sys

    class _NoLangChain:
        def find_spec(self, name, path=None, target=None):
            if name == "langchain" or name.startswith("langchain."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, _NoLangChain())
    """
)


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in ("SCALEKIT_ENV_URL", "SCALEKIT_CLIENT_ID", "SCALEKIT_CLIENT_SECRET"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )


def _heavy(modules: list[str]) -> list[str]:
    return sorted({m.split(".")[0] for m in modules} & set(HEAVY))


def test_all_is_exactly_the_public_api_and_sorted() -> None:
    assert scalekit_langchain.__all__ == EXPECTED_ALL
    assert sorted(scalekit_langchain.__all__) == scalekit_langchain.__all__


def test_every_name_in_all_resolves_to_its_real_object() -> None:
    from scalekit_langchain.middleware import AuthorizationMiddleware
    from scalekit_langchain.toolkit import ScalekitMCPToolkit

    for name in scalekit_langchain.__all__:
        assert getattr(scalekit_langchain, name) is not None, name
    assert scalekit_langchain.AuthorizationMiddleware is AuthorizationMiddleware
    assert scalekit_langchain.ScalekitMCPToolkit is ScalekitMCPToolkit
    assert set(scalekit_langchain.__all__) <= set(dir(scalekit_langchain))


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        _ = scalekit_langchain.NoSuchName  # type: ignore[attr-defined]


def test_import_of_the_package_loads_no_langchain_langgraph_or_mcp() -> None:
    done = _python(
        "import json, sys, scalekit_langchain; print(json.dumps(sorted(sys.modules)))"
    )
    assert done.returncode == 0, done.stderr
    assert _heavy(json.loads(done.stdout)) == []


def test_import_star_works_without_langchain_and_the_middleware_fails_on_use() -> None:
    code = HIDE_LANGCHAIN + textwrap.dedent(
        """
        from scalekit_langchain import *
        import scalekit_langchain

        assert ScalekitMCPToolkit.__name__ == "ScalekitMCPToolkit"
        assert sorted(n for n in scalekit_langchain.__all__ if n not in globals()) == []
        print(repr(AuthorizationMiddleware))
        def subclass():
            class Mine(AuthorizationMiddleware):
                pass

        for use in (
            lambda: AuthorizationMiddleware(None),
            subclass,
            lambda: AuthorizationMiddleware.before_model,
        ):
            try:
                use()
            except ImportError as exc:
                print("ImportError:", exc)
            else:
                raise SystemExit("no ImportError")
        """
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 4, done.stdout
    hint = "pip install 'scalekit-langchain[agents]'"
    assert lines[0].startswith("<AuthorizationMiddleware: unavailable (") and hint in lines[0]
    assert all(line.startswith("ImportError: AuthorizationMiddleware needs") for line in lines[1:])
    assert all(hint in line for line in lines[1:])


def test_middleware_module_without_langchain_raises_the_install_hint() -> None:
    code = HIDE_LANGCHAIN + textwrap.dedent(
        """
        try:
            import scalekit_langchain.middleware
        except ImportError as exc:
            print(exc)
        """
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert "pip install 'scalekit-langchain[agents]'" in done.stdout


CLI_RUN = textwrap.dedent(
    """
    import json, runpy, sys

    sys.argv = ["scalekit-langchain", *sys.argv[1:]]
    try:
        runpy.run_module("scalekit_langchain.cli", run_name="__main__")
    except SystemExit as exc:
        code = exc.code
    print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
    """
)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--help"], 0),
        (["--version"], 0),
        (["demo", "--help"], 0),
        (["emulator", "--help"], 0),
        (["demo", "--bogus"], 2),
        ([], 2),
        (["tools", "--config", "x"], 2),
    ],
    ids=["help", "version", "demo-help", "emulator-help", "bad-option", "no-command", "missing-arg"],
)
def test_cli_help_and_argument_errors_load_no_langchain_langgraph_or_mcp(
    args: list[str], code: int
) -> None:
    done = _python(CLI_RUN, *args)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] == code, done.stderr
    assert _heavy(report["modules"]) == []
    if code == 2:
        assert done.stderr.splitlines()[0].startswith("error: ")
    else:
        assert "scalekit-langchain" in done.stdout
