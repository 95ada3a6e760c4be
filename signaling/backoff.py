"""Capped exponential backoff with jitter, as a pure generator of delays."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator

__all__ = ["Backoff"]


@dataclasses.dataclass(frozen=True)
class Backoff:
    """Delays ``initial, initial*factor, …`` capped at ``maximum``, each shortened by a random
    fraction of up to ``jitter`` so that many kiosks do not reconnect in lockstep.

    With the defaults the delays fall in [0.1, 0.2], [0.2, 0.4], [0.4, 0.8], [0.8, 1.6] and then
    stay in [1.0, 2.0] seconds.
    """

    initial: float = 0.2
    maximum: float = 2.0
    factor: float = 2.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.maximum:
            raise ValueError("need 0 < initial <= maximum")
        if self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError("need factor >= 1 and 0 <= jitter < 1")

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """An endless iterator of delays; ``rng`` makes the jitter reproducible in tests."""
        rng = rng or random.Random()
        base = self.initial
        while True:
            yield base * (1 - self.jitter * rng.random())
            base = min(self.maximum, base * self.factor)
