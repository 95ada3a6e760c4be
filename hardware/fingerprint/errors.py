"""Errors specific to fingerprint modules, added to the tree in ``hardware.errors``.

::

    DeviceStatusError
    └── FingerprintStatusError     the module reported a failure confirmation code
        ├── WrongPassword          0x13 / 0x21: password wrong or not verified (CONFIG)
        └── AddressMismatch        0x20: module address differs (CONFIG)
    UserActionRequired
    └── FingerUserError            the resident must do something with the finger
        ├── FingerNotDetected      0x02 until the timeout       prompt place_finger
        ├── PoorImage              0x03-0x07, 0x15: retry       prompt retry_finger
        ├── FingerNotLifted        finger still down when a new capture is needed  prompt lift_finger
        └── EnrollMismatch         0x0A: the two captures differ prompt retry_enroll
"""

from __future__ import annotations

from hardware.errors import DeviceStatusError, UserActionRequired
from hardware.health import RecommendedAction

__all__ = [
    "AddressMismatch",
    "EnrollMismatch",
    "FingerNotDetected",
    "FingerNotLifted",
    "FingerUserError",
    "FingerprintStatusError",
    "PoorImage",
    "WrongPassword",
]


class FingerprintStatusError(DeviceStatusError):
    """The module answered with a failure confirmation code."""


class WrongPassword(FingerprintStatusError):
    """The module password is wrong or was not verified."""

    recommended_action = RecommendedAction.CONFIG


class AddressMismatch(FingerprintStatusError):
    """The module's address is not the configured one."""

    recommended_action = RecommendedAction.CONFIG


class FingerUserError(UserActionRequired):
    """A finger condition the resident can fix; ``status`` is the confirmation code."""

    default_prompt = "place_finger"

    def __init__(self, message: str, *, status: int = 0, prompt: str | None = None) -> None:
        super().__init__(message, prompt=prompt or self.default_prompt)
        self.status = status


class FingerNotDetected(FingerUserError):
    """No finger was placed before the timeout."""

    default_prompt = "place_finger"


class PoorImage(FingerUserError):
    """The image was too dry, wet, messy or had too few features."""

    default_prompt = "retry_finger"


class FingerNotLifted(FingerUserError):
    """The finger stayed on the sensor when a fresh capture was needed."""

    default_prompt = "lift_finger"


class EnrollMismatch(FingerUserError):
    """The two enrolment captures are not the same finger."""

    default_prompt = "retry_enroll"
