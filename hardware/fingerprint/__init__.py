"""UART fingerprint modules (R305/R307/R503/AS608, "GROW" protocol, spec §2).

Public surface: the :class:`FingerprintScanner` device class, its results and
errors.  The packet codec lives in ``hardware.fingerprint.packets``, the driver in
``hardware.fingerprint.driver`` and the simulator in ``hardware.fingerprint.sim``.
USB sensors supported by libfprint use the fprintd (D-Bus) backend in
``hardware.fingerprint.fprintd`` (``fprintd://system?user=…``).
"""

from hardware.fingerprint.errors import (
    AddressMismatch,
    EnrollMismatch,
    FingerNotDetected,
    FingerNotLifted,
    FingerprintStatusError,
    FingerUserError,
    PoorImage,
    WrongPassword,
)
from hardware.fingerprint.params import MatchResult, SearchResult, SystemParameters
from hardware.fingerprint.scanner import FingerprintScanner

__all__ = [
    "AddressMismatch",
    "EnrollMismatch",
    "FingerNotDetected",
    "FingerNotLifted",
    "FingerUserError",
    "FingerprintScanner",
    "FingerprintStatusError",
    "MatchResult",
    "PoorImage",
    "SearchResult",
    "SystemParameters",
    "WrongPassword",
]
