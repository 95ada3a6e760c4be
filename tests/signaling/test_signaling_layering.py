"""Layering: signaling imports nothing of ours, and its protocol core does no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent.parent / "signaling"
CORE = ["errors", "messages", "connection", "relay", "backoff", "schema"]
OURS = {"office", "agent_console", "kiosk", "hardware", "doorstep"}
IO = {"asyncio", "socket", "websockets", "redis", "starlette", "fastapi", "selectors", "threading"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_signaling_imports_nothing_of_ours(path: Path) -> None:
    """No signaling module imports office, agent_console, kiosk, hardware or doorstep."""
    assert not _imports(path) & OURS


@pytest.mark.parametrize("name", CORE)
def test_protocol_core_does_no_io(name: str) -> None:
    """The pure core modules import no asyncio, sockets, websockets or redis."""
    assert not _imports(PACKAGE / f"{name}.py") & IO
