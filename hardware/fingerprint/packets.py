"""R30x / AS608 ("GROW") UART packet codec (spec §2.1-§2.2).

::

    EF 01 | ADDRESS(4, BE) | PID | LEN(2, BE) = payload + 2 | payload | SUM(2, BE)

SUM is the 16-bit sum of PID, both LEN bytes and the payload.  Commands carry an
instruction code first, acknowledgements a confirmation code first; data packets
(PID 0x02, last one 0x08) carry templates and images.  :class:`PacketDecoder`
reassembles packets from a stream and resynchronises on the header.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Self

from hardware.errors import ProtocolError

__all__ = [
    "DEFAULT_ADDRESS",
    "HEADER",
    "MAX_PAYLOAD",
    "Instruction",
    "Packet",
    "PacketDecoder",
    "Pid",
    "checksum",
    "split_data",
]

HEADER = b"\xef\x01"
DEFAULT_ADDRESS = 0xFFFFFFFF
PREFIX_SIZE = 9
MAX_PAYLOAD = 256
"""Largest payload accepted (packet size code 3 = 256 bytes)."""


class Pid(enum.IntEnum):
    """Packet identifiers."""

    COMMAND = 0x01
    DATA = 0x02
    ACK = 0x07
    END = 0x08


class Instruction(enum.IntEnum):
    """Instruction codes used by the driver (libdriver/as608 numbering)."""

    GEN_IMG = 0x01
    IMG2TZ = 0x02
    MATCH = 0x03
    SEARCH = 0x04
    REG_MODEL = 0x05
    STORE = 0x06
    LOAD_CHAR = 0x07
    UP_CHAR = 0x08
    DOWN_CHAR = 0x09
    UP_IMAGE = 0x0A
    DELETE_CHAR = 0x0C
    EMPTY = 0x0D
    SET_SYS_PARA = 0x0E
    READ_SYS_PARA = 0x0F
    SET_PWD = 0x12
    VFY_PWD = 0x13
    TEMPLATE_NUM = 0x1D
    READ_INDEX_TABLE = 0x1F


def checksum(pid: int, payload: bytes) -> int:
    """16-bit sum of PID, the two length bytes and the payload."""
    length = len(payload) + 2
    return (pid + (length >> 8) + (length & 0xFF) + sum(payload)) & 0xFFFF


@dataclass(frozen=True, slots=True)
class Packet:
    """One packet: PID, payload and module address."""

    pid: int
    payload: bytes
    address: int = DEFAULT_ADDRESS

    def __bytes__(self) -> bytes:
        """Serialise to the wire."""
        if len(self.payload) > MAX_PAYLOAD:
            raise ValueError(f"payload too long: {len(self.payload)} bytes")
        length = len(self.payload) + 2
        return (
            HEADER
            + self.address.to_bytes(4, "big")
            + bytes([self.pid])
            + length.to_bytes(2, "big")
            + self.payload
            + checksum(self.pid, self.payload).to_bytes(2, "big")
        )

    @classmethod
    def parse(cls, data: bytes) -> Self:
        """Parse exactly one packet (strict)."""
        if not data.startswith(HEADER):
            raise ProtocolError("packet does not start with EF 01", reason="preamble")
        if len(data) < PREFIX_SIZE:
            raise ProtocolError("packet shorter than its header", reason="truncated")
        length = int.from_bytes(data[7:9], "big")
        if length < 3 or length > MAX_PAYLOAD + 2:
            raise ProtocolError(f"packet length field {length} out of range", reason="length")
        if data[6] not in _PIDS:
            raise ProtocolError(f"unknown packet identifier 0x{data[6]:02X}", reason="pid")
        if len(data) < PREFIX_SIZE + length:
            raise ProtocolError("packet shorter than its length field", reason="truncated")
        if len(data) > PREFIX_SIZE + length:
            raise ProtocolError("bytes after the end of the packet", reason="trailing")
        payload = bytes(data[PREFIX_SIZE:-2])
        if checksum(data[6], payload) != int.from_bytes(data[-2:], "big"):
            raise ProtocolError("packet checksum mismatch", reason="checksum")
        return cls(pid=data[6], payload=payload, address=int.from_bytes(data[2:6], "big"))

    @classmethod
    def command(cls, instruction: int, params: bytes = b"", address: int = DEFAULT_ADDRESS) -> Self:
        """A command packet."""
        return cls(Pid.COMMAND, bytes([instruction]) + params, address)

    @classmethod
    def ack(cls, code: int, data: bytes = b"", address: int = DEFAULT_ADDRESS) -> Self:
        """An acknowledgement packet."""
        return cls(Pid.ACK, bytes([code]) + data, address)


_PIDS = frozenset(int(pid) for pid in Pid)


def split_data(data: bytes, size: int, address: int = DEFAULT_ADDRESS) -> list[Packet]:
    """Cut ``data`` into data packets of ``size`` bytes, the last one marked END."""
    chunks = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
    return [
        Packet(Pid.END if index == len(chunks) - 1 else Pid.DATA, chunk, address)
        for index, chunk in enumerate(chunks)
    ]


class PacketDecoder:
    """Incremental packet reassembly with resynchronisation on ``EF 01``.

    Like the SAM decoder: garbage is skipped (counted in :attr:`discarded`); an
    impossible length, unknown PID or bad checksum raises ProtocolError once.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.discarded = 0

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        self._buffer += data

    @property
    def buffered(self) -> int:
        """Bytes held but not yet returned."""
        return len(self._buffer)

    def bytes_wanted(self) -> int:
        """How many more bytes the current packet needs (at least 1)."""
        start = self._buffer.find(HEADER)
        if start < 0 or len(self._buffer) - start < PREFIX_SIZE:
            return max(1, PREFIX_SIZE - len(self._buffer))
        length = int.from_bytes(self._buffer[start + 7 : start + 9], "big")
        return max(1, start + PREFIX_SIZE + length - len(self._buffer))

    def next_packet(self) -> Packet | None:
        """Return the next complete, valid packet, or None if more bytes are needed."""
        start = self._buffer.find(HEADER)
        if start < 0:
            keep = 1 if self._buffer.endswith(HEADER[:1]) else 0
            drop = len(self._buffer) - keep
            self.discarded += drop
            del self._buffer[:drop]
            return None
        if start:
            self.discarded += start
            del self._buffer[:start]
        if len(self._buffer) < PREFIX_SIZE:
            return None
        length = int.from_bytes(self._buffer[7:9], "big")
        if length < 3 or length > MAX_PAYLOAD + 2 or self._buffer[6] not in _PIDS:
            self.discarded += 1
            del self._buffer[:1]
            raise ProtocolError("implausible packet header", reason="length")
        end = PREFIX_SIZE + length
        if len(self._buffer) < end:
            return None
        raw = bytes(self._buffer[:end])
        del self._buffer[:end]
        return Packet.parse(raw)
