"""The one time seam of the hardware layer: an injectable clock.

Drivers take a :class:`Clock` and use it for deadlines and polling waits, so tests
can pass a :class:`FakeClock` whose ``sleep`` returns at once and advances time.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FakeClock", "RealClock"]


@runtime_checkable
class Clock(Protocol):
    """Monotonic time source with a sleep."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin; never goes backwards."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a fake clock just advances)."""
        ...


class RealClock:
    """The system monotonic clock."""

    def monotonic(self) -> float:
        """Return :func:`time.monotonic`."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds``."""
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """A thread-safe clock for tests: ``sleep`` advances time instead of blocking."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []
        """Every duration passed to :meth:`sleep`, in order."""

    def monotonic(self) -> float:
        """Return the current fake time."""
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        """Advance the fake time by ``seconds`` without blocking."""
        with self._lock:
            self.sleeps.append(seconds)
            self._now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        with self._lock:
            self._now += max(0.0, seconds)
