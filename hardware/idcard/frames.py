"""SAM serial frame codec for second-generation ID-card readers (spec §1.2-§1.3).

Pure bytes in, objects out, and back.  A frame is::

    AA AA AA 96 69 | LEN(2, big-endian) | body (LEN-1 bytes) | XOR

where LEN counts the body plus the checksum and the XOR covers LEN and the body.
Host → reader bodies are ``CMD PARA DATA``; reader → host bodies are
``SW1 SW2 SW3 DATA``.  :class:`FrameDecoder` reassembles frames from a byte stream
and resynchronises on the preamble after garbage or a corrupt frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from typing import ClassVar, Self

from hardware.errors import ProtocolError

__all__ = [
    "CMD_FIND",
    "CMD_READ_APPENDED_ADDRESS",
    "CMD_READ_TEXT_PHOTO",
    "CMD_READ_TEXT_PHOTO_FINGERPRINT",
    "CMD_RESET_SAM",
    "CMD_SAM_ID",
    "CMD_SAM_STATUS",
    "CMD_SELECT",
    "CMD_SET_MAX_RF_BYTES",
    "MAX_LENGTH",
    "PREAMBLE",
    "Command",
    "FrameDecoder",
    "Response",
    "split_frame",
    "xor_checksum",
]

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
HEADER_SIZE = len(PREAMBLE) + 2
MAX_LENGTH = 0x1000
"""Largest LEN accepted (the biggest real reply, text+photo+1024 B fingerprint, is 0x090A)."""


def xor_checksum(data: bytes) -> int:
    """XOR of every byte of ``data`` (the LEN bytes and the body)."""
    return reduce(lambda acc, byte: acc ^ byte, data, 0)


def _pack(body: bytes) -> bytes:
    length = len(body) + 1
    if length > MAX_LENGTH:
        raise ValueError(f"frame body too long: {len(body)} bytes")
    covered = length.to_bytes(2, "big") + body
    return PREAMBLE + covered + bytes([xor_checksum(covered)])


def split_frame(frame: bytes, *, min_body: int) -> bytes:
    """Check one complete frame strictly and return its body (without the checksum).

    Raises :class:`~hardware.errors.ProtocolError` with ``reason`` one of
    ``preamble``, ``truncated``, ``length``, ``trailing`` or ``checksum``.
    """
    if not frame.startswith(PREAMBLE):
        raise ProtocolError("frame does not start with the SAM preamble", reason="preamble")
    if len(frame) < HEADER_SIZE:
        raise ProtocolError("frame shorter than its header", reason="truncated")
    length = int.from_bytes(frame[5:7], "big")
    if length < min_body + 1 or length > MAX_LENGTH:
        raise ProtocolError(f"frame length field {length} out of range", reason="length")
    if len(frame) < HEADER_SIZE + length:
        raise ProtocolError("frame shorter than its length field", reason="truncated")
    if len(frame) > HEADER_SIZE + length:
        raise ProtocolError("bytes after the end of the frame", reason="trailing")
    covered = frame[5:-1]
    if xor_checksum(covered) != frame[-1]:
        raise ProtocolError("frame checksum mismatch", reason="checksum")
    return frame[7:-1]


@dataclass(frozen=True, slots=True)
class Command:
    """A host → reader frame: command byte, parameter byte and optional data."""

    cmd: int
    para: int
    data: bytes = b""

    def __bytes__(self) -> bytes:
        """Serialise to the wire frame."""
        return _pack(bytes([self.cmd, self.para]) + self.data)

    @classmethod
    def parse(cls, frame: bytes) -> Self:
        """Parse one complete command frame (strict)."""
        body = split_frame(frame, min_body=2)
        return cls(body[0], body[1], bytes(body[2:]))

    @property
    def key(self) -> tuple[int, int]:
        """``(cmd, para)``, the identity of the command."""
        return (self.cmd, self.para)


@dataclass(frozen=True, slots=True)
class Response:
    """A reader → host frame: status words SW1 SW2 SW3 and data."""

    sw3: int
    data: bytes = b""
    sw1: int = 0
    sw2: int = 0

    OK: ClassVar[int] = 0x90
    FOUND: ClassVar[int] = 0x9F

    def __bytes__(self) -> bytes:
        """Serialise to the wire frame."""
        return _pack(bytes([self.sw1, self.sw2, self.sw3]) + self.data)

    @classmethod
    def parse(cls, frame: bytes) -> Self:
        """Parse one complete response frame (strict)."""
        body = split_frame(frame, min_body=3)
        return cls(sw3=body[2], data=bytes(body[3:]), sw1=body[0], sw2=body[1])


CMD_RESET_SAM = Command(0x10, 0xFF)
CMD_SAM_STATUS = Command(0x11, 0xFF)
CMD_SAM_ID = Command(0x12, 0xFF)
CMD_FIND = Command(0x20, 0x01)
CMD_SELECT = Command(0x20, 0x02)
CMD_READ_TEXT_PHOTO = Command(0x30, 0x01)
CMD_READ_APPENDED_ADDRESS = Command(0x30, 0x03)
CMD_READ_TEXT_PHOTO_FINGERPRINT = Command(0x30, 0x10)
CMD_SET_MAX_RF_BYTES = Command(0x61, 0xFF, b"\x50")


class FrameDecoder:
    """Incremental frame reassembly with resynchronisation on the preamble.

    ``feed()`` bytes as they arrive, then call ``next_frame()`` until it returns
    None.  Bytes before a preamble are skipped (counted in :attr:`discarded`).  A
    frame with an impossible length or a bad checksum raises
    :class:`~hardware.errors.ProtocolError` once and is dropped, so decoding
    continues with the following bytes.
    """

    def __init__(self, *, min_body: int = 3) -> None:
        self._buffer = bytearray()
        self._min_body = min_body
        self.discarded = 0

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        self._buffer += data

    @property
    def buffered(self) -> int:
        """Bytes held but not yet returned as frames."""
        return len(self._buffer)

    def bytes_wanted(self) -> int:
        """How many more bytes the current frame needs (at least 1)."""
        start = self._buffer.find(PREAMBLE)
        if start < 0 or len(self._buffer) - start < HEADER_SIZE:
            return max(1, HEADER_SIZE - len(self._buffer))
        length = int.from_bytes(self._buffer[start + 5 : start + 7], "big")
        return max(1, start + HEADER_SIZE + length - len(self._buffer))

    def next_frame(self) -> bytes | None:
        """Return the next complete, checksum-valid frame, or None if more bytes are needed."""
        start = self._buffer.find(PREAMBLE)
        if start < 0:
            # Keep a tail that may be the beginning of a preamble.
            keep = next(
                (n for n in range(len(PREAMBLE) - 1, 0, -1) if self._buffer.endswith(PREAMBLE[:n])),
                0,
            )
            drop = len(self._buffer) - keep
            self.discarded += drop
            del self._buffer[:drop]
            return None
        if start:
            self.discarded += start
            del self._buffer[:start]
        if len(self._buffer) < HEADER_SIZE:
            return None
        length = int.from_bytes(self._buffer[5:7], "big")
        if length < self._min_body + 1 or length > MAX_LENGTH:
            # Not a real frame start: skip this preamble's first byte and resync.
            self.discarded += 1
            del self._buffer[:1]
            raise ProtocolError(f"frame length field {length} out of range", reason="length")
        end = HEADER_SIZE + length
        if len(self._buffer) < end:
            return None
        frame = bytes(self._buffer[:end])
        del self._buffer[:end]
        if xor_checksum(frame[5:-1]) != frame[-1]:
            raise ProtocolError("frame checksum mismatch", reason="checksum")
        return frame
