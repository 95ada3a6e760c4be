"""Citizen ID number checks (GB 11643-1999; ISO 7064 MOD 11-2), spec §1.9.

Pure functions; they never include the number itself in an error or log.
"""

from __future__ import annotations

import datetime as dt

__all__ = ["WEIGHTS", "check_character", "consistency_problems", "is_valid"]

WEIGHTS: tuple[int, ...] = tuple(pow(2, 17 - i, 11) for i in range(17))
"""7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2."""

_CHECK = "10X98765432"


def check_character(first17: str) -> str:
    """The check character for the first 17 digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("expected 17 ASCII digits")
    total = sum(int(digit) * weight for digit, weight in zip(first17, WEIGHTS, strict=True))
    return _CHECK[total % 11]


def is_valid(number: str) -> bool:
    """True when ``number`` is 18 characters with a correct MOD 11-2 check character."""
    if len(number) != 18 or not number[:17].isascii() or not number[:17].isdigit():
        return False
    return check_character(number[:17]) == number[17].upper()


def consistency_problems(number: str, *, birth_date: dt.date | None, gender_code: str) -> list[str]:
    """Names of failed checks: ``checksum``, ``birth_date``, ``gender`` (empty when all pass).

    Birth and gender are checked only when the number's structure allows it.
    """
    if not is_valid(number):
        return ["checksum"]
    problems: list[str] = []
    if birth_date is not None and number[6:14] != birth_date.strftime("%Y%m%d"):
        problems.append("birth_date")
    sequence_odd = int(number[16]) % 2 == 1
    if gender_code in ("1", "2") and sequence_odd != (gender_code == "1"):
        problems.append("gender")
    return problems
