"""Health-check vocabulary: levels, recommended actions and structured results.

Mirrors UnifiedPOS ``checkHealth`` levels and the CEN/XFS recommended-action set
(specs/hardware-protocols.md §4.1-§4.3).  A :class:`HealthResult` is plain data that
serialises to a dict for diagnostics; backends must never put personal data in it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = ["HealthLevel", "HealthResult", "HealthStep", "RecommendedAction"]


class HealthLevel(enum.IntEnum):
    """How thorough a health check is (UPOS CH_INTERNAL / CH_EXTERNAL / CH_INTERACTIVE)."""

    INTERNAL = 1
    """No physical change to the device (status queries only)."""
    EXTERNAL = 2
    """A thorough test that may exercise the device (read a test card, print a pattern)."""
    INTERACTIVE = 3
    """A guided test that needs a person (place a card, place a finger)."""


class RecommendedAction(enum.Enum):
    """What is likely to fix a problem (XFS WFS_ERR_ACT_* set)."""

    NONE = "none"
    RESET = "reset"
    SOFTWARE = "software"
    CONFIG = "config"
    CLEAR_HW = "clear_hw"
    MAINTENANCE = "maintenance"
    SUSPENDED = "suspended"


@dataclass(frozen=True, slots=True)
class HealthStep:
    """One step of a health check: a short name, pass/fail and a non-personal detail."""

    name: str
    ok: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Serialise to a JSON-ready dict."""
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class HealthResult:
    """The outcome of ``Device.check_health``: the UPOS CheckHealthText plus structure."""

    ok: bool
    text: str
    level: HealthLevel
    steps: tuple[HealthStep, ...] = field(default_factory=tuple)
    recommended_action: RecommendedAction = RecommendedAction.NONE

    @classmethod
    def from_steps(
        cls,
        level: HealthLevel,
        steps: list[HealthStep],
        *,
        failure_action: RecommendedAction = RecommendedAction.RESET,
    ) -> HealthResult:
        """Build a result that passes when every step passed."""
        ok = all(step.ok for step in steps)
        failed = [step.name for step in steps if not step.ok]
        text = "OK" if ok else "failed: " + ", ".join(failed)
        action = RecommendedAction.NONE if ok else failure_action
        return cls(ok=ok, text=text, level=level, steps=tuple(steps), recommended_action=action)

    def to_dict(self) -> dict[str, Any]:
        """Serialise to a JSON-ready dict (no personal data by construction)."""
        return {
            "ok": self.ok,
            "text": self.text,
            "level": self.level.name.lower(),
            "recommended_action": self.recommended_action.value,
            "steps": [step.to_dict() for step in self.steps],
        }
