"""Each ``pip install`` line of the README, alone in a fresh virtualenv, runs what the README says.

    python3 .ci/install_lines.py            # every line (one venv each; 22 min on a busy 2-core VM)
    python3 .ci/install_lines.py --list     # the lines and what each one must run
    python3 .ci/install_lines.py --only adapters --only notebook   # lines containing a word
    python3 .ci/install_lines.py --only 'pip install scalekit-langchain'   # exactly this line

The package is built once as a wheel from a copy of the working tree (the checkout stays clean,
and the wheel's package data is what is tested). Each README line that installs
``scalekit-langchain`` is run as written with the package name replaced by that wheel, in a new
virtualenv, and then the checks :data:`LINES` names for it run from a scratch directory (so
nothing is imported from the checkout): the demo, the examples, the README's Python blocks
(``tests/integration/test_readme.py``, with pytest added to the venv afterwards), ``import *``,
the notebook. A line of the README missing from :data:`LINES`, or the other way round, fails
(``tests/unit/test_install_lines.py`` checks that too, in the fast suite). Lines installing from a
clone (``pip install -e '.[test]' ...``) are what ``.ci/run`` itself does.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PACKAGE = "scalekit-langchain"
PIP = ("--quiet", "--disable-pip-version-check", "--no-compile")
EXAMPLES = ("quickstart.py", "middleware_agent.py", "sync_usage.py", "custom_graph.py")
EVENT = "Event created: Reminder: send the Q3 budget"


@dataclass
class Venv:
    """A fresh virtualenv and a scratch directory to run its checks from."""

    path: Path
    scratch: Path

    @property
    def python(self) -> str:
        return str(self.path / "bin" / "python")

    def run(
        self, *args: str, ok: bool = True, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            args, cwd=self.scratch, env=_clean_env(self), capture_output=True, text=True,
            timeout=timeout,
        )
        if ok and done.returncode != 0:
            output = done.stdout[-3000:] + done.stderr[-3000:]
            raise Failure(f"{' '.join(args)} -> rc {done.returncode}\n{output}")
        return done


class Failure(Exception):
    """A check did not see what the README promises."""


def _expect(text: str, *needles: str) -> None:
    for needle in needles:
        if needle not in text:
            raise Failure(f"expected {needle!r} in:\n{text[-3000:]}")


# --------------------------------------------------------------------------- checks


def installed_from_wheel(venv: Venv) -> str:
    done = venv.run(venv.python, "-c", "import scalekit_langchain as s; print(s.__file__)")
    if "site-packages" not in done.stdout:
        raise Failure(f"scalekit_langchain imported from {done.stdout.strip()}, not the venv")
    return "imported from the venv"


def import_star(venv: Venv) -> str:
    venv.run(venv.python, "-c", "from scalekit_langchain import *; print(ScalekitMCPToolkit)")
    return "from scalekit_langchain import *"


def cli_help(venv: Venv) -> str:
    _expect(venv.run("scalekit-langchain", "--help").stdout, "demo", "emulator", "tools", "doctor")
    return "scalekit-langchain --help"


def demo(venv: Venv) -> str:
    printed = venv.run("scalekit-langchain", "demo").stdout
    _expect(printed, "scripted offline model", "Created event:", "Done.")
    return "scalekit-langchain demo"


def demo_asks_for_agents(venv: Venv) -> str:
    done = venv.run("scalekit-langchain", "demo", ok=False)
    if done.returncode != 2 or "Traceback" in done.stderr:
        raise Failure(f"demo without langchain: rc {done.returncode}\n{done.stderr[-2000:]}")
    _expect(done.stderr, "error: ", "pip install 'scalekit-langchain[agents]'")
    code = (
        "from scalekit_langchain import AuthorizationMiddleware as M\n"
        "try:\n    M(None)\nexcept ImportError as e:\n    print(e)"
    )
    _expect(venv.run(venv.python, "-c", code).stdout, "scalekit-langchain[agents]")
    return "demo and AuthorizationMiddleware: one line naming [agents]"


TOOLKIT_WITHOUT_LANGCHAIN = """
import importlib.util
from scalekit_langchain import ScalekitClient, ScalekitMCPToolkit
from scalekit_langchain.testing import ScalekitEmulator

