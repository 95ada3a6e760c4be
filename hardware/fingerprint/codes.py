"""Confirmation codes of R30x/AS608 modules mapped to meanings and errors (spec §2.3)."""

from __future__ import annotations

from dataclasses import dataclass

from hardware.errors import HardwareError
from hardware.fingerprint.errors import (
    AddressMismatch,
    EnrollMismatch,
    FingerNotDetected,
    FingerprintStatusError,
    FingerUserError,
    PoorImage,
    WrongPassword,
)

__all__ = ["CONFIRMATION_TABLE", "NOT_FOUND", "NO_FINGER", "NO_MATCH", "OK", "CodeInfo", "error_for_code"]

OK = 0x00
NO_FINGER = 0x02
NO_MATCH = 0x08
NOT_FOUND = 0x09


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """Meaning of a confirmation code and the exception it raises when it is a failure."""

    meaning: str
    error: type[FingerprintStatusError] | type[FingerUserError]


CONFIRMATION_TABLE: dict[int, CodeInfo] = {
    0x01: CodeInfo("packet receive error", FingerprintStatusError),
    0x02: CodeInfo("no finger on sensor", FingerNotDetected),
    0x03: CodeInfo("image capture failed", PoorImage),
    0x04: CodeInfo("image too dry/faint", PoorImage),
    0x05: CodeInfo("image too wet/smudged", PoorImage),
    0x06: CodeInfo("image too messy", PoorImage),
    0x07: CodeInfo("too few feature points", PoorImage),
    0x08: CodeInfo("no match", FingerprintStatusError),
    0x09: CodeInfo("not found in library", FingerprintStatusError),
    0x0A: CodeInfo("feature merge failed", EnrollMismatch),
    0x0B: CodeInfo("page address out of range", FingerprintStatusError),
    0x0C: CodeInfo("template read error or invalid", FingerprintStatusError),
    0x0D: CodeInfo("upload feature failed", FingerprintStatusError),
    0x0E: CodeInfo("cannot receive follow-up packets", FingerprintStatusError),
    0x0F: CodeInfo("upload image failed", FingerprintStatusError),
    0x10: CodeInfo("delete failed", FingerprintStatusError),
    0x11: CodeInfo("clear library failed", FingerprintStatusError),
    0x12: CodeInfo("cannot enter low power", FingerprintStatusError),
    0x13: CodeInfo("wrong password", WrongPassword),
    0x14: CodeInfo("reset failed", FingerprintStatusError),
    0x15: CodeInfo("no valid image in buffer", PoorImage),
    0x16: CodeInfo("upgrade failed", FingerprintStatusError),
    0x17: CodeInfo("residual finger or no movement", PoorImage),
    0x18: CodeInfo("flash read/write error", FingerprintStatusError),
    0x19: CodeInfo("undefined error", FingerprintStatusError),
    0x1A: CodeInfo("invalid register number", FingerprintStatusError),
    0x1B: CodeInfo("register content error", FingerprintStatusError),
    0x1C: CodeInfo("notepad page number error", FingerprintStatusError),
    0x1D: CodeInfo("port operation failed", FingerprintStatusError),
    0x1E: CodeInfo("auto-enroll failed", FingerprintStatusError),
    0x1F: CodeInfo("library full", FingerprintStatusError),
    0x20: CodeInfo("address code error", AddressMismatch),
    0x21: CodeInfo("password must be verified", WrongPassword),
}
"""Confirmation code → meaning and exception (libdriver ``as608_status_t``)."""


def error_for_code(code: int, instruction: str) -> HardwareError:
    """The exception for failure ``code`` in reply to ``instruction``."""
    info = CONFIRMATION_TABLE.get(code, CodeInfo("unexpected confirmation code", FingerprintStatusError))
    message = f"{instruction}: code 0x{code:02X} ({info.meaning})"
    if issubclass(info.error, FingerprintStatusError):
        return info.error(message, status=code, meaning=info.meaning)
    return info.error(message, status=code)
