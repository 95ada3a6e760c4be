"""Data parts of SAM reader replies: read text/photo(/fingerprint), appended address, SAM ID.

Spec §1.5.  Each function takes ``Response.data`` (after SW1..SW3) and raises
:class:`~hardware.errors.ProtocolError` for anything inconsistent.
"""

from __future__ import annotations

from dataclasses import dataclass

from hardware.errors import ProtocolError
from hardware.idcard.data import SamId
from hardware.idcard.text import TEXT_SIZE

__all__ = [
    "APPENDED_ADDRESS_SIZE",
    "PHOTO_SIZE",
    "ReadPayload",
    "build_read_payload",
    "parse_appended_address",
    "parse_read_payload",
    "parse_sam_id",
]

PHOTO_SIZE = 1024
APPENDED_ADDRESS_SIZE = 70
SAM_ID_SIZE = 16


@dataclass(frozen=True, slots=True, repr=False)
class ReadPayload:
    """Raw parts of a read reply: text block, WLT photo and fingerprint block."""

    text: bytes
    photo: bytes
    fingerprint: bytes

    def __repr__(self) -> str:
        """Sizes only; the content is personal."""
        return f"ReadPayload(text={len(self.text)}B, photo={len(self.photo)}B, fp={len(self.fingerprint)}B)"


def parse_read_payload(data: bytes, *, with_fingerprint: bool) -> ReadPayload:
    """Split a 30 01 (text+photo) or 30 10 (text+photo+fingerprint) reply."""
    header = 6 if with_fingerprint else 4
    if len(data) < header:
        raise ProtocolError("read reply shorter than its length header", reason="truncated")
    text_len = int.from_bytes(data[0:2], "big")
    photo_len = int.from_bytes(data[2:4], "big")
    fp_len = int.from_bytes(data[4:6], "big") if with_fingerprint else 0
    if text_len != TEXT_SIZE:
        raise ProtocolError(f"text length {text_len}, expected 256", reason="length")
    if len(data) != header + text_len + photo_len + fp_len:
        raise ProtocolError("read reply length disagrees with its length header", reason="length")
    text_end = header + text_len
    photo_end = text_end + photo_len
    return ReadPayload(
        text=bytes(data[header:text_end]),
        photo=bytes(data[text_end:photo_end]),
        fingerprint=bytes(data[photo_end:]),
    )


def build_read_payload(text: bytes, photo: bytes, fingerprint: bytes | None) -> bytes:
    """Inverse of :func:`parse_read_payload` (``fingerprint=None`` builds a 30 01 reply)."""
    parts = [len(text).to_bytes(2, "big"), len(photo).to_bytes(2, "big")]
    if fingerprint is not None:
        parts.append(len(fingerprint).to_bytes(2, "big"))
    return b"".join([*parts, text, photo, fingerprint or b""])


def parse_appended_address(data: bytes) -> str:
    """Decode the 70-byte UTF-16LE appended (newest) address."""
    if len(data) != APPENDED_ADDRESS_SIZE:
        raise ProtocolError(f"appended address is {len(data)} bytes, expected 70", reason="length")
    try:
        return data.decode("utf-16-le").rstrip(" \x00")
    except UnicodeDecodeError as err:
        raise ProtocolError("appended address is not valid UCS-2", reason="field") from err


def parse_sam_id(data: bytes) -> SamId:
    """Keep the 16 raw bytes of the SAM management info."""
    if len(data) != SAM_ID_SIZE:
        raise ProtocolError(f"SAM ID is {len(data)} bytes, expected 16", reason="length")
    return SamId(bytes(data))