assert importlib.util.find_spec("langchain") is None, "langchain is installed"
with ScalekitEmulator() as emu:
    with ScalekitClient(emu.env_url, emu.client_id, emu.client_secret) as client:
        with ScalekitMCPToolkit(
            client=client, config_name="plain", user_identifier="u1",
            connection_tool_mappings=[
                {"connection_name": "MY_GMAIL", "tools": ["gmail_fetch_mails"]},
            ],
        ) as toolkit:
            (fetch,) = toolkit.get_tools()
            emu.authorize("u1", "MY_GMAIL")  # as if u1 had opened the link
            print(fetch.invoke({"max_results": 1}).splitlines()[0])
"""


def toolkit_without_langchain(venv: Venv) -> str:
    _expect(venv.run(venv.python, "-c", TOOLKIT_WITHOUT_LANGCHAIN).stdout, "1 message(s)")
    return "a toolkit tool against the emulator, without langchain"


def examples(venv: Venv, names: tuple[str, ...] = EXAMPLES) -> str:
    shutil.copytree(ROOT / "examples", venv.scratch / "examples", dirs_exist_ok=True)
    for name in names:
        done = subprocess.run(
            [venv.python, name],
            cwd=venv.scratch / "examples",
            env={**_clean_env(venv), "PYTHONWARNINGS": "error::ResourceWarning"},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise Failure(f"examples/{name} -> rc {done.returncode}\n{done.stderr[-3000:]}")
        _expect(done.stdout, "(offline: using the local Scalekit emulator", EVENT)
    return "examples/" + ", ".join(names)


def quickstart_example(venv: Venv) -> str:
    return examples(venv, ("quickstart.py",))


def readme_blocks(venv: Venv) -> str:
    venv.run(venv.python, "-m", "pip", "install", *PIP, "pytest>=8", "pytest-asyncio>=0.24")
    done = venv.run(
        venv.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib",
        f"--rootdir={ROOT}", "-c", str(ROOT / "pyproject.toml"),
        str(ROOT / "tests" / "integration" / "test_readme.py"),
        ok=False, timeout=900,
    )
    tail = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if done.returncode != 0:
        raise Failure(f"README blocks: {tail}\n{done.stdout[-4000:]}")
    return f"the README's blocks (test_readme.py: {tail})"


def sqlite_checkpointer(venv: Venv) -> str:
    code = "from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver\n"
    code += "from scalekit_langchain import *"
    venv.run(venv.python, "-c", code)
    return "AsyncSqliteSaver imports"


def http2_ready(venv: Venv) -> str:
    """The [h2] extra: ``http2=True`` is accepted (it needs h2) and the MCP stack's HTTP library
    builds an HTTP/2 transport (it imports h2 for that)."""
    code = "from scalekit_langchain import ScalekitMCPToolkit\n"
    code += "ScalekitMCPToolkit(url='https://127.0.0.1:9/mcp', http2=True)\n"
    code += "from scalekit_langchain._mcp_stack import http\n"
    code += "http.AsyncHTTPTransport(http2=True)\nprint('http2 ready')"
    _expect(venv.run(venv.python, "-c", code).stdout, "http2 ready")
    return "toolkit(http2=True), an HTTP/2 transport"


def notebook(venv: Venv) -> str:
    shutil.copytree(ROOT / "notebooks", venv.scratch / "notebooks", dirs_exist_ok=True)
    done = venv.run(venv.python, "notebooks/execute.py", "notebooks/quickstart.ipynb", timeout=600)
    _expect(done.stdout, "saved notebooks/quickstart.ipynb")
    return "python notebooks/execute.py notebooks/quickstart.ipynb"


def langgraph_server(venv: Venv) -> str:
    """The LangGraph server example's tools: the in-memory ``langgraph dev`` and its SDK."""
    venv.run(str(venv.path / "bin" / "langgraph"), "--help")
    venv.run(venv.python, "-c", "import langgraph_sdk\nfrom scalekit_langchain import *")
    return "langgraph --help, langgraph_sdk imports"


def mcp_major(major: int) -> Callable[[Venv], str]:
    def check(venv: Venv) -> str:
        code = "import importlib.metadata as m; print(m.version('mcp'))"
        version = venv.run(venv.python, "-c", code).stdout.strip()
        if not version.startswith(f"{major}."):
            raise Failure(f"expected mcp {major}.x, got {version}")
        return f"mcp {version}"

    check.__name__ = f"mcp_{major}"
    return check


def _clean_env(venv: Venv) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCALEKIT_", "PYTHON"))}
    env["PATH"] = f"{venv.path / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        env.pop(key, None)
    return env


STACK = [installed_from_wheel, import_star, cli_help, demo, examples, readme_blocks]

