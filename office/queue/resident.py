"""The resident's ID number at issue time: validation, birth date, statutory age priority.

The number itself is never stored in clear or logged: the caller keeps only the keyed look-up hash,
the ciphertext, and the priority basis derived here (``age70``), not the birth date.
"""

from __future__ import annotations

from datetime import date

__all__ = [
    "STATUTORY_AGE",
    "InvalidIdNumber",
    "age_on",
    "birth_date",
    "is_statutory_age",
    "validate_id_number",
]

#: Residents this old or older are served with statutory priority.
STATUTORY_AGE = 70

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


class InvalidIdNumber(ValueError):
    """The value is not a valid 18-digit resident ID number (GB 11643); never carries the value."""


def validate_id_number(value: str) -> str:
    """The normalised number (upper-case ``X``), or :class:`InvalidIdNumber`."""
    v = "".join(value.split()).upper()
    if len(v) != 18 or not v[:17].isdigit():
        raise InvalidIdNumber("an ID number has 17 digits and a check character")
    total = sum(int(c) * w for c, w in zip(v[:17], _WEIGHTS, strict=True))
    if _CHECK[total % 11] != v[17]:
        raise InvalidIdNumber("the ID number's check character does not match")
    birth_date(v)
    return v


def birth_date(id_number: str) -> date:
    """The birth date encoded in positions 7-14 of an 18-digit number."""
    v = id_number.strip()
    try:
        return date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError as err:
        raise InvalidIdNumber("the ID number's birth date is not a date") from err


def age_on(born: date, day: date) -> int:
    """Completed years on ``day`` (a 29 February birthday counts from 1 March in common years)."""
    years = day.year - born.year
    if (day.month, day.day) < (born.month, born.day):
        years -= 1
    return years


def is_statutory_age(id_number: str, today: date) -> bool:
    """Whether the holder is at least :data:`STATUTORY_AGE` on ``today`` (office-local date)."""
    return age_on(birth_date(id_number), today) >= STATUTORY_AGE
