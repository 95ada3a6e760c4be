"""Golden-frame tests for the SAM frame codec (spec §1.2-§1.5), each with a corrupt twin."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hardware.errors import ProtocolError
from hardware.idcard import frames
from hardware.idcard.frames import Command, FrameDecoder, Response, xor_checksum

GOLDEN_COMMANDS = {
    "AA AA AA 96 69 00 03 10 FF EC": frames.CMD_RESET_SAM,
    "AA AA AA 96 69 00 03 11 FF ED": frames.CMD_SAM_STATUS,
    "AA AA AA 96 69 00 03 12 FF EE": frames.CMD_SAM_ID,
    "AA AA AA 96 69 00 03 20 01 22": frames.CMD_FIND,
    "AA AA AA 96 69 00 03 20 02 21": frames.CMD_SELECT,
    "AA AA AA 96 69 00 03 30 01 32": frames.CMD_READ_TEXT_PHOTO,
    "AA AA AA 96 69 00 03 30 03 30": frames.CMD_READ_APPENDED_ADDRESS,
    "AA AA AA 96 69 00 03 30 10 23": frames.CMD_READ_TEXT_PHOTO_FINGERPRINT,
    "AA AA AA 96 69 00 04 61 FF 50 CA": frames.CMD_SET_MAX_RF_BYTES,
}

GOLDEN_RESPONSES = {
    "AA AA AA 96 69 00 04 00 00 90 94": Response(0x90),
    "AA AA AA 96 69 00 04 00 00 60 64": Response(0x60),
    "AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97": Response(0x9F, bytes(4)),
    "AA AA AA 96 69 00 04 00 00 80 84": Response(0x80),
    "AA AA AA 96 69 00 0C 00 00 90 00 00 00 00 00 00 00 00 9C": Response(0x90, bytes(8)),
    "AA AA AA 96 69 00 04 00 00 81 85": Response(0x81),
    "AA AA AA 96 69 00 04 00 00 41 45": Response(0x41),
}


def _hex(text: str) -> bytes:
    return bytes.fromhex(text)


@pytest.mark.parametrize(("wire", "command"), GOLDEN_COMMANDS.items())
def test_command_golden_frames_serialise_and_parse(wire: str, command: Command) -> None:
    """Each command from the spec table serialises to the published bytes and parses back."""
    assert bytes(command) == _hex(wire)
    assert Command.parse(_hex(wire)) == command


@pytest.mark.parametrize(("wire", "response"), GOLDEN_RESPONSES.items())
def test_response_golden_frames_serialise_and_parse(wire: str, response: Response) -> None:
    """Each short reply from the spec serialises to the published bytes and parses back."""
    assert bytes(response) == _hex(wire)
    assert Response.parse(_hex(wire)) == response


@pytest.mark.parametrize(
    ("wire", "parser"),
    [(w, Command.parse) for w in GOLDEN_COMMANDS] + [(w, Response.parse) for w in GOLDEN_RESPONSES],
)
def test_truncated_twin_raises(wire: str, parser: Callable[[bytes], object]) -> None:
    """A golden frame missing its last byte is rejected as truncated."""
    with pytest.raises(ProtocolError) as info:
        parser(_hex(wire)[:-1])
    assert info.value.reason == "truncated"


@pytest.mark.parametrize("wire", [*GOLDEN_COMMANDS, *GOLDEN_RESPONSES])
def test_corrupt_checksum_twin_raises(wire: str) -> None:
    """A golden frame with a flipped checksum is rejected."""
    data = bytearray(_hex(wire))
    data[-1] ^= 0x01
    with pytest.raises(ProtocolError) as info:
        Command.parse(bytes(data))
    assert info.value.reason == "checksum"


def test_known_bad_usb_sample_find_frame_is_rejected() -> None:
    """The public USB sample's find-card frame with checksum 0x21 (0x22 is right) fails."""
    with pytest.raises(ProtocolError) as info:
        Command.parse(_hex("AA AA AA 96 69 00 03 20 01 21"))
    assert info.value.reason == "checksum"


def test_frame_with_trailing_byte_is_rejected() -> None:
    """A frame followed by an extra byte is not a single frame."""
    with pytest.raises(ProtocolError) as info:
        Response.parse(_hex("AA AA AA 96 69 00 04 00 00 90 94 00"))
    assert info.value.reason == "trailing"


