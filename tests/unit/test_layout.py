"""The package's layout rules, checked on its source (no imports run).

* **Privacy:** a module users import has a plain name; every other module (or package) starts
  with ``_``, and so is internal with everything inside it. Inside any module, a name with a
  leading underscore is touched by that module only (and, for attributes, by its class and
  subclasses through ``self``): no other module imports it or reads it off a module.
* **Size:** no module over 600 lines.
* **Direction:** no import circle in the package or in the benchmarks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "scalekit_langchain"

#: The modules users import (README, examples, ``__all__`` homes, entry points).
PUBLIC = {
    "scalekit_langchain",
    "scalekit_langchain.cli",
    "scalekit_langchain.client",
    "scalekit_langchain.doctor",
    "scalekit_langchain.errors",
    "scalekit_langchain.langgraph",
    "scalekit_langchain.middleware",
    "scalekit_langchain.models",
    "scalekit_langchain.testing",
    "scalekit_langchain.testing.emulator",
    "scalekit_langchain.testing.scripted",
    "scalekit_langchain.toolkit",
    "scalekit_langchain.tools",
    "scalekit_langchain.web",
    "scalekit_langchain.webhooks",
}


def _modules(root: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules(PACKAGE)


def _is_internal(name: str) -> bool:
    return any(part.startswith("_") for part in name.split(".")[1:])


def test_every_module_is_public_by_list_or_internal_by_name() -> None:
    misnamed = sorted(n for n in MODULES if n not in PUBLIC and not _is_internal(n))
    assert misnamed == [], "internal modules start with '_' (or join PUBLIC with a reason)"
    assert sorted(n for n in PUBLIC if n not in MODULES) == []


def _imports(path: Path, module: str) -> list[tuple[int, str, str | None]]:
    """(line, imported module, imported name or None) for every import in ``path``."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: list[tuple[int, str, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            out += [(node.lineno, base, alias.name) for alias in node.names]
    return out


def test_no_module_imports_another_modules_private_names() -> None:
    offences = []
    for module, path in {**MODULES, **_modules(ROOT / "benchmarks")}.items():
        for line, source, name in _imports(path, module):
            if name is None or not name.startswith("_") or name.startswith("__"):
                continue
            if f"{source}.{name}" in MODULES or (ROOT / "benchmarks" / f"{name}.py").exists():
                continue  # importing an internal module is how internal modules meet
            offences.append(f"{path.relative_to(ROOT)}:{line}: from {source} import {name}")
    assert offences == []


def test_no_module_reads_private_names_off_another_module() -> None:
    offences = []
    for module, path in MODULES.items():
        imported = {
            (name or source).rpartition(".")[2]
            for _, source, name in _imports(path, module)
            if f"{source}.{name}" in MODULES or (name is None and source in MODULES)
        }
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in imported
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                offences.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value.id}.{node.attr}")
    assert offences == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_over_600_lines(module: str) -> None:
    assert len(MODULES[module].read_text().splitlines()) <= 600


def _circles(modules: dict[str, Path]) -> list[list[str]]:
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for module, path in modules.items():
        for _, source, name in _imports(path, module):
            for target in (f"{source}.{name}", source):
                if target in modules and target != module:
                    # A module importing its own package's __init__ (for what it re-exports)
                    # is not an arrow up: __init__ is the package's face, not a room.
                    if not module.startswith(target + "."):
                        graph[module].add(target)
                    break
    # Tarjan's strongly connected components.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("root", ["scalekit_langchain", "benchmarks"])
def test_no_import_circle(root: str) -> None:
    assert _circles(_modules(ROOT / root)) == []
