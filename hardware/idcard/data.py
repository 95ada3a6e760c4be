"""What an ID-card read returns: :class:`IdCardData` (with masking) and :class:`SamId`.

``repr()`` and :meth:`IdCardData.masked` never show personal data in clear.
"""

from __future__ import annotations

import datetime as dt
import enum
import struct
from dataclasses import dataclass, field
from typing import Any

from hardware.idcard import gb11643
from hardware.redact import mask_bytes, mask_date, mask_id_number, mask_name, mask_text

__all__ = ["CardType", "IdCardData", "SamId"]


class CardType(enum.Enum):
    """Layout of the 256-byte text block, chosen by the flag at byte 248 (spec §1.6)."""

    RESIDENT = "resident"
    """Second-generation resident ID card (居民身份证)."""
    GAT = "gat"
    """Hong Kong / Macau / Taiwan residence permit (港澳台居民居住证), flag 'J'."""
    FOREIGN_2017 = "foreign_2017"
    """Foreign permanent resident ID card, 2017 layout, flag 'I'."""
    FOREIGN_2023 = "foreign_2023"
    """Foreign permanent resident ID card, 2023 layout, flag 'Y'."""


@dataclass(frozen=True, slots=True, repr=False)
class IdCardData:
    """The decoded content of an ID card.  Every field except ``card_type`` is personal.

    ``valid_until`` is None for a long-term (长期) card; ``photo_raw`` is the opaque
    WLT blob (decode it with a licensed :class:`~hardware.idcard.photo.PhotoDecoder`).
    """

    card_type: CardType
    name: str
    gender: str
    gender_code: str
    ethnicity: str
    ethnicity_code: str
    birth_date: dt.date
    address: str
    id_number: str
    issuer: str
    valid_from: dt.date
    valid_until: dt.date | None
    photo_raw: bytes = b""
    fingerprint_raw: bytes = b""
    english_name: str = ""
    nationality: str = ""
    pass_number: str = ""
    issue_count: str = ""
    card_version: str = ""
    renewal_count: str = ""
    previous_number: str = ""
    appended_address: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def long_term(self) -> bool:
        """True when the card never expires (长期)."""
        return self.valid_until is None

    def validation_problems(self) -> list[str]:
        """Failed consistency checks on the ID number (resident-style 18-char numbers only)."""
        if self.card_type is CardType.FOREIGN_2017:
            return []  # 15-character permanent residence number, not GB 11643
        return gb11643.consistency_problems(
            self.id_number, birth_date=self.birth_date, gender_code=self.gender_code
        )

    def masked(self) -> dict[str, Any]:
        """A JSON-ready dict with every personal field masked (for display and logs)."""
        return {
            "card_type": self.card_type.value,
            "name": mask_name(self.name),
            "english_name": mask_name(self.english_name),
            "gender": self.gender,
            "ethnicity": self.ethnicity,
            "birth_date": mask_date(self.birth_date.isoformat()),
            "address": mask_text(self.address),
            "id_number": mask_id_number(self.id_number),
            "issuer": self.issuer,
            "valid_from": self.valid_from.isoformat(),
            "valid_until": "长期" if self.valid_until is None else self.valid_until.isoformat(),
            "nationality": self.nationality,
            "pass_number": mask_id_number(self.pass_number) if self.pass_number else "",
            "photo_raw": mask_bytes(self.photo_raw),
            "fingerprint_raw": mask_bytes(self.fingerprint_raw),
            "appended_address": None if self.appended_address is None else mask_text(self.appended_address),
        }

    def __repr__(self) -> str:
        """Show the card type and masked ID number only."""
        return f"IdCardData(card_type={self.card_type.value}, id_number={mask_id_number(self.id_number)!r})"


@dataclass(frozen=True, slots=True)
class SamId:
    """The 16 raw bytes of the SAM management info (reader serial), spec §1.5."""

    raw: bytes

    def __str__(self) -> str:
        """HslCommunication-style display: ``NN.NN-int-%09d-%09d``."""
        if len(self.raw) < 16:
            return self.raw.hex()
        a, b, c = struct.unpack_from("<III", self.raw, 4)
        return f"{self.raw[0]:02d}.{self.raw[2]:02d}-{a}-{b:09d}-{c:09d}"
