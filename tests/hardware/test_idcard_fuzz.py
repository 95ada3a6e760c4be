"""Hypothesis fuzzing: every ID-card parser raises only ProtocolError on arbitrary input."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.errors import ProtocolError
from hardware.idcard.fixtures import CARD_FIXTURES
from hardware.idcard.frames import Command, FrameDecoder, Response
from hardware.idcard.payload import (
    build_read_payload,
    parse_appended_address,
    parse_read_payload,
    parse_sam_id,
)
from hardware.idcard.text import decode_text_block

FUZZ = settings(max_examples=150, deadline=None)

_GOOD_FRAMES = [bytes(Response(0x90, bytes(8))), bytes(Response(0x9F, bytes(4))), bytes(Command(0x20, 0x01))]


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed with a few bytes flipped, inserted or removed."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 4))):
        if not data:
            break
        index = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "insert", "delete"]))
        if action == "flip":
            data[index] ^= draw(st.integers(1, 255))
        elif action == "insert":
            data.insert(index, draw(st.integers(0, 255)))
        else:
            del data[index]
    return bytes(data)


frames_or_junk = st.one_of(st.binary(max_size=64), mutated(_GOOD_FRAMES))


@FUZZ
@given(frames_or_junk)
def test_command_parse_raises_only_protocol_errors(data: bytes) -> None:
    """Command.parse accepts or raises ProtocolError, and accepted frames round-trip."""
    try:
        command = Command.parse(data)
    except ProtocolError:
        return
    assert bytes(command) == data


@FUZZ
@given(frames_or_junk)
def test_response_parse_raises_only_protocol_errors(data: bytes) -> None:
    """Response.parse accepts or raises ProtocolError, and accepted frames round-trip."""
    try:
        response = Response.parse(data)
    except ProtocolError:
        return
    assert bytes(response) == data


@FUZZ
@given(st.lists(frames_or_junk, max_size=6), st.integers(1, 16))
def test_decoder_raises_only_protocol_errors(chunks: list[bytes], step: int) -> None:
    """The stream decoder, fed any bytes in any chunking, yields valid frames or ProtocolError."""
    decoder = FrameDecoder()
    stream = b"".join(chunks)
    for start in range(0, len(stream), step):
        decoder.feed(stream[start : start + step])
        while True:
            try:
                frame = decoder.next_frame()
            except ProtocolError:
                continue
            if frame is None:
                break
            Response.parse(frame)  # whatever the decoder emits is a well-formed frame


@FUZZ
@given(
    st.binary(max_size=64).map(lambda b: b.replace(b"\xaa", b"")),
    st.sampled_from([b"", b"\xaa", b"\xaa\xaa"]),
)
def test_decoder_finds_good_frame_after_any_garbage(garbage: bytes, tail: bytes) -> None:
    """Garbage (even ending in a partial preamble) before a good frame is skipped."""
    good = bytes(Response(0x90))
    decoder = FrameDecoder()
    decoder.feed(garbage + tail + good)
    assert decoder.next_frame() == good
    assert decoder.discarded == len(garbage) + len(tail)


_TEXT_SEEDS = [card.text_block() for card in CARD_FIXTURES.values()]


@FUZZ
@given(st.one_of(st.binary(min_size=256, max_size=256), mutated(_TEXT_SEEDS)))
def test_text_block_decoder_raises_only_protocol_errors(block: bytes) -> None:
    """decode_text_block accepts or raises ProtocolError for any bytes."""
    with contextlib.suppress(ProtocolError):
        decode_text_block(block)


_PAYLOAD_SEEDS = [
    build_read_payload(bytes(256), bytes(1024), None),
    build_read_payload(bytes(256), bytes(1024), bytes(512)),
]


@FUZZ
@given(st.one_of(st.binary(max_size=64), mutated(_PAYLOAD_SEEDS)), st.booleans())
def test_read_payload_parser_raises_only_protocol_errors(data: bytes, fingerprint: bool) -> None:
    """parse_read_payload accepts or raises ProtocolError for any bytes."""
    with contextlib.suppress(ProtocolError):
        parse_read_payload(data, with_fingerprint=fingerprint)


@FUZZ
@given(st.binary(max_size=80))
def test_small_payload_parsers_raise_only_protocol_errors(data: bytes) -> None:
    """The appended-address and SAM-ID parsers accept or raise ProtocolError."""
    for parser in (parse_appended_address, parse_sam_id):
        with contextlib.suppress(ProtocolError):
            parser(data)
