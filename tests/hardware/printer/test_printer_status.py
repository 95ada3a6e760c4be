"""DLE EOT status bytes: the reference answers, the flag table both ways, and fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.errors import ProtocolError
from hardware.printer.status import PaperState, PrinterStatus, parse_status_byte, request, status_byte


@pytest.mark.parametrize(
    ("n", "value", "expected"),
    [
        (1, 0x12, {"offline": False, "waiting_recovery": False, "feed_button": False}),
        (1, 0x1A, {"offline": True, "waiting_recovery": False, "feed_button": False}),
        (4, 0x12, {"paper_near_end": False, "paper_out": False}),
        (4, 0x1E, {"paper_near_end": True, "paper_out": False}),
        (4, 0x72, {"paper_near_end": False, "paper_out": True}),
        (2, 0x16, {"cover_open": True, "feeding_by_button": False, "paper_end_stop": False, "error": False}),
        (3, 0x1A, {"cutter_error": True, "unrecoverable_error": False, "auto_recoverable_error": False}),
    ],
)
def test_reference_status_bytes(n: int, value: int, expected: dict[str, bool]) -> None:
    """The documented answers (0x12 OK, 0x1A offline, 0x1E near end, 0x72 out …) decode as specified."""
    assert parse_status_byte(n, value) == expected


@pytest.mark.parametrize("value", [0x00, 0xFF, 0x13, 0x92, 0x10, 0x02])
def test_bytes_without_the_fixed_pattern_are_rejected(value: int) -> None:
    """A byte lacking the 0xx1xx10 pattern is a protocol error, not a status."""
    with pytest.raises(ProtocolError) as info:
        parse_status_byte(1, value)
    assert info.value.reason == "status_pattern"


def test_status_byte_builds_the_reference_answers() -> None:
    """status_byte is the inverse of the parser for the reference answers."""
    assert status_byte(1) == 0x12
    assert status_byte(1, offline=True) == 0x1A
    assert status_byte(4, paper_near_end=True) == 0x1E
    assert status_byte(4, paper_out=True) == 0x72
    with pytest.raises(ValueError, match="unknown flags"):
        status_byte(4, cover_open=True)
    with pytest.raises(ValueError, match="one of"):
        status_byte(9)


def test_request_bytes() -> None:
    """DLE EOT n is 10 04 n for n in 1..4 only."""
    assert request(1) == b"\x10\x04\x01"
    assert request(4) == b"\x10\x04\x04"
    with pytest.raises(ValueError, match="one of"):
        request(5)


def test_printer_status_combines_answers() -> None:
    """Answers to 1, 2, 4 combine into online/paper/cover and can_print."""
    ok = PrinterStatus.from_bytes({1: 0x12, 2: 0x12, 4: 0x12})
    assert ok.online and ok.paper is PaperState.OK and ok.can_print
    near = PrinterStatus.from_bytes({1: 0x12, 4: 0x1E})
    assert near.paper is PaperState.NEAR_END and near.can_print
    out = PrinterStatus.from_bytes({1: 0x1A, 2: 0x32, 4: 0x72})
    assert not out.online and out.paper is PaperState.OUT and not out.can_print
    cover = PrinterStatus.from_bytes({1: 0x1A, 2: 0x16})
    assert cover.cover_open and not cover.can_print
    assert cover.to_dict()["cover_open"] is True


@settings(max_examples=300, deadline=None)
@given(n=st.sampled_from([1, 2, 3, 4]), value=st.integers(min_value=0, max_value=255))
def test_fuzz_parser_raises_only_protocol_error(n: int, value: int) -> None:
    """Any byte either parses into flags that rebuild the same byte's flag bits, or is a ProtocolError."""
    try:
        flags = parse_status_byte(n, value)
    except ProtocolError:
        assert value & 0x93 != 0x12
        return
    rebuilt = status_byte(n, **flags)
    assert parse_status_byte(n, rebuilt) == flags
