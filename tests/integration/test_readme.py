"""The README's code runs: every ```python block is executed against the emulator.

Each block runs on its own (a fresh namespace: it must carry its imports) with the
``SCALEKIT_*`` variables pointing at a fresh emulator. Blocks with top-level ``await`` are
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
import re
import sys
from dataclasses import dataclass
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
        headings = re.findall(r"^#+ (.+)$", text[: match.start()], re.MULTILINE)
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        source = re.fullmatch(r"<!-- from (\S+) -->", before)
        blocks.append(Block(match["lang"].strip(), match["body"], line,
                            headings[-1] if headings else "", source[1] if source else None))
    return blocks


BLOCKS = _blocks(README.read_text())
PYTHON = [b for b in BLOCKS if b.lang == "python"]


def test_readme_starts_with_make_demo_and_make_test() -> None:
    text = README.read_text()
    first = BLOCKS[0]
    assert first.lang == "bash" and first.heading == "Quick start"
    commands = [line.split("#")[0].strip() for line in first.body.splitlines()]
    assert commands == ["make demo", "make test"]
    assert text.index("```") > text.index("## Quick start")  # nothing runnable before it


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
    section = README.read_text().split("## Install", 1)[1].split("\n## ", 1)[0]
    assert "`[agents]`" in section and "`[sqlite]`" in section


@pytest.mark.parametrize("block", PYTHON, ids=[b.id for b in PYTHON])
def test_offline_model_only(block: Block) -> None:
    """Blocks run with no API key: agents get the scripted model, real ones live in comments."""
    code_lines = [line.split("#", 1)[0] for line in block.body.splitlines()]
    code = "\n".join(code_lines)
    assert "init_chat_model" not in code
    assert not re.search(r"[\"'](openai|anthropic|google_genai):", code)
    if "create_agent(" in code or "StateGraph(" in code:
        assert "ScriptedReminderModel()" in code


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


@pytest.mark.parametrize("block", PYTHON, ids=[b.id for b in PYTHON])
def test_python_block_runs(
    block: Block, emulator: ScalekitEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCALEKIT_ENV_URL", emulator.env_url)
    monkeypatch.setenv("SCALEKIT_CLIENT_ID", emulator.client_id)
    monkeypatch.setenv("SCALEKIT_CLIENT_SECRET", emulator.client_secret)
    user = _User(emulator)
    monkeypatch.setattr(sys, "stdout", user)
    try:
        ran = _run(block, {"__name__": f"readme_block_{block.line}"})
    finally:
        monkeypatch.undo()
        user.close()
    printed = user.text
    body = block.body
    if block.source is not None:
        # An excerpt of an example defines what the example runs (its own tests run it): here
        # it must only execute; test_excerpts_are_the_examples_code checks it is that code.
        assert ran == []
        return
    if "ScriptedReminderModel()" in body:  # an agent: it really booked the reminder
        assert EVENT_LINE in printed or "Event created: Reminder" in printed, printed[-2000:]
    if "resume_authorization(result)" in body:  # it paused, showed links, and resumed
        assert user.opened, printed[-2000:]
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


def test_python_blocks_run_in_order_against_one_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader runs the blocks one after the other against one environment: their config
    names do not collide (or they share a config with the same mappings), so none meets a
    ``ConfigDriftError`` left by another."""
    with ScalekitEmulator() as emulator:
        monkeypatch.setenv("SCALEKIT_ENV_URL", emulator.env_url)
        monkeypatch.setenv("SCALEKIT_CLIENT_ID", emulator.client_id)
        monkeypatch.setenv("SCALEKIT_CLIENT_SECRET", emulator.client_secret)
        user = _User(emulator)
        monkeypatch.setattr(sys, "stdout", user)
        try:
            for block in PYTHON:
                _run(block, {"__name__": f"readme_in_order_{block.line}"})
        finally:
            monkeypatch.undo()
            user.close()