#: Every ``pip install`` line of the README that installs the package, and what it must run.
LINES: dict[str, list[Callable[[Venv], str]]] = {
    "pip install scalekit-langchain 'langchain[mcp]>=1.5'": [mcp_major(2), *STACK],
    "pip install 'scalekit-langchain[adapters]'": [mcp_major(1), *STACK],
    "pip install scalekit-langchain": [
        installed_from_wheel,
        import_star,
        cli_help,
        demo_asks_for_agents,
        toolkit_without_langchain,
    ],
    "pip install 'scalekit-langchain[agents]'": [import_star, demo, quickstart_example],
    "pip install 'scalekit-langchain[sqlite]'": [import_star, sqlite_checkpointer],
    "pip install 'scalekit-langchain[notebook]'": [notebook],
    "pip install 'scalekit-langchain[h2]'": [import_star, http2_ready],
    "pip install 'scalekit-langchain[server]'": [import_star, langgraph_server],
}


def readme_lines(text: str) -> list[str]:
    """Every ``pip install`` command of the README that installs the package, in order.

    Commands at the start of a line (code blocks; a ``# comment`` is cut) and in inline code
    spans count; commands that do not name ``scalekit-langchain`` (a model's package, an
    editable install from a clone) do not.
    """
    commands = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    commands = [c for c in commands if c.startswith("pip install ")]
    commands += re.findall(r"`(pip install [^`]+)`", text)
    names_package = re.compile(rf"(^|[\s']){PACKAGE}(\[|'|\s|$)")
    found: list[str] = []
    for command in commands:
        if names_package.search(command) and command not in found:
            found.append(command)
    return found


def for_wheel(line: str, wheel: Path) -> list[str]:
    """The arguments after ``pip install`` in ``line``, the package name replaced by ``wheel``."""
    args = shlex.split(line)[2:]  # after "pip install"
    out = []
    for arg in args:
        if arg == PACKAGE or arg.startswith(PACKAGE + "["):
            out.append(str(wheel) + arg[len(PACKAGE) :])
        else:
            out.append(arg)
    return out


def _build_wheel(work: Path) -> Path:
    source = work / "source"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", *PIP[:2], "--no-deps", "-w", str(work / "dist"),
         str(source)],
        check=True,
    )
    (wheel,) = (work / "dist").glob("scalekit_langchain-*.whl")
    return wheel


def check_line(
    line: str, wheel: Path, work: Path, index: int
) -> tuple[str, bool, list[str], float]:
    started = time.monotonic()
    venv = Venv(work / f"venv{index}", work / f"scratch{index}")
    venv.scratch.mkdir()
    ran: list[str] = []
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv.path)], check=True)
        venv.run(venv.python, "-m", "pip", "install", *PIP, *for_wheel(line, wheel), timeout=1200)
        for check in LINES[line]:
            ran.append(check(venv))
        return line, True, ran, time.monotonic() - started
    except (Failure, subprocess.SubprocessError) as exc:
        ran.append(f"FAILED: {exc}")
        return line, False, ran, time.monotonic() - started


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print the lines and their checks")
    parser.add_argument(
        "--only", action="append", default=[], help="this line, or lines containing this text"
    )
    parser.add_argument("--jobs", type=int, default=2, help="venvs built at once (default 2)")
    args = parser.parse_args(argv)

    in_readme = readme_lines(README.read_text())
    if sorted(in_readme) != sorted(LINES):
        print("README install lines and LINES differ:", file=sys.stderr)
        print("  only in README:", sorted(set(in_readme) - set(LINES)), file=sys.stderr)
        print("  only in LINES: ", sorted(set(LINES) - set(in_readme)), file=sys.stderr)
        return 1
    exact = [line for line in in_readme if line in args.only]  # a whole line: just that one
    lines = exact or [
        line for line in in_readme if not args.only or any(w in line for w in args.only)
    ]
    if args.list:
        for line in lines:
            print(f"{line}\n    " + ", ".join(check.__name__ for check in LINES[line]))
        return 0

    with tempfile.TemporaryDirectory(prefix="install-lines-") as tmp:
        work = Path(tmp)
        wheel = _build_wheel(work)
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            jobs = [pool.submit(check_line, line, wheel, work, i) for i, line in enumerate(lines)]
            results = [job.result() for job in jobs]
    status = 0
    for line, ok, ran, seconds in results:
        print(f"{'ok  ' if ok else 'FAIL'} {line}   ({seconds:.0f} s)")
        for what in ran:
            print(f"       {what}")
        status |= 0 if ok else 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
