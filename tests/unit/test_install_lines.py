"""Every README line that installs the package is proven by ``.ci/install_lines.py``.

The proof itself (a fresh virtualenv per line, the demo, the examples, the README's blocks) takes
minutes and runs in ``.ci/run``; this fast check keeps its list of lines and the README in step,
and the extras it relies on in ``pyproject.toml``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("install_lines", ROOT / ".ci" / "install_lines.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # its dataclasses look their module up there
    spec.loader.exec_module(sys.modules[spec.name])
    return sys.modules[spec.name]


def test_every_readme_install_line_has_checks_and_every_check_a_line() -> None:
    script = _script()
    lines = script.readme_lines((ROOT / "README.md").read_text())
    assert sorted(lines) == sorted(script.LINES)
    assert len(lines) == 8


def test_both_stack_lines_run_the_demo_the_examples_and_the_readme() -> None:
    script = _script()
    for line in ("pip install scalekit-langchain 'langchain[mcp]>=1.5'",
                 "pip install 'scalekit-langchain[adapters]'"):
        names = [check.__name__ for check in script.LINES[line]]
        assert {"demo", "examples", "readme_blocks", "import_star"} <= set(names), line


def test_readme_lines_ignore_other_packages_and_clones() -> None:
    script = _script()
    text = "\n".join([
        "pip install langchain-openai",
        "`pip install -e '.[test]' 'langchain[mcp]>=1.5'`",
        "pip install 'scalekit-langchain[agents]'   # comment",
        "x `pip install scalekit-langchain` y",
    ])
    assert script.readme_lines(text) == [
        "pip install 'scalekit-langchain[agents]'",
        "pip install scalekit-langchain",
    ]


def test_the_wheel_replaces_the_package_name_only() -> None:
    script = _script()
    wheel = Path("/w/scalekit_langchain-0.1.0-py3-none-any.whl")
    assert script.for_wheel("pip install 'scalekit-langchain[adapters]'", wheel) == [f"{wheel}[adapters]"]
    assert script.for_wheel("pip install scalekit-langchain 'langchain[mcp]>=1.5'", wheel) == [
        str(wheel), "langchain[mcp]>=1.5",
    ]


@pytest.mark.parametrize("extra", ["adapters", "agents", "notebook"])
def test_extras_that_run_an_agent_bring_langchain(extra: str) -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(req.startswith("langchain>=1.5") for req in project["optional-dependencies"][extra])
