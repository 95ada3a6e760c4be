"""Masking helpers for personal data in anything meant for display or diagnostics.

``3101**********1234`` for ID numbers, ``张**`` for names, ``上海市***`` for
addresses and ``<1024 bytes>`` for photos, fingerprints and document images.
"""

from __future__ import annotations

__all__ = ["mask_bytes", "mask_date", "mask_id_number", "mask_name", "mask_text"]


def mask_id_number(number: str) -> str:
    """Keep the first 4 and last 4 characters: ``3101**********1234``."""
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_name(name: str) -> str:
    """Keep the first character only: ``张**``."""
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


def mask_text(text: str, keep: int = 3) -> str:
    """Keep the first ``keep`` characters (e.g. the province of an address)."""
    if not text:
        return ""
    return text[:keep] + "***"


def mask_bytes(data: bytes | None) -> str | None:
    """Describe binary personal data by size only."""
    return None if data is None else f"<{len(data)} bytes>"


def mask_date(iso_date: str | None) -> str | None:
    """Keep the year of a birth date: ``1990-**-**``."""
    if not iso_date:
        return iso_date
    return iso_date[:4] + "-**-**"
