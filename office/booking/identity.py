"""Resident identity for bookings: GB 11643 ID-number checksum, mainland mobile numbers, masking.

``office`` may not import ``hardware`` (DESIGN.md), so the checksum lives here as well. Nothing in
this module logs or formats an unmasked value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from office.errors import ApiError

__all__ = [
    "IdSource",
    "Identity",
    "gb11643_check_char",
    "is_valid_id_number",
    "mask_phone",
    "normalize_id_number",
    "normalize_phone",
]

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")
_PHONE_RE = re.compile(r"^1[3-9]\d{9}$")


class IdSource(StrEnum):
    """How the ID number reached the kiosk: read from the card chip, or typed by the resident."""

    CARD = "card"
    MANUAL = "manual"


def gb11643_check_char(first17: str) -> str:
    """The GB 11643-1999 check character (ISO 7064 MOD 11-2) of the first 17 digits."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("need exactly 17 digits")
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def normalize_id_number(value: str) -> str:
    """Strip spaces and upper-case the trailing ``x``."""
    return "".join(value.split()).upper()


def is_valid_id_number(value: str) -> bool:
    """True for an 18-character resident ID number with a real birth date and a correct check character."""
    v = normalize_id_number(value)
    if not _ID_RE.match(v):
        return False
    try:
        date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        return False
    return gb11643_check_char(v[:17]) == v[17]


def normalize_phone(value: str) -> str:
    """A mainland mobile number without separators or the +86 prefix; raises ``ValueError`` otherwise."""
    v = re.sub(r"[\s\-()]", "", value)
    if v.startswith("+86"):
        v = v[3:]
    elif v.startswith("0086"):
        v = v[4:]
    if not _PHONE_RE.match(v):
        raise ValueError("not a mainland mobile number")
    return v


def mask_phone(value: str) -> str:
    """``13812345678`` → ``138****5678``."""
    v = "".join(value.split())
    if len(v) < 7:
        return "*" * len(v)
    return v[:3] + "*" * (len(v) - 7) + v[-4:]


@dataclass(frozen=True, slots=True)
class Identity:
    """A validated resident identity. ``repr`` is masked so it can never leak through a log line."""

    id_number: str
    source: IdSource
    phone: str | None = None

    def __repr__(self) -> str:
        return f"Identity(id=*, source={self.source.value}, phone={'*' if self.phone else None})"

    @classmethod
    def parse(cls, id_number: str, source: IdSource, phone: str | None) -> Identity:
        """Validate input from a kiosk; typed numbers need a phone, card reads may omit it.

        Raises :class:`ApiError` 422 ``bad_id_number`` / ``bad_phone`` / ``phone_required``.
        """
        number = normalize_id_number(id_number)
        if not is_valid_id_number(number):
            raise ApiError(
                422, "bad_id_number", "身份证号码校验不通过 / the ID number fails its GB 11643 check"
            )
        clean: str | None = None
        if phone:
            try:
                clean = normalize_phone(phone)
            except ValueError:
                raise ApiError(422, "bad_phone", "手机号码格式不正确 / malformed mobile number") from None
        if source is IdSource.MANUAL and clean is None:
            raise ApiError(
                422, "phone_required", "手动输入身份证号时需填写手机号 / a phone number is required"
            )
        return cls(number, source, clean)
