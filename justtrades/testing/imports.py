"""The project's import graph, read from its source: which of its modules each one imports
(imports inside functions counted on request), and the first cycle in such a graph."""

from __future__ import annotations

import ast
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
PACKAGES = (
    "accounts",
    "strategies",
    "recorder",
    "traders",
    "notifications",
    "analytics",
    "justtrades",
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if {"migrations", "tests"} & set(path.parts):
                continue
            found[_module_name(path)] = path
    return found


def _imports(path: Path, known: dict[str, Path], *, in_functions: bool) -> set[str]:
    """Project modules ``path`` imports (an AppConfig's ``ready`` is Django's own hook for
    wiring apps together, so its imports are left out)."""
    tree = ast.parse(path.read_text())
    nodes = list(ast.walk(tree)) if in_functions else tree.body
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "ready":
            skip |= {id(n) for n in ast.walk(node)}
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for n in ast.walk(node)}  # never imported at run time
    out = set()
    for node in nodes:
        if id(node) in skip:
            continue
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        out |= {n for n in names if n in known}
    return out


def import_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep) :] + [dep]
            if dep not in state and (found := visit(dep)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def import_graph(*, in_functions: bool) -> dict[str, set[str]]:
    known = _modules()
    return {
        name: _imports(path, known, in_functions=in_functions) - {name}
        for name, path in known.items()
    }
