"""The README's code runs: every ```python block is executed against the emulator.

The blocks run in README order against one emulator, as a reader would run them one after the
other (so a block cannot depend on a fresh Scalekit: configs and users carry over), each in a
fresh namespace (it must carry its imports), with the ``SCALEKIT_*`` variables pointing at the
emulator and no model API key set. Selecting one block with ``-k`` still runs the blocks before
it first. Blocks with top-level ``await`` are
compiled with ``PyCF_ALLOW_TOP_LEVEL_AWAIT`` and run with ``asyncio.run``; ``test_*`` functions a
block defines are then called, as pytest would. The test plays the user: every authorization
link a block prints is opened (page, then its form) as soon as it is printed, so a block that
shows links and waits for the user goes on. The blocks are collected from the README when the
tests are, so a new block that does not run fails here.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import io
import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from scalekit_langchain import _demo
from scalekit_langchain.testing import ScalekitEmulator

README = Path(__file__).resolve().parents[2] / "README.md"
FENCE = re.compile(r"^```(?P<lang>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
EVENT_LINE = "Event created: Reminder: send the Q3 budget"


@dataclass(frozen=True)
class Block:
    lang: str
    body: str
    line: int
    heading: str
    #: The example file a block is an excerpt of (``<!-- from path -->`` on the line before it).
    source: str | None = None

    @property
    def id(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.heading.lower()).strip("-")
        return f"L{self.line}-{slug}"


def _blocks(text: str) -> list[Block]:
    blocks = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = FENCE.sub("", text[: match.start()])  # a "# comment" in a bash block is no heading
        headings = re.findall(r"^#+ (.+)$", before, re.MULTILINE)
        last = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        source = re.fullmatch(r"<!-- from (\S+) -->", last)
        blocks.append(Block(match["lang"].strip(), match["body"], line,
                            headings[-1] if headings else "", source[1] if source else None))
    return blocks


BLOCKS = _blocks(README.read_text())
# Excerpts of the examples (``<!-- from path -->``) are not run here: they need the examples'
# extras (web, server), their own tests run them, and test_excerpts_are_the_examples_code
# checks that they are the examples' code.
PYTHON = [b for b in BLOCKS if b.lang == "python" and b.source is None]


def _commands(block: Block) -> list[str]:
    return [line.split("#")[0].strip() for line in block.body.splitlines()]


def test_quick_start_is_pip_install_then_the_demo_and_make_from_a_clone() -> None:
    text = README.read_text()
    first, second = BLOCKS[0], BLOCKS[1]
    assert first.lang == second.lang == "bash" and first.heading == second.heading == "Quick start"
    assert _commands(first) == [
        "pip install scalekit-langchain 'langchain[mcp]>=1.5'",
        "scalekit-langchain demo",
    ]
    assert _commands(second) == ["make demo", "make test"]
    assert text.index("```") > text.index("## Quick start")  # nothing runnable before it


def test_from_zero_names_where_credentials_connections_and_a_real_model_come_from() -> None:
    section = README.read_text().split("## From zero to a real agent", 1)[1].split("\n## ", 1)[0]
    for needed in (
        "SCALEKIT_ENV_URL", "SCALEKIT_CLIENT_ID", "SCALEKIT_CLIENT_SECRET", "API credentials",
        "AgentKit → Connections", "`MY_GMAIL`", "`MY_CALENDAR`", "init_chat_model",
        "pip install langchain-openai", "OPENAI_API_KEY", "--model openai:gpt-4.1-mini",
        "What the person sees",
    ):
        assert needed in section, needed


def test_every_block_names_its_language() -> None:
    assert {b.lang for b in BLOCKS} <= {"python", "bash", "json"}, [(b.line, b.lang) for b in BLOCKS]
    assert len(PYTHON) >= 8


def test_readme_uses_create_agent_not_the_deprecated_prebuilt_agent() -> None:
    text = README.read_text()
    assert "create_react_agent(" not in text
    assert "from langchain.agents import create_agent" in text
    assert "AuthorizationMiddleware(toolkit)" in text
    assert 'while "__interrupt__" in result:' in text
    assert "resume_authorization(result)" in text
    assert "filterwarnings" not in text


def test_install_section_covers_both_mcp_stacks_and_the_extras() -> None:
    install = [b.body for b in BLOCKS if b.heading == "Install"]
    assert install and all(b.lang == "bash" for b in BLOCKS if b.heading == "Install")
    commands = {line.strip() for body in install for line in body.splitlines()}
    assert "pip install scalekit-langchain 'langchain[mcp]>=1.5'" in commands
    assert "pip install 'scalekit-langchain[adapters]'" in commands
    extras = {line.split("#")[0].strip() for body in install for line in body.splitlines()}
    for extra in ("agents", "sqlite", "notebook"):
        assert f"pip install 'scalekit-langchain[{extra}]'" in extras, extra
    assert "pip install scalekit-langchain" in extras


#: The only way a block may reach a real model: behind a check that its API key is set.
KEY_GUARD = 'if os.environ.get("OPENAI_API_KEY"):'


@pytest.mark.parametrize("block", PYTHON, ids=[b.id for b in PYTHON])
def test_offline_model_only(block: Block) -> None:
    """Blocks run with no API key: agents get the scripted model; a real one only behind a key."""
    code_lines = [line.split("#", 1)[0] for line in block.body.splitlines()]
    code = "\n".join(code_lines)
    if "init_chat_model" in code or re.search(r"[\"'](openai|anthropic|google_genai):", code):
        assert KEY_GUARD in code
    if "create_agent(" in code or "StateGraph(" in code:
        assert "ScriptedReminderModel()" in code


WAITS = ("await_authorization(", "wait_for_authorization(", "time.sleep(")


@pytest.mark.parametrize("block", PYTHON, ids=[b.id for b in PYTHON])
def test_a_block_that_waits_for_a_person_says_so(block: Block) -> None:
    """Printing the links is not enough: the reader must see that the block now waits."""
    if any(wait in block.body for wait in WAITS):
        assert re.search(r"print\(f?\"waiting (up to 5 minutes )?for [\w{}-]+ to", block.body), block.id


class _User(io.TextIOBase):
    """Captures what a block prints and opens each authorization link in it, as a user would."""

    def __init__(self, emulator: ScalekitEmulator) -> None:
        self.text = ""
        self.opened: list[str] = []
        self._link = re.compile(re.escape(emulator.env_url) + r"/connect/[\w-]+")
        self._http = httpx.Client(timeout=10.0, follow_redirects=True)

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.text += text
        for link in self._link.findall(self.text):
            if link not in self.opened:
                self.opened.append(link)
                self._open(link)
        return len(text)

    def _open(self, link: str) -> None:
        page = self._http.get(link)
        page.raise_for_status()
        action = _demo.form_action(page.text)
        assert action is not None, "the authorization page has no form"
        self._http.post(urljoin(str(page.url), action)).raise_for_status()

    def close(self) -> None:
        self._http.close()
        super().close()


def _run(block: Block, namespace: dict[str, Any]) -> list[str]:
    """Execute the block; return the names of the ``test_*`` functions it defined and ran."""
    code = compile(
        block.body, f"README.md:{block.line}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    )
    result = eval(code, namespace)  # a coroutine when the block has top-level await
    if inspect.iscoroutine(result):
        asyncio.run(result)
    ran = []
    for name, value in list(namespace.items()):
        if name.startswith("test_") and inspect.isfunction(value):
            outcome = value()
            if inspect.iscoroutine(outcome):
                asyncio.run(outcome)
            ran.append(name)
    return ran


@dataclass
class _Outcome:
    printed: str = ""
    opened: list[str] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)
    error: BaseException | None = None


#: Variables a block must not see: the emulator's credentials replace the first three, and no
#: model API key is set, so blocks take their offline model.
_HIDDEN = ("SCALEKIT_ENV_URL", "SCALEKIT_CLIENT_ID", "SCALEKIT_CLIENT_SECRET", "OPENAI_API_KEY",
           "ANTHROPIC_API_KEY", "GOOGLE_API_KEY")


class _InOrder:
    """Runs the README's Python blocks in README order against one emulator, each once."""

    def __init__(self, emulator: ScalekitEmulator) -> None:
        self.emulator = emulator
        self.outcomes: list[_Outcome] = []

    def through(self, index: int) -> _Outcome:
        while len(self.outcomes) <= index:
            self.outcomes.append(self._run_one(PYTHON[len(self.outcomes)]))
        return self.outcomes[index]

    def _run_one(self, block: Block) -> _Outcome:
        saved = {name: os.environ.pop(name, None) for name in _HIDDEN}
        os.environ["SCALEKIT_ENV_URL"] = self.emulator.env_url
        os.environ["SCALEKIT_CLIENT_ID"] = self.emulator.client_id
        os.environ["SCALEKIT_CLIENT_SECRET"] = self.emulator.client_secret
        user = _User(self.emulator)
        stdout, sys.stdout = sys.stdout, user
        outcome = _Outcome()
        try:
            outcome.ran = _run(block, {"__name__": f"readme_block_{block.line}"})
        except Exception as exc:  # reported by this block's test; later blocks still run
            outcome.error = exc
        finally:
            sys.stdout = stdout
            user.close()
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        outcome.printed, outcome.opened = user.text, user.opened
        return outcome


