"""Fixtures shared by the hardware tests (part A): fake clock, simulated readers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hardware.clock import FakeClock


@pytest.fixture
def fake_clock() -> FakeClock:
    """A clock whose sleep advances time instantly."""
    return FakeClock()


@pytest.fixture
def no_leaked_threads() -> Iterator[None]:
    """Fail when a test leaves a simulator thread running."""
    import threading

    before = {thread.ident for thread in threading.enumerate()}
    yield
    leaked = [t.name for t in threading.enumerate() if t.ident not in before and t.name.startswith("pty-")]
    assert not leaked, f"simulator threads left running: {leaked}"
