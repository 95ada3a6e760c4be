"""Errors of the ticket printer, under the hardware exception tree (``hardware.errors``).

::

    DeviceStatusError (hardware.errors)     the printer reported a failure status (DLE EOT)
    ├── PaperOut                            paper roll empty: staff must load paper
    ├── CoverOpen                           cover open: staff must close it
    ├── PrinterOffline                      printer offline for another reason
    └── CutterError                         auto-cutter or unrecoverable mechanism error
    ProtocolError (hardware.errors)
    └── EscPosParseError                    an ESC/POS byte stream that cannot be parsed

Each carries the raw status byte (``status``) and its meaning; none carries ticket content.
"""

from __future__ import annotations

from hardware.errors import DeviceStatusError, ProtocolError
from hardware.health import RecommendedAction

__all__ = ["CoverOpen", "CutterError", "EscPosParseError", "PaperOut", "PrinterOffline"]


class PaperOut(DeviceStatusError):
    """The paper roll is empty (DLE EOT 4 bits 5-6); nothing was printed."""

    recommended_action = RecommendedAction.CLEAR_HW

    def __init__(self, status: int) -> None:
        super().__init__(
            "printer is out of paper", status=status, meaning="paper_out", action=self.recommended_action
        )


class CoverOpen(DeviceStatusError):
    """The printer cover is open (DLE EOT 2 bit 2)."""

    recommended_action = RecommendedAction.CLEAR_HW

    def __init__(self, status: int) -> None:
        super().__init__(
            "printer cover is open", status=status, meaning="cover_open", action=self.recommended_action
        )


class PrinterOffline(DeviceStatusError):
    """The printer reports itself offline (DLE EOT 1 bit 3) with no more specific cause."""

    recommended_action = RecommendedAction.RESET

    def __init__(self, status: int) -> None:
        super().__init__(
            "printer is offline", status=status, meaning="offline", action=self.recommended_action
        )


class CutterError(DeviceStatusError):
    """Auto-cutter or unrecoverable error (DLE EOT 3 bits 3/5): a technician is needed."""

    recommended_action = RecommendedAction.MAINTENANCE

    def __init__(self, status: int) -> None:
        super().__init__(
            "printer mechanism error (cutter)",
            status=status,
            meaning="cutter_error",
            action=self.recommended_action,
        )


class EscPosParseError(ProtocolError):
    """An ESC/POS stream is truncated or holds a command outside the supported subset.

    ``offset`` is the byte position of the command that failed.
    """

    def __init__(self, message: str, *, reason: str, offset: int) -> None:
        super().__init__(message, reason=reason)
        self.offset = offset