@pytest.fixture(scope="module")
def readme_run() -> Iterator[_InOrder]:
    """One emulator for every block of the README, run in order."""
    with ScalekitEmulator() as emulator:
        yield _InOrder(emulator)


@pytest.mark.parametrize("block", PYTHON, ids=[b.id for b in PYTHON])
def test_python_block_runs(block: Block, readme_run: _InOrder) -> None:
    outcome = readme_run.through(PYTHON.index(block))
    if outcome.error is not None:
        raise outcome.error
    printed, ran = outcome.printed, outcome.ran
    body = block.body
    if "ScriptedReminderModel()" in body:  # an agent: it really booked the reminder
        assert EVENT_LINE in printed or "Event created: Reminder" in printed, printed[-2000:]
    if "resume_authorization(result)" in body:  # it paused, showed links, and resumed
        assert outcome.opened, printed[-2000:]
    if "AuthorizationMiddleware(toolkit)" in body:
        # The pause before the model lists every connection, not one per tool call.
        gmail, calendar = printed.count("MY_GMAIL"), printed.count("MY_CALENDAR")
        assert gmail == calendar >= 1, printed[-2000:]
    assert ran == re.findall(r"^def (test_\w+)", body, re.MULTILINE)


def _without_leading_imports(body: str) -> str:
    lines = body.splitlines()
    depth = 0
    for i, line in enumerate(lines):
        if depth or line.startswith(("import ", "from ")) or not line.strip():
            depth += line.count("(") - line.count(")")
            continue
        return "\n".join(lines[i:])
    return ""


