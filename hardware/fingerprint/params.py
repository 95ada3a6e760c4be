"""Plain results of fingerprint operations: system parameters, match and search results."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Self

from hardware.errors import ProtocolError

__all__ = ["PACKET_SIZES", "MatchResult", "SearchResult", "SystemParameters"]

PACKET_SIZES: dict[int, int] = {0: 32, 1: 64, 2: 128, 3: 256}
"""Packet-size code → data packet payload size in bytes."""

_LAYOUT = struct.Struct(">HHHHIHH")


@dataclass(frozen=True, slots=True)
class SystemParameters:
    """The 16-byte ReadSysPara block (spec §2.4)."""

    status_register: int
    system_id: int
    capacity: int
    security_level: int
    address: int
    packet_size_code: int
    baud_multiplier: int

    @property
    def packet_size(self) -> int:
        """Data packet payload size in bytes."""
        return PACKET_SIZES[self.packet_size_code]

    @property
    def baud_rate(self) -> int:
        """Configured UART speed (multiplier × 9600)."""
        return self.baud_multiplier * 9600

    @classmethod
    def parse(cls, data: bytes) -> Self:
        """Parse the 16 bytes after the confirmation code."""
        if len(data) != _LAYOUT.size:
            raise ProtocolError(f"system parameters are {len(data)} bytes, expected 16", reason="length")
        params = cls(*_LAYOUT.unpack(data))
        if params.packet_size_code not in PACKET_SIZES:
            raise ProtocolError("packet size code out of range", reason="field")
        return params

    def __bytes__(self) -> bytes:
        """Serialise to the 16-byte block."""
        return _LAYOUT.pack(
            self.status_register,
            self.system_id,
            self.capacity,
            self.security_level,
            self.address,
            self.packet_size_code,
            self.baud_multiplier,
        )

    def to_dict(self) -> dict[str, int]:
        """JSON-ready view for diagnostics."""
        return {
            "capacity": self.capacity,
            "security_level": self.security_level,
            "packet_size": self.packet_size,
            "baud_rate": self.baud_rate,
            "status_register": self.status_register,
            "system_id": self.system_id,
        }


@dataclass(frozen=True, slots=True)
class MatchResult:
    """Outcome of a 1:1 verification."""

    matched: bool
    score: int


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Outcome of a 1:N search: the matching slot (None when not found) and its score."""

    slot: int | None
    score: int

    @property
    def found(self) -> bool:
        """True when a stored template matched."""
        return self.slot is not None
