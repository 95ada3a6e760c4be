"""A thin, error-mapping wrapper over a pyserial-like port, shared by serial drivers.

Drivers are *given* a :class:`SerialPort` (usually ``serial.Serial`` over a real
device or a simulator's pseudo-terminal).  :class:`SerialLink` translates the
port's ``OSError``/``SerialException`` into :class:`~hardware.errors.ConnectionLost`
and short reads into :class:`~hardware.errors.DeviceTimeout`, in one place.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Protocol

import serial

from hardware.errors import ConnectionLost, DeviceTimeout, NoHardware

__all__ = ["PortFactory", "SerialLink", "SerialPort", "serial_port_factory"]

try:
    import termios

    _PORT_ERRORS: tuple[type[BaseException], ...] = (OSError, termios.error)
except ImportError:  # pragma: no cover - not POSIX
    _PORT_ERRORS = (OSError,)


class SerialPort(Protocol):
    """The subset of ``serial.Serial`` the drivers use."""

    @property
    def timeout(self) -> float | None:
        """Read timeout in seconds."""
        ...

    @timeout.setter
    def timeout(self, value: float | None) -> None: ...

    def read(self, size: int = 1) -> bytes:
        """Read up to ``size`` bytes, waiting at most ``timeout``."""
        ...

    def write(self, data: bytes, /) -> int | None:
        """Write ``data``."""
        ...

    def reset_input_buffer(self) -> None:
        """Drop pending input."""
        ...

    def close(self) -> None:
        """Close the port."""
        ...


PortFactory = Callable[[], SerialPort]
"""Opens and returns a port; raises :class:`~hardware.errors.NoHardware` when absent."""


def serial_port_factory(path: str, *, baudrate: int, timeout: float = 1.0) -> PortFactory:
    """A factory opening ``path`` (a device path or pyserial URL) at ``baudrate`` 8N1."""

    def open_port() -> SerialPort:
        try:
            port: SerialPort = serial.serial_for_url(path, baudrate=baudrate, timeout=timeout)
        except (OSError, ValueError) as err:
            raise NoHardware(f"cannot open serial port {path}: {type(err).__name__}") from err
        return port

    return open_port


class SerialLink:
    """Reads and writes with deadlines, mapping port errors to hardware errors."""

    def __init__(self, port: SerialPort) -> None:
        self._port = port
        self.bytes_read = 0
        self.bytes_written = 0

    def write(self, data: bytes) -> None:
        """Send ``data``; raise ConnectionLost when the port is gone."""
        try:
            self._port.write(data)
        except serial.SerialTimeoutException as err:
            raise DeviceTimeout("write timed out", timeout=0.0) from err
        except _PORT_ERRORS as err:
            raise ConnectionLost(f"write failed: {type(err).__name__}") from err
        self.bytes_written += len(data)

    def read(self, size: int, timeout: float) -> bytes:
        """Read up to ``size`` bytes within ``timeout`` seconds (may return fewer, even none)."""
        try:
            self._port.timeout = max(0.0, timeout)
            data = self._port.read(size)
        except _PORT_ERRORS as err:
            raise ConnectionLost(f"read failed: {type(err).__name__}") from err
        self.bytes_read += len(data)
        return data

    def discard_input(self) -> None:
        """Drop stale input (e.g. a late reply to a timed-out command)."""
        try:
            self._port.reset_input_buffer()
        except _PORT_ERRORS as err:
            raise ConnectionLost(f"flush failed: {type(err).__name__}") from err

    def close(self) -> None:
        """Close the port, ignoring errors from an already-dead device."""
        with contextlib.suppress(*_PORT_ERRORS):  # the device may be gone already
            self._port.close()
