"""Errors of the cameras, under the hardware exception tree (``hardware.errors``).

::

    UserActionRequired (hardware.errors)
    └── PoorImage            the still is blurred / has glare / is cut off / has no page:
                             the resident must adjust the document (``problems`` says how)

Absent or unplugged cameras raise ``NoHardware`` / ``ConnectionLost`` and slow ones
``DeviceTimeout`` from ``hardware.errors`` directly.
"""

from __future__ import annotations

from hardware.camera.pipeline import QualityProblem
from hardware.errors import UserActionRequired

__all__ = ["PoorImage"]


class PoorImage(UserActionRequired):
    """A document still failed the quality checks; ``problems`` lists why, most important first."""

    def __init__(self, problems: tuple[QualityProblem, ...]) -> None:
        names = ", ".join(p.value for p in problems)
        super().__init__(f"document image not usable: {names}", prompt=f"document_{problems[0].value}")
        self.problems = problems

    def hint(self, locale: str = "zh-CN") -> str:
        """The resident-facing hint for the first problem."""
        return self.problems[0].hint(locale)