def test_frame_with_bad_preamble_is_rejected() -> None:
    """A frame that does not start with AA AA AA 96 69 is rejected."""
    with pytest.raises(ProtocolError) as info:
        Response.parse(_hex("AA AA AB 96 69 00 04 00 00 90 94"))
    assert info.value.reason == "preamble"


def test_read_reply_header_uses_both_length_bytes() -> None:
    """The 1295-byte text+photo reply has LEN 0x0508 = 1288 (not hi << 8 + lo or lo only)."""
    payload = (256).to_bytes(2, "big") + (1024).to_bytes(2, "big") + bytes(256 + 1024)
    wire = bytes(Response(0x90, payload))
    assert len(wire) == 1295
    assert wire[:14] == _hex("AA AA AA 96 69 05 08 00 00 90 01 00 04 00")
    assert Response.parse(wire).data == payload


def test_fingerprint_read_reply_header() -> None:
    """The 2321-byte text+photo+fingerprint reply starts with the published header."""
    payload = _hex("01 00 04 00 04 00") + bytes(256 + 1024 + 1024)
    wire = bytes(Response(0x90, payload))
    assert len(wire) == 2321
    assert wire[:16] == _hex("AA AA AA 96 69 09 0A 00 00 90 01 00 04 00 04 00")


def test_xor_checksum_excludes_preamble() -> None:
    """The checksum covers LEN..DATA only."""
    assert xor_checksum(_hex("00 03 20 01")) == 0x22


def test_decoder_resynchronises_after_malformed_prefix() -> None:
    """Bytes like AA 00 before a real preamble are skipped (Qt client quirk)."""
    decoder = FrameDecoder()
    decoder.feed(_hex("AA 00") + _hex("AA AA AA 96 69 00 04 00 00 90 94"))
    assert decoder.next_frame() == _hex("AA AA AA 96 69 00 04 00 00 90 94")
    assert decoder.discarded == 2
    assert decoder.next_frame() is None


def test_decoder_reassembles_byte_by_byte() -> None:
    """A frame fed one byte at a time comes out whole, once."""
    wire = _hex("AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97")
    decoder = FrameDecoder()
    out = []
    for byte in wire:
        decoder.feed(bytes([byte]))
        frame = decoder.next_frame()
        if frame is not None:
            out.append(frame)
    assert out == [wire]


def test_decoder_reports_bytes_wanted() -> None:
    """bytes_wanted() asks for the header first, then exactly the rest of the frame."""
    decoder = FrameDecoder()
    assert decoder.bytes_wanted() == 7
    decoder.feed(_hex("AA AA AA 96 69 00 04"))
    assert decoder.bytes_wanted() == 4


def test_decoder_drops_corrupt_frame_and_continues() -> None:
    """A bad-checksum frame raises once; the following good frame is still decoded."""
    good = _hex("AA AA AA 96 69 00 04 00 00 90 94")
    bad = good[:-1] + b"\x00"
    decoder = FrameDecoder()
    decoder.feed(bad + good)
    with pytest.raises(ProtocolError):
        decoder.next_frame()
    assert decoder.next_frame() == good


def test_decoder_rejects_impossible_length_then_resyncs() -> None:
    """A preamble followed by a huge length is skipped and the real frame found."""
    good = _hex("AA AA AA 96 69 00 04 00 00 90 94")
    decoder = FrameDecoder()
    decoder.feed(_hex("AA AA AA 96 69 FF FF") + good)
    with pytest.raises(ProtocolError) as info:
        decoder.next_frame()
    assert info.value.reason == "length"
    assert decoder.next_frame() == good


def test_decoder_keeps_partial_preamble_tail() -> None:
    """Garbage ending in the start of a preamble keeps that tail for the next feed."""
    decoder = FrameDecoder()
    decoder.feed(_hex("01 02 AA AA"))
    assert decoder.next_frame() is None
    assert decoder.discarded == 2
    decoder.feed(_hex("AA 96 69 00 04 00 00 90 94"))
    assert decoder.next_frame() == _hex("AA AA AA 96 69 00 04 00 00 90 94")
