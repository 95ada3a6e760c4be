"""The pseudo-terminal simulator runner: replies, chunking, hang-up and clean shutdown."""

from __future__ import annotations

import pytest
import serial

from hardware.errors import ConnectionLost
from hardware.pty import HANGUP, Hangup, PtySimulator, Reply
from hardware.serial_link import SerialLink


class EchoCore:
    """Answers every byte string with a configurable reply list (the core is pure)."""

    def __init__(self, replies: list[Reply | Hangup]) -> None:
        self.replies = replies
        self.received = b""

    def receive(self, data: bytes) -> list[Reply | Hangup]:
        """Record the bytes; answer with the configured replies."""
        self.received += data
        return self.replies


def _exchange(link: SerialLink, send: bytes = b"x") -> None:
    """Write (optionally) then read twice, as a driver would."""
    if send:
        link.write(send)
    link.read(1, 0.5)
    link.read(1, 0.5)


def test_driver_side_reads_chunked_reply() -> None:
    """Bytes written by the host reach the core; chunked replies arrive whole."""
    core = EchoCore([Reply(b"hello world", chunk=3)])
    sim = PtySimulator(core, name="echo")
    port = serial.Serial(sim.start(), baudrate=115200, timeout=1.0)
    try:
        link = SerialLink(port)
        link.write(b"ping")
        assert link.read(11, 1.0) == b"hello world"
        assert core.received == b"ping"
    finally:
        link.close()
        sim.stop()


def test_stop_does_not_hang_on_unread_large_reply() -> None:
    """A reply larger than the pty buffer that nobody reads does not block stop()."""
    sim = PtySimulator(EchoCore([Reply(b"x" * 200_000)]), name="flood")
    port = serial.Serial(sim.start(), baudrate=115200, timeout=0.2)
    try:
        port.write(b"go")
        assert port.read(10) == b"x" * 10
    finally:
        port.close()
        sim.stop()
        sim.stop()  # idempotent


def test_hang_up_from_another_thread_breaks_the_link() -> None:
    """After hang_up() the driver's next read fails with ConnectionLost."""
    sim = PtySimulator(EchoCore([]), name="unplug")
    link = SerialLink(serial.Serial(sim.start(), baudrate=115200, timeout=0.2))
    try:
        sim.hang_up()
        assert sim.hung_up
        with pytest.raises(ConnectionLost):
            _exchange(link)
    finally:
        link.close()
        sim.stop()


def test_core_can_hang_up_in_reply() -> None:
    """A core returning HANGUP makes the device vanish."""
    sim = PtySimulator(EchoCore([HANGUP]), name="hangup")
    link = SerialLink(serial.Serial(sim.start(), baudrate=115200, timeout=0.2))
    try:
        link.write(b"bye")
        with pytest.raises(ConnectionLost):
            _exchange(link, send=b"")
        assert sim.hung_up
    finally:
        link.close()
        sim.stop()
