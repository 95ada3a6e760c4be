"""The 256-byte UCS-2 text block of ID cards, in its four layouts (spec §1.6).

Layouts are tables of ``(field, byte offset, byte size)``; the flag character at
byte 248 picks the layout ('J' GAT, 'I' foreign 2017, 'Y' foreign 2023, else
resident).  :func:`decode_text_block` returns an :class:`IdCardData` (without
photo/fingerprint); :func:`encode_text_block` is its inverse, used by simulator
fixtures and golden tests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from hardware.errors import ProtocolError
from hardware.idcard.codes import ETHNICITY, GENDER
from hardware.idcard.data import CardType, IdCardData

__all__ = ["FLAG_OFFSET", "LAYOUTS", "TEXT_SIZE", "decode_text_block", "encode_text_block"]

TEXT_SIZE = 256
FLAG_OFFSET = 248
LONG_TERM = "长期"

Layout = tuple[tuple[str, int, int], ...]

_COMMON: Layout = (
    ("name", 0, 30),
    ("gender", 30, 2),
    ("ethnicity", 32, 4),
    ("birth", 36, 16),
    ("address", 52, 70),
    ("id_number", 122, 36),
    ("issuer", 158, 30),
    ("valid_from", 188, 16),
    ("valid_until", 204, 16),
)

LAYOUTS: dict[CardType, Layout] = {
    CardType.RESIDENT: _COMMON,
    CardType.GAT: (
        *_COMMON,
        ("pass_number", 220, 18),
        ("issue_count", 238, 4),
        ("flag", 248, 2),
    ),
    CardType.FOREIGN_2017: (
        ("english_name", 0, 120),
        ("gender", 120, 2),
        ("id_number", 122, 30),
        ("nationality", 152, 6),
        ("name", 158, 30),
        ("valid_from", 188, 16),
        ("valid_until", 204, 16),
        ("birth", 220, 16),
        ("card_version", 236, 4),
        ("issuer", 240, 8),
        ("flag", 248, 2),
    ),
    CardType.FOREIGN_2023: (
        ("name", 0, 30),
        ("gender", 30, 2),
        ("renewal_count", 32, 4),
        ("birth", 36, 16),
        ("english_name", 52, 70),
        ("id_number", 122, 36),
        ("valid_from", 188, 16),
        ("valid_until", 204, 16),
        ("english_name_2", 220, 22),
        ("nationality", 242, 6),
        ("flag", 248, 2),
        ("previous_number", 250, 6),
    ),
}
"""Field tables per card type: ``(name, offset, size)`` in bytes."""

_FLAGS: dict[str, CardType] = {"J": CardType.GAT, "I": CardType.FOREIGN_2017, "Y": CardType.FOREIGN_2023}
_FLAG_OF: dict[CardType, str] = {value: key for key, value in _FLAGS.items()}


def _text(block: bytes, offset: int, size: int, field: str) -> str:
    try:
        raw = block[offset : offset + size].decode("utf-16-le")
    except UnicodeDecodeError as err:
        raise ProtocolError(f"text field {field} is not valid UCS-2", reason="field") from err
    return raw.rstrip(" \x00")


def _date(value: str, field: str) -> dt.date:
    try:
        if len(value) != 8 or not value.isascii() or not value.isdigit():
            raise ValueError(value)
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError as err:
        raise ProtocolError(f"date field {field} is not YYYYMMDD", reason="field") from err


def card_type_of(block: bytes) -> CardType:
    """The layout selected by the flag at byte 248."""
    flag = block[FLAG_OFFSET : FLAG_OFFSET + 2]
    return _FLAGS.get(flag.decode("utf-16-le", errors="replace"), CardType.RESIDENT)


def _english_name(block: bytes, card_type: CardType, fields: Mapping[str, str]) -> str:
    if card_type is not CardType.FOREIGN_2023:
        return fields.get("english_name", "")
    # The 2023 name is split over two fields; a space may fall on the split point.
    head = block[52:122].decode("utf-16-le")
    return (head + fields["english_name_2"]).rstrip(" \x00").lstrip()


def decode_text_block(block: bytes) -> IdCardData:
    """Decode a 256-byte text block; raise ProtocolError for malformed fields."""
    if len(block) != TEXT_SIZE:
        raise ProtocolError(f"text block is {len(block)} bytes, expected 256", reason="length")
    card_type = card_type_of(block)
    fields = {name: _text(block, offset, size, name) for name, offset, size in LAYOUTS[card_type]}
    gender_code = fields["gender"]
    if gender_code not in GENDER:
        raise ProtocolError("gender code is not in the GB/T 2261.1 table", reason="field")
    ethnicity_code = fields.get("ethnicity", "")
    until = fields["valid_until"]
    return IdCardData(
        card_type=card_type,
        name=fields["name"],
        gender=GENDER[gender_code],
        gender_code=gender_code,
        ethnicity=ETHNICITY.get(ethnicity_code, ""),
        ethnicity_code=ethnicity_code,
        birth_date=_date(fields["birth"], "birth"),
        address=fields.get("address", ""),
        id_number=fields["id_number"],
        issuer=fields.get("issuer", ""),
        valid_from=_date(fields["valid_from"], "valid_from"),
        valid_until=None if until == LONG_TERM else _date(until, "valid_until"),
        english_name=_english_name(block, card_type, fields),
        nationality=fields.get("nationality", ""),
        pass_number=fields.get("pass_number", ""),
        issue_count=fields.get("issue_count", ""),
        card_version=fields.get("card_version", ""),
        renewal_count=fields.get("renewal_count", ""),
        previous_number=fields.get("previous_number", ""),
    )


def encode_text_block(card_type: CardType, values: Mapping[str, str]) -> bytes:
    """Build a 256-byte block from field values (space-padded); inverse of decoding.

    ``values`` uses the layout's field names (``birth`` as YYYYMMDD, ``valid_until``
    as YYYYMMDD or 长期); the flag is set from ``card_type``.
    """
    block = bytearray(" ".encode("utf-16-le") * (TEXT_SIZE // 2))
    values = dict(values)
    if card_type in _FLAG_OF:
        values["flag"] = _FLAG_OF[card_type]
    for name, offset, size in LAYOUTS[card_type]:
        encoded = values.get(name, "").encode("utf-16-le")
        if len(encoded) > size:
            raise ValueError(f"field {name} longer than {size // 2} characters")
        block[offset : offset + len(encoded)] = encoded
    return bytes(block)
