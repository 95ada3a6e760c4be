"""The card photo: an opaque 1024-byte WLT blob behind a pluggable decoder (spec §1.8).

Decoding WLT needs a licensed vendor library, which is not bundled.  Deployments
plug one in through :class:`PhotoDecoder`; simulators and tests use
:class:`FakeWltDecoder`, which understands only the fake blobs of
:func:`fake_wlt_blob`.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Protocol

from hardware.errors import ProtocolError

__all__ = ["BMP_HEIGHT", "BMP_WIDTH", "FakeWltDecoder", "PhotoDecoder", "fake_wlt_blob"]

BMP_WIDTH = 102
BMP_HEIGHT = 126
WLT_SIZE = 1024
_FAKE_MAGIC = b"WLf\x00\x7e\x00\x32"


class PhotoDecoder(Protocol):
    """Turns a WLT blob into a 102×126 24-bit BMP."""

    def decode(self, wlt: bytes) -> bytes:
        """Return BMP bytes; raise ProtocolError when ``wlt`` is not decodable."""
        ...


def fake_wlt_blob(seed: str) -> bytes:
    """A deterministic 1024-byte blob that looks like WLT ("WLf" header) but is fake."""
    body = bytearray()
    counter = 0
    while len(body) < WLT_SIZE - len(_FAKE_MAGIC):
        body += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return _FAKE_MAGIC + bytes(body[: WLT_SIZE - len(_FAKE_MAGIC)])


class FakeWltDecoder:
    """Decodes fake blobs into a flat-coloured BMP of the real size (for simulators)."""

    def decode(self, wlt: bytes) -> bytes:
        """Return a 102×126 24-bit BMP whose colour derives from the blob."""
        if len(wlt) != WLT_SIZE or not wlt.startswith(_FAKE_MAGIC):
            raise ProtocolError("not a simulator photo blob", reason="photo")
        colour = wlt[len(_FAKE_MAGIC) : len(_FAKE_MAGIC) + 3]
        row_size = (BMP_WIDTH * 3 + 3) // 4 * 4
        row = colour * BMP_WIDTH + b"\x00" * (row_size - BMP_WIDTH * 3)
        pixels = row * BMP_HEIGHT
        header = struct.pack("<2sIHHI", b"BM", 14 + 40 + len(pixels), 0, 0, 54)
        info = struct.pack("<IiiHHIIiiII", 40, BMP_WIDTH, BMP_HEIGHT, 1, 24, 0, len(pixels), 0, 0, 0, 0)
        return header + info + pixels
