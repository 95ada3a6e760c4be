"""Exceptions raised by the hardware layer, split by who is at fault.

::

    HardwareError                      root of everything raised by ``hardware``
    ├── DeviceUsageError               our code misused the API (a bug or bad config)
    │   ├── NotOpen                    operation on a closed device        (UPOS E_CLOSED)
    │   ├── NotClaimed                 operation needs claim() first       (UPOS E_NOTCLAIMED)
    │   ├── Disabled                   operation needs enable() first      (UPOS E_DISABLED)
    │   ├── IllegalTransition          lifecycle event not allowed in this phase
    │   ├── UnsupportedOperation       health level / feature the device lacks (UPOS E_ILLEGAL)
    │   └── ConfigurationError         bad device URL, unknown backend, bad parameter
    ├── UserActionRequired             the person at the kiosk must act (no card, lift finger…)
    ├── Cancelled                      the caller cancelled a waiting operation (Device.cancel)
    └── DeviceFault                    the device or the link to it is at fault
        ├── ProtocolError              corrupt or unparseable frame
        │   └── LineNoise              only unframed bytes arrived (wrong baud rate?)
        ├── DeviceTimeout              no (complete) answer in time
        ├── NoHardware                 device absent / port cannot be opened
        ├── ConnectionLost             device vanished while in use (unplugged)
        └── DeviceStatusError          device answered with a failure status code

Device packages subclass these (e.g. ``hardware.idcard.errors``).  Exceptions carry
structured fields, never personal data; the message is for humans only.
"""

from __future__ import annotations

from typing import ClassVar

from hardware.health import RecommendedAction

__all__ = [
    "Cancelled",
    "ConfigurationError",
    "ConnectionLost",
    "DeviceFault",
    "DeviceStatusError",
    "DeviceTimeout",
    "DeviceUsageError",
    "Disabled",
    "HardwareError",
    "IllegalTransition",
    "LineNoise",
    "NoHardware",
    "NotClaimed",
    "NotOpen",
    "ProtocolError",
    "UnsupportedOperation",
    "UserActionRequired",
]


class HardwareError(Exception):
    """Root of every exception raised by the hardware layer.

    ``recommended_action`` follows the XFS action set and tells a technician (or the
    kiosk's recovery logic) what is likely to help.
    """

    recommended_action: ClassVar[RecommendedAction] = RecommendedAction.NONE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def code(self) -> str:
        """A stable, machine-readable name for the error (the class name)."""
        return type(self).__name__


class DeviceUsageError(HardwareError):
    """Our code used the API wrongly: wrong lifecycle phase, bad argument or config."""

    recommended_action = RecommendedAction.SOFTWARE


class NotOpen(DeviceUsageError):
    """The device is closed; call ``open()`` first."""


class NotClaimed(DeviceUsageError):
    """The device is open but not claimed; call ``claim()`` first."""


class Disabled(DeviceUsageError):
    """The device is claimed but not enabled; call ``enable()`` first."""


class IllegalTransition(DeviceUsageError):
    """A lifecycle event that the transition table does not allow in the current phase."""

    def __init__(self, phase: str, event: str) -> None:
        super().__init__(f"cannot {event} a device that is {phase}")
        self.phase = phase
        self.event = event


class UnsupportedOperation(DeviceUsageError):
    """The device (or backend) does not support the requested operation or level."""


class ConfigurationError(DeviceUsageError):
    """A device URL, backend name or parameter is invalid."""

    recommended_action = RecommendedAction.CONFIG


class UserActionRequired(HardwareError):
    """The person at the kiosk must do something (place/remove a card, place a finger…).

    ``prompt`` is a short machine name for the prompt the UI should show
    (e.g. ``"place_card"``, ``"remove_card"``, ``"place_finger"``).
    """

    def __init__(self, message: str, *, prompt: str) -> None:
        super().__init__(message)
        self.prompt = prompt


class Cancelled(HardwareError):
    """A waiting operation (for a card, a finger…) was cancelled with ``Device.cancel()``."""


class DeviceFault(HardwareError):
    """The device, or the link to it, is at fault.  Puts the device in the ERROR state."""

    recommended_action = RecommendedAction.RESET


class ProtocolError(DeviceFault):
    """A frame could not be parsed: bad preamble, length, checksum or field.

    ``reason`` is a short machine name (``"checksum"``, ``"length"``, ``"truncated"``…).
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class LineNoise(ProtocolError):
    """Bytes arrived but never formed a frame: usually a baud-rate mismatch."""

    recommended_action = RecommendedAction.CONFIG

    def __init__(self, message: str, *, discarded: int) -> None:
        super().__init__(message, reason="noise")
        self.discarded = discarded


class DeviceTimeout(DeviceFault):
    """The device did not answer (completely) within ``timeout`` seconds."""

    def __init__(self, message: str, *, timeout: float, received: int = 0) -> None:
        super().__init__(message)
        self.timeout = timeout
        self.received = received


class NoHardware(DeviceFault):
    """The device is not present: the port cannot be opened or nothing answers."""

    recommended_action = RecommendedAction.MAINTENANCE


class ConnectionLost(DeviceFault):
    """The device went away while in use (unplugged, I/O error on the port)."""

    recommended_action = RecommendedAction.MAINTENANCE


class DeviceStatusError(DeviceFault):
    """The device answered with a failure status code.

    ``status`` is the numeric code as the device sent it and ``meaning`` its
    description from the device's status table.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        meaning: str,
        action: RecommendedAction = RecommendedAction.RESET,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.meaning = meaning
        self.action = action
