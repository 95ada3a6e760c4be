"""The package dependency graph of DESIGN.md, checked on the source: nothing imports what it may not.

``doorstep`` is the composition root (the ``doorstep`` command and the demo launcher): it may import
every package and nothing imports it. Nothing imports ``tests`` or ``bench``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OURS = {"office", "signaling", "agent_console", "kiosk", "hardware", "doorstep", "tests", "bench"}
ALLOWED: dict[str, set[str]] = {
    "hardware": set(),
    "signaling": set(),
    "agent_console": {"signaling"},
    "office": {"signaling", "agent_console"},
    "kiosk": {"hardware", "signaling"},
    "doorstep": {"office", "signaling", "agent_console", "kiosk", "hardware"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & OURS


def _graph() -> dict[str, dict[str, set[str]]]:
    graph: dict[str, dict[str, set[str]]] = {}
    for package in ALLOWED:
        for path in sorted((ROOT / package).rglob("*.py")):
            deps = _imports(path) - {package}
            if deps:
                graph.setdefault(package, {})[str(path.relative_to(ROOT))] = deps
    return graph


def test_packages_import_only_what_design_allows() -> None:
    """Every module's imports of our packages follow the arrows in DESIGN.md."""
    violations = [
        f"{module} imports {sorted(deps - ALLOWED[package])}"
        for package, modules in _graph().items()
        for module, deps in modules.items()
        if deps - ALLOWED[package]
    ]
    assert not violations, "\n".join(violations)


def test_the_allowed_graph_is_acyclic() -> None:
    """The allowed arrows themselves form no cycle."""
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(node: str) -> None:
        assert node not in visiting, f"cycle through {node}"
        if node in done:
            return
        visiting.add(node)
        for dep in ALLOWED[node]:
            visit(dep)
        visiting.discard(node)
        done.add(node)

    for package in ALLOWED:
        visit(package)


def test_the_checker_sees_real_imports() -> None:
    """The office really imports agent_console (mounting its pages), so the scan is not vacuous."""
    assert "agent_console" in set().union(*_graph()["office"].values())


def _wait_for_calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "wait_for"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "asyncio"
    ]


def test_no_asyncio_wait_for_in_the_product() -> None:
    """``asyncio.timeout`` only: Python 3.11's ``wait_for`` loses a cancellation that arrives as its
    awaitable finishes, so an enclosing timeout never fires and a bounded wait in a loop becomes a
    hang (a CI run hung 300 s in a test whose every wait was bounded)."""
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for package in ALLOWED
        for path in sorted((ROOT / package).rglob("*.py"))
        for line in _wait_for_calls(path)
    ]
    assert not found, "\n".join(found)
    assert _wait_for_calls(ROOT / "tests" / "office" / "test_queue_batching.py"), "the scan sees calls"
