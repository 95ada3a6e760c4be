"""DLE EOT real-time status bytes of ESC/POS printers: parse and build, table-driven.

``DLE EOT n`` (``10 04 n``) asks for one status byte; every valid answer has bits 7 and 0
clear and bits 4 and 1 set (pattern ``0xx1xx10``, hardware-protocols §5.1). The four
requests and the bits we read:

=====  ==========================  ==============================================
 n      request                     bits
=====  ==========================  ==============================================
 1      printer status              3 offline, 5 waiting for recovery, 6 feed button
 2      offline cause               2 cover open, 3 paper fed by button,
                                    5 stopped by paper end, 6 error
 3      error cause                 3 auto-cutter error, 5 unrecoverable, 6 auto-recoverable
 4      paper roll sensor           2+3 paper near end, 5+6 paper end
=====  ==========================  ==============================================

Reference answers: ``0x12`` online / paper OK, ``0x1A`` offline, ``0x1E`` paper near end,
``0x72`` paper out. :func:`parse_status_byte` turns a byte into flags and :func:`status_byte`
builds one from flags (the simulator answers with it); :class:`PrinterStatus` combines them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from hardware.errors import ProtocolError

__all__ = [
    "REQUESTS",
    "PaperState",
    "PrinterStatus",
    "parse_status_byte",
    "request",
    "status_byte",
]

_FIXED_MASK = 0b1001_0011
_FIXED_VALUE = 0b0001_0010

REQUESTS: Mapping[int, str] = {1: "printer", 2: "offline_cause", 3: "error_cause", 4: "paper_sensor"}
"""DLE EOT ``n`` → what the answer describes."""

# n -> ((flag name, bit mask), ...); a flag is set when every bit of its mask is set.
_BITS: Mapping[int, tuple[tuple[str, int], ...]] = {
    1: (("offline", 0x08), ("waiting_recovery", 0x20), ("feed_button", 0x40)),
    2: (("cover_open", 0x04), ("feeding_by_button", 0x08), ("paper_end_stop", 0x20), ("error", 0x40)),
    3: (("cutter_error", 0x08), ("unrecoverable_error", 0x20), ("auto_recoverable_error", 0x40)),
    4: (("paper_near_end", 0x0C), ("paper_out", 0x60)),
}


def request(n: int) -> bytes:
    """The ``DLE EOT n`` request bytes."""
    if n not in REQUESTS:
        raise ValueError(f"DLE EOT n must be one of {sorted(REQUESTS)}, got {n}")
    return bytes((0x10, 0x04, n))


def parse_status_byte(n: int, value: int) -> dict[str, bool]:
    """Decode the answer to ``DLE EOT n`` into named flags.

    Raises :class:`~hardware.errors.ProtocolError` (reason ``"status_pattern"``) when the byte
    does not carry the fixed ``0xx1xx10`` pattern, which is how a garbled line shows up.
    """
    if n not in _BITS:
        raise ValueError(f"DLE EOT n must be one of {sorted(_BITS)}, got {n}")
    if not 0 <= value <= 0xFF:
        raise ProtocolError(f"status value {value} is not a byte", reason="status_range")
    if value & _FIXED_MASK != _FIXED_VALUE:
        raise ProtocolError(f"status byte 0x{value:02X} lacks the fixed bit pattern", reason="status_pattern")
    return {name: value & mask == mask for name, mask in _BITS[n]}


def status_byte(n: int, **flags: bool) -> int:
    """Build the answer to ``DLE EOT n`` from named flags (the inverse of :func:`parse_status_byte`)."""
    if n not in _BITS:
        raise ValueError(f"DLE EOT n must be one of {sorted(_BITS)}, got {n}")
    known = dict(_BITS[n])
    unknown = set(flags) - set(known)
    if unknown:
        raise ValueError(f"unknown flags for DLE EOT {n}: {sorted(unknown)}")
    value = _FIXED_VALUE
    for name, on in flags.items():
        if on:
            value |= known[name]
    return value


class PaperState(enum.Enum):
    """Paper roll sensor reading."""

    OK = "ok"
    NEAR_END = "near_end"
    OUT = "out"


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """The printer's condition assembled from the answers to DLE EOT 1, 2, 3 and 4."""

    online: bool
    paper: PaperState
    cover_open: bool = False
    cutter_error: bool = False
    unrecoverable_error: bool = False
    auto_recoverable_error: bool = False
    raw: tuple[tuple[int, int], ...] = ()

    @property
    def can_print(self) -> bool:
        """Whether a job sent now would print."""
        return (
            self.online
            and self.paper is not PaperState.OUT
            and not self.cover_open
            and not self.cutter_error
            and not self.unrecoverable_error
        )

    @classmethod
    def from_bytes(cls, answers: Mapping[int, int]) -> PrinterStatus:
        """Combine raw answers ``{n: byte}``; requests that were not asked default to healthy."""
        flags: dict[str, bool] = {}
        for n in sorted(answers):
            flags.update(parse_status_byte(n, answers[n]))
        if flags.get("paper_out"):
            paper = PaperState.OUT
        elif flags.get("paper_near_end"):
            paper = PaperState.NEAR_END
        else:
            paper = PaperState.OK
        return cls(
            online=not flags.get("offline", False),
            paper=paper,
            cover_open=flags.get("cover_open", False),
            cutter_error=flags.get("cutter_error", False),
            unrecoverable_error=flags.get("unrecoverable_error", False),
            auto_recoverable_error=flags.get("auto_recoverable_error", False),
            raw=tuple(sorted(answers.items())),
        )

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form for status details and diagnostics."""
        return {
            "online": self.online,
            "paper": self.paper.value,
            "cover_open": self.cover_open,
            "cutter_error": self.cutter_error,
            "unrecoverable_error": self.unrecoverable_error,
            "auto_recoverable_error": self.auto_recoverable_error,
        }
