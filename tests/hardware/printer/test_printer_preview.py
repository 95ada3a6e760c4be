"""ESC/POS preview: parsing the emitted subset, rendering a readable slip, and fuzzing the parser."""

from __future__ import annotations

import contextlib
import io
from datetime import datetime

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from hardware.printer import preview, ticket
from hardware.printer.errors import EscPosParseError

TICKET = ticket.QueueTicket(
    office="静安寺街道",
    service="社会保障卡申领",
    number="A017",
    people_ahead=5,
    issued_at=datetime(2026, 11, 22, 9, 30),
    qr_content="https://office.example/q/A017",
)


def _ink(image: Image.Image) -> int:
    return int((np.asarray(image) < 128).sum())


def _decode_qr(png: bytes) -> str:
    img = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(img)
    return str(text)


def test_parse_recognises_the_ticket_commands() -> None:
    """The queue ticket parses into init, Chinese mode, text, sizes, QR and a cut."""
    names = [c.name for c in preview.parse(ticket.render_queue_ticket(TICKET))]
    assert names[:2] == ["init", "kanji_on"]
    for expected in ("text", "newline", "char_size", "bold", "align", "2d_code", "feed_lines", "cut"):
        assert expected in names
    texts = [c.data for c in preview.parse(ticket.render_queue_ticket(TICKET)) if c.name == "text"]
    assert b"A017" in texts


def test_parse_fields_of_raster_and_cut() -> None:
    """Raster images and cuts carry their decoded arguments."""
    data = b"\x1dv0\x00\x01\x00\x02\x00\xff\x00" + b"\x1dVB\x03"
    raster, cut = preview.parse(data)
    assert raster.name == "raster" and raster.args == (0, 1, 2) and raster.data == b"\xff\x00"
    assert cut.name == "cut" and cut.args == (1, 3)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x1b", "truncated"),
        (b"\x1d(k\x06\x001P0ab", "truncated"),
        (b"\x1dv0\x00\x02\x00\x02\x00\x00", "truncated"),
        (b"\x1b\x7f", "unknown_command"),
        (b"\x01", "unknown_command"),
        (b"\x1dV\x09", "bad_argument"),
    ],
)
def test_malformed_streams_raise_parse_errors(data: bytes, reason: str) -> None:
    """Truncated commands, unknown commands and bad arguments raise EscPosParseError with a reason."""
    with pytest.raises(EscPosParseError) as info:
        preview.parse(data)
    assert info.value.reason == reason


@pytest.mark.parametrize("qr", ["native", "image"])
def test_preview_png_shows_a_scannable_qr(qr: str) -> None:
    """The PNG preview renders the QR code well enough for OpenCV to decode its content."""
    style = ticket.TicketStyle(qr=qr)  # type: ignore[arg-type]
    png = preview.render_png(ticket.render_queue_ticket(TICKET, style))
    assert png.startswith(b"\x89PNG")
    assert _decode_qr(png) == TICKET.qr_content


def test_preview_has_ink_and_grows_with_content() -> None:
    """A longer job renders taller, and the large number draws more ink than normal text."""
    short = preview.render(b"\x1b@A\n")
    long = preview.render(b"\x1b@" + b"A\n" * 10)
    assert long.height > short.height
    small = preview.render(b"\x1b@\x1d!\x00A017\n")
    large = preview.render(b"\x1b@\x1d!\x33A017\n")
    assert _ink(large) > 8 * _ink(small) > 0


def test_preview_width_follows_paper() -> None:
    """58 mm paper (384 dots) renders narrower than 80 mm (576 dots)."""
    data = ticket.render_queue_ticket(TICKET)
    assert preview.render(data, width=384).width < preview.render(data, width=576).width


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_parser_raises_only_declared_errors(data: bytes) -> None:
    """Arbitrary bytes either parse and render or raise EscPosParseError, never anything else."""
    try:
        preview.parse(data)
    except EscPosParseError:
        return
    preview.render(data, width=128)


_COMMAND_PIECES = st.sampled_from(
    [
        b"\x1b@",
        b"\x1ba\x01",
        b"\x1d!\x11",
        b"\x1bE\x01",
        b"\x1bd\x02",
        b"\x1dV\x01",
        b"\x1c&",
        "中文".encode("gb18030"),
        b"ABC",
        b"\n",
        b"\x1d(k\x03\x001C\x04",
        b"\x1d(k\x06\x001P0xyz",
        b"\x1d(k\x03\x001Q0",
        b"\x1dv0\x00\x01\x00\x01\x00\x80",
    ]
)


@settings(max_examples=100, deadline=None)
@given(st.lists(_COMMAND_PIECES, max_size=20), st.integers(min_value=0, max_value=40))
def test_fuzz_truncated_valid_streams(pieces: list[bytes], cut: int) -> None:
    """Valid streams render; any truncation of them renders or raises EscPosParseError only."""
    data = b"".join(pieces)
    preview.render(data, width=200)
    with contextlib.suppress(EscPosParseError):
        preview.render(data[: max(0, len(data) - cut)], width=200)
