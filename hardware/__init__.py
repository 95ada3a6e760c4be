"""Device layer of doorstep: device model, drivers, simulators and diagnostics.

Nothing here imports the rest of the project.  Start from :func:`open_device`::

    from hardware import open_device_as
    from hardware.idcard import IdCardReader

    with open_device_as(IdCardReader, "sim://idcard?card=resident-male") as reader:
        card = reader.read_card()

Sub-packages: ``hardware.idcard`` (SAM ID-card readers), ``hardware.fingerprint``
(R30x/AS608 modules), ``hardware.camera``, ``hardware.printer``, ``hardware.diag``.
"""

from hardware.clock import Clock, FakeClock, RealClock
from hardware.device import (
    DEVICE_KINDS,
    Availability,
    DataEvent,
    Device,
    DeviceEvent,
    DevicePhase,
    DeviceState,
    DeviceStatus,
    ErrorOccurred,
    StateChanged,
    StatusChanged,
)
from hardware.errors import (
    Cancelled,
    ConfigurationError,
    ConnectionLost,
    DeviceFault,
    DeviceStatusError,
    DeviceTimeout,
    DeviceUsageError,
    Disabled,
    HardwareError,
    IllegalTransition,
    LineNoise,
    NoHardware,
    NotClaimed,
    NotOpen,
    ProtocolError,
    UnsupportedOperation,
    UserActionRequired,
)
from hardware.health import HealthLevel, HealthResult, HealthStep, RecommendedAction
from hardware.registry import BACKENDS, open_device, open_device_as, parse_device_url
from hardware.stats import Statistics

__all__ = [
    "BACKENDS",
    "DEVICE_KINDS",
    "Availability",
    "Cancelled",
    "Clock",
    "ConfigurationError",
    "ConnectionLost",
    "DataEvent",
    "Device",
    "DeviceEvent",
    "DeviceFault",
    "DevicePhase",
    "DeviceState",
    "DeviceStatus",
    "DeviceStatusError",
    "DeviceTimeout",
    "DeviceUsageError",
    "Disabled",
    "ErrorOccurred",
    "FakeClock",
    "HardwareError",
    "HealthLevel",
    "HealthResult",
    "HealthStep",
    "IllegalTransition",
    "LineNoise",
    "NoHardware",
    "NotClaimed",
    "NotOpen",
    "ProtocolError",
    "RealClock",
    "RecommendedAction",
    "StateChanged",
    "Statistics",
    "StatusChanged",
    "UnsupportedOperation",
    "UserActionRequired",
    "open_device",
    "open_device_as",
    "parse_device_url",
]
