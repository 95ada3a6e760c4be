"""Run a simulator behind a real pseudo-terminal, so real serial drivers talk to it.

The simulator *core* is pure: it receives bytes and returns what to send back
(:class:`Reply` items with a delay and optional chunking, or :data:`HANGUP` to
mimic an unplugged device).  :class:`PtySimulator` owns the I/O: a pty pair and a
background thread that feeds the core and writes its replies.  The driver opens
:attr:`PtySimulator.port_name` with pyserial exactly as it would open
``/dev/ttyUSB0``.  ``stop()`` ends the thread and closes every descriptor.

:class:`PtyServedDevice` is the glue every serial simulator shares: mixed in before a real
serial driver, it starts the pty in ``open()``, points the driver's port factory at it, stops it in
``close()`` and offers ``unplug()``.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import tty
from dataclasses import dataclass
from typing import Final, Protocol

from hardware.device import Device
from hardware.errors import NoHardware
from hardware.serial_link import PortFactory, SerialPort, serial_port_factory

__all__ = [
    "HANGUP",
    "Hangup",
    "PtyServedDevice",
    "PtySimulator",
    "Reply",
    "SerialSimulatorCore",
    "SimulatorCore",
    "no_port",
]


@dataclass(frozen=True, slots=True)
class Reply:
    """Bytes the simulated device sends after ``delay`` seconds.

    ``chunk`` splits the write into pieces of that many bytes with ``gap`` seconds
    between them (USB packets, dribbling UARTs).
    """

    data: bytes
    delay: float = 0.0
    chunk: int | None = None
    gap: float = 0.0


class Hangup:
    """Marker: the device disappears (the pty master is closed)."""


HANGUP: Final = Hangup()


class SimulatorCore(Protocol):
    """A protocol-speaking simulator with no I/O of its own."""

    def receive(self, data: bytes) -> list[Reply | Hangup]:
        """Consume bytes from the host; return what to send back (possibly nothing)."""
        ...


class PtySimulator:
    """Serve a :class:`SimulatorCore` on a pseudo-terminal from a background thread."""

    def __init__(self, core: SimulatorCore, *, name: str = "sim") -> None:
        self._core = core
        self._name = name
        self._master: int | None = None
        self._slave: int | None = None
        self._wake_r: int | None = None
        self._wake_w: int | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._hangup_requested = threading.Event()
        self._hung_up = threading.Event()
        self._lock = threading.Lock()
        self.port_name = ""
        self.hung_up = False

    def start(self) -> str:
        """Create the pty and start serving; returns the port name for the driver."""
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.port_name = os.ttyname(self._slave)
        self._wake_r, self._wake_w = os.pipe()
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name=f"pty-{self._name}", daemon=True)
        self._thread.start()
        return self.port_name

    def stop(self) -> None:
        """Stop the thread and close every descriptor.  Safe to call twice."""
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        for attr in ("_master", "_slave", "_wake_r", "_wake_w"):
            self._close_fd(attr)

    def hang_up(self) -> None:
        """Make the device vanish: further driver I/O fails.

        The serving thread closes the pty itself (a descriptor closed under another
        thread's ``select`` could be reused by an unrelated file), so a call from
        elsewhere asks the thread and waits until it is done.
        """
        if threading.current_thread() is self._thread or self._thread is None:
            self._do_hang_up()
            return
        self._hangup_requested.set()
        self._wake()
        self._hung_up.wait(timeout=5.0)

    def _do_hang_up(self) -> None:
        with self._lock:
            self.hung_up = True
            self._close_fd("_master")
            self._close_fd("_slave")
        self._hung_up.set()

    def _wake(self) -> None:
        if self._wake_w is not None:
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"x")

    def _close_fd(self, attr: str) -> None:
        fd = getattr(self, attr)
        if fd is not None:
            setattr(self, attr, None)
            with contextlib.suppress(OSError):
                os.close(fd)

    def _serve(self) -> None:
        wake = self._wake_r
        if wake is None:
            return
        while not self._stop.is_set():
            master = self._master
            watched = [wake] if master is None else [master, wake]
            try:
                ready, _, _ = select.select(watched, [], [])
            except (OSError, ValueError):
                return
            if wake in ready:
                with contextlib.suppress(OSError):
                    os.read(wake, 64)
                if self._stop.is_set():
                    return
                if self._hangup_requested.is_set() and not self.hung_up:
                    self._do_hang_up()
                continue
            try:
                data = os.read(master, 4096) if master is not None else b""
            except OSError:
                data = b""
            if not data:
                # The slave side has no reader or the pty broke; wait to be woken.
                self._stop.wait(0.01)
                continue
            for item in self._core.receive(data):
                if isinstance(item, Hangup):
                    self._do_hang_up()
                    break
                if not self._send(item):
                    return

    def _send(self, reply: Reply) -> bool:
        if reply.delay > 0 and self._stop.wait(reply.delay):
            return False
        size = reply.chunk or len(reply.data) or 1
        for start in range(0, len(reply.data), size):
            if start and reply.gap > 0 and self._stop.wait(reply.gap):
                return False
            if not self._write_all(reply.data[start : start + size]):
                return False
        return True

    def _write_all(self, data: bytes) -> bool:
        """Write without ever blocking past ``stop()``; False when stopping."""
        view = memoryview(data)
        while view:
            master, wake = self._master, self._wake_r
            if master is None or wake is None:
                return True  # hung up: the bytes go nowhere, like on a dead line
            try:
                written = os.write(master, view)
            except BlockingIOError:
                try:
                    ready, _, _ = select.select([wake], [master], [])
                except (OSError, ValueError):
                    return False
                if wake in ready and self._stop.is_set():
                    return False
                continue
            except OSError:
                return True
            view = view[written:]
        return True


class SerialSimulatorCore(SimulatorCore, Protocol):
    """A simulator core that also says the baud rate its device runs at."""

    @property
    def baud(self) -> int: ...


def no_port() -> SerialPort:
    """Port factory of a simulated driver before ``open()`` starts its pty."""
    raise NoHardware("the simulator is not running")


class PtyServedDevice(Device):
    """Mixin (listed before the real driver class) that serves the driver from ``core`` over a pty.

    The driver keeps its own ``_open``/``_close``; this wraps them: the pty starts before the
    driver opens its port and stops after the driver closed it (or when opening fails).
    """

    core: SerialSimulatorCore
    _port_factory: PortFactory
    _pty: PtySimulator | None = None

    def _open(self) -> None:
        pty = PtySimulator(self.core, name=self.name)
        path = pty.start()
        self._pty = pty
        self._port_factory = serial_port_factory(path, baudrate=self.core.baud)
        try:
            super()._open()  # type: ignore[safe-super]  # the real driver (next in the MRO) opens
        except BaseException:
            pty.stop()
            self._pty = None
            raise

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[safe-super]  # the real driver closes
        finally:
            if self._pty is not None:
                self._pty.stop()
                self._pty = None

    def unplug(self) -> None:
        """Make the simulated device vanish (the pty master closes)."""
        if self._pty is not None:
            self._pty.hang_up()