def test_excerpts_are_the_examples_code() -> None:
    """The "In a web app" and "Deploying on a LangGraph server" code is the examples' code."""
    excerpts = [b for b in BLOCKS if b.source is not None]
    assert {b.source for b in excerpts} >= {
        "examples/web_app/app.py",
        "examples/langgraph_server/langgraph.json",
        "examples/langgraph_server/auth.py",
        "examples/langgraph_server/graph.py",
    }
    for block in excerpts:
        assert block.source is not None
        source = (README.parent / block.source).read_text()
        if block.lang == "json":
            assert json.loads(block.body) == json.loads(source), block.source
        else:
            code = _without_leading_imports(block.body).strip("\n")
            assert code and code in source, f"README.md:{block.line} is not {block.source}'s code"


def test_readme_lists_every_refusal_mode_of_the_emulator() -> None:
    from scalekit_langchain.testing import REFUSAL_MODES

    section = README.read_text().split("## The emulator", 1)[1].split("\n## ", 1)[0]
    assert [mode for mode in REFUSAL_MODES if f"`{mode}`" not in section] == []


def test_one_spelling_for_each_name_across_readme_cli_docs_and_examples() -> None:
    """The environment URL example is a development one; the example model is gpt-4.1-mini."""
    root = README.parent
    files = [README, root / "notebooks" / "quickstart.ipynb"]
    files += sorted((root / "scalekit_langchain").rglob("*.py")) + sorted((root / "examples").rglob("*.py"))
    text = "\n".join(path.read_text() for path in files)
    assert "your-env.scalekit.com" not in text
    assert "gpt-4o" not in text
    assert "your-env.scalekit.dev" in text and "openai:gpt-4.1-mini" in text
