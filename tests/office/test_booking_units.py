"""Pure booking pieces: GB 11643 checksum, phone rules, masking, lifecycle table, iCalendar text."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from office.booking.ical import booking_ics, escape_text, fold
from office.booking.identity import (
    Identity,
    IdSource,
    gb11643_check_char,
    is_valid_id_number,
    mask_phone,
    normalize_phone,
)
from office.booking.lifecycle import TRANSITIONS, IllegalTransition, next_state
from office.booking.views import BookingView
from office.errors import ApiError
from office.models import AppointmentState as S


def test_gb11643_published_example_has_check_character_x() -> None:
    """The standard's example 11010519491231002X validates; lower-case x and spaces are accepted."""
    assert gb11643_check_char("11010519491231002") == "X"
    assert is_valid_id_number("11010519491231002X")
    assert is_valid_id_number(" 110105 19491231 002x ")
    assert not is_valid_id_number("110105194912310021")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "11010519491231002",
        "1101051949123100211",
        "1101051949123100X2",
        "110105194902300028",
        "ABCDEFGHIJKLMNOPQR",
    ],
)
def test_malformed_id_numbers_are_invalid(value: str) -> None:
    """Wrong length, misplaced X, an impossible birth date (Feb 30) or letters are refused."""
    assert not is_valid_id_number(value)


@settings(max_examples=150, deadline=None)
@given(st.text("0123456789", min_size=17, max_size=17), st.sampled_from("0123456789X"))
def test_exactly_one_check_character_validates_any_17_digits(first17: str, check: str) -> None:
    """For digits with a real birth date, only the computed check character passes."""
    try:
        date(int(first17[6:10]), int(first17[10:12]), int(first17[12:14]))
    except ValueError:
        return
    assert is_valid_id_number(first17 + check) is (check == gb11643_check_char(first17))


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("13812345678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("0086 19912345678", "19912345678"),
    ],
)
def test_mobile_numbers_normalise(raw: str, clean: str) -> None:
    """Separators and the +86 prefix are dropped."""
    assert normalize_phone(raw) == clean


@pytest.mark.parametrize("raw", ["1381234567", "23812345678", "12812345678", "021-12345678", "abc"])
def test_malformed_mobile_numbers_raise(raw: str) -> None:
    """Wrong length, a leading digit other than 1, a 12x prefix or a landline are refused."""
    with pytest.raises(ValueError):
        normalize_phone(raw)


def test_identity_repr_and_masks_hide_the_values() -> None:
    """Identity's repr and the phone mask never show the full values."""
    ident = Identity.parse("11010519491231002X", IdSource.CARD, "13812345678")
    assert "1101" not in repr(ident) and "138" not in repr(ident)
    assert mask_phone("13812345678") == "138****5678"
    with pytest.raises(ApiError) as err:
        Identity.parse("110105194912310021", IdSource.CARD, None)
    assert err.value.code == "bad_id_number" and "110105" not in err.value.message


def test_lifecycle_sequences_and_illegal_events() -> None:
    """held→booked→checked_in; holds expire or are released; an illegal event raises."""
    assert next_state("held", "confirm") is S.BOOKED
    assert next_state("booked", "reschedule") is S.BOOKED
    assert next_state("booked", "check_in") is S.CHECKED_IN
    assert next_state("booked", "late_arrival") is S.NO_SHOW
    seq = ["held"]
    for ev in ("confirm", "reschedule", "check_in"):
        seq.append(next_state(seq[-1], ev).value)
    assert seq == ["held", "booked", "booked", "checked_in"]
    for state, event in [
        ("checked_in", "cancel"),
        ("cancelled", "confirm"),
        ("expired", "confirm"),
        ("bogus", "x"),
    ]:
        with pytest.raises(IllegalTransition):
            next_state(state, event)
    terminal = {S.EXPIRED, S.RELEASED, S.CANCELLED, S.CHECKED_IN}
    assert not {s for s, _ in TRANSITIONS} & terminal


def _view(**kw: object) -> BookingView:
    values: dict[str, object] = {
        "id": 7,
        "code": "ABCD2345",
        "state": "booked",
        "office_id": 1,
        "service_id": 2,
        "service_name": "城乡居民养老保险参保登记, 变更; 注销",
        "service_name_en": "Pension",
        "office_name": "测试街道",
        "starts_at": datetime(2026, 3, 3, 2, tzinfo=UTC),
        "ends_at": datetime(2026, 3, 3, 2, 30, tzinfo=UTC),
        "local_date": date(2026, 3, 3),
        "local_start": "2026-03-03 10:00",
        "id_masked": "1101**********002X",
        "phone_masked": None,
        "ics_token": "t",
        "ticket_id": None,
    }
    values.update(kw)
    return BookingView(**values)  # type: ignore[arg-type]


def test_ics_is_crlf_folded_escaped_and_free_of_personal_data() -> None:
    """Every physical line is ≤75 octets, text is escaped, times are UTC, and no ID appears."""
    body = booking_ics(_view(), now=datetime(2026, 3, 2, 1, tzinfo=UTC))
    text = body.decode()
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.endswith("END:VCALENDAR\r\n")
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    unfolded = text.replace("\r\n ", "")
    assert "DTSTART:20260303T020000Z" in unfolded and "DTEND:20260303T023000Z" in unfolded
    assert "SUMMARY:城乡居民养老保险参保登记\\, 变更\\; 注销 预约办理" in unfolded
    assert "TRIGGER:-PT1H" in unfolded and "1101" not in unfolded


@settings(max_examples=80, deadline=None)
@given(st.text(min_size=0, max_size=300).filter(lambda t: "\r" not in t and "\n" not in t))
def test_fold_round_trips_and_never_splits_a_character(line: str) -> None:
    """Unfolding a folded line restores it; each piece is valid UTF-8 of at most 75 octets."""
    folded = fold(line)
    parts = folded.split("\r\n ")
    assert "".join(parts) == line
    assert all(len(p.encode()) <= (75 if i == 0 else 74) for i, p in enumerate(parts))


def test_escape_text_handles_the_special_characters() -> None:
    """Backslash, semicolon, comma and newline are escaped per RFC 5545."""
    assert escape_text("a\\b;c,d\ne") == "a\\\\b\\;c\\,d\\ne"
