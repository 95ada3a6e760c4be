"""Golden packets for the R30x protocol (spec §2.1-§2.4), corrupt twins, tables and fuzzing."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.errors import ProtocolError
from hardware.fingerprint import (
    AddressMismatch,
    EnrollMismatch,
    FingerNotDetected,
    FingerprintStatusError,
    PoorImage,
    SystemParameters,
    WrongPassword,
)
from hardware.fingerprint.codes import CONFIRMATION_TABLE, error_for_code
from hardware.fingerprint.packets import Instruction, Packet, PacketDecoder, Pid, checksum, split_data

GOLDEN = {
    "EF 01 FF FF FF FF 01 00 03 01 00 05": Packet.command(Instruction.GEN_IMG),
    "EF 01 FF FF FF FF 01 00 07 13 00 00 00 00 00 1B": Packet.command(Instruction.VFY_PWD, bytes(4)),
    "EF 01 FF FF FF FF 07 00 03 00 00 0A": Packet.ack(0x00),
}


def _hex(text: str) -> bytes:
    return bytes.fromhex(text)


@pytest.mark.parametrize(("wire", "packet"), GOLDEN.items())
def test_golden_packets(wire: str, packet: Packet) -> None:
    """The spec's worked examples serialise byte for byte and parse back."""
    assert bytes(packet) == _hex(wire)
    assert Packet.parse(_hex(wire)) == packet


@pytest.mark.parametrize("wire", GOLDEN)
def test_truncated_twin(wire: str) -> None:
    """A golden packet missing its last byte is rejected as truncated."""
    with pytest.raises(ProtocolError) as info:
        Packet.parse(_hex(wire)[:-1])
    assert info.value.reason == "truncated"


@pytest.mark.parametrize("wire", GOLDEN)
def test_corrupt_checksum_twin(wire: str) -> None:
    """A golden packet with a wrong checksum is rejected (unlike adafruit's reader)."""
    data = bytearray(_hex(wire))
    data[-1] ^= 0x40
    with pytest.raises(ProtocolError) as info:
        Packet.parse(bytes(data))
    assert info.value.reason == "checksum"


def test_unknown_pid_and_bad_header_are_rejected() -> None:
    """A packet with PID 0x05 or without EF 01 is rejected."""
    data = bytearray(_hex("EF 01 FF FF FF FF 07 00 03 00 00 0A"))
    data[6] = 0x05
    with pytest.raises(ProtocolError):
        Packet.parse(bytes(data))
    with pytest.raises(ProtocolError):
        Packet.parse(_hex("EF 02 FF FF FF FF 07 00 03 00 00 0A"))


def test_checksum_is_16_bit_sum() -> None:
    """The checksum sums PID, length and payload modulo 65536."""
    assert checksum(0x01, b"\x01") == 0x05
    assert checksum(0x02, b"\xff" * 256) == (0x02 + 0x01 + 0x02 + 0xFF * 256) & 0xFFFF


def test_split_data_marks_last_packet() -> None:
    """A 512-byte template in 128-byte packets is three DATA packets and one END."""
    packets = split_data(bytes(512), 128)
    assert [p.pid for p in packets] == [Pid.DATA, Pid.DATA, Pid.DATA, Pid.END]
    assert b"".join(p.payload for p in packets) == bytes(512)


def test_decoder_resyncs_and_reassembles() -> None:
    """Garbage before a packet is skipped and a byte-by-byte feed yields the packet once."""
    wire = b"\x00\xef\x00" + _hex("EF 01 FF FF FF FF 07 00 03 00 00 0A")
    decoder = PacketDecoder()
    out = []
    for byte in wire:
        decoder.feed(bytes([byte]))
        packet = decoder.next_packet()
        if packet is not None:
            out.append(packet)
    assert out == [Packet.ack(0)]
    assert decoder.discarded == 3


def test_system_parameters_round_trip() -> None:
    """The 16-byte ReadSysPara block decodes capacity, level, packet size and baud."""
    params = SystemParameters(0x0004, 0x0000, 200, 3, 0xFFFFFFFF, 2, 6)
    raw = bytes(params)
    assert raw == _hex("00 04 00 00 00 C8 00 03 FF FF FF FF 00 02 00 06")
    decoded = SystemParameters.parse(raw)
    assert (decoded.packet_size, decoded.baud_rate) == (128, 57600)
    with pytest.raises(ProtocolError):
        SystemParameters.parse(raw[:-1])
    with pytest.raises(ProtocolError):
        SystemParameters.parse(raw[:12] + b"\x00\x07" + raw[14:])


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (0x02, FingerNotDetected),
        (0x03, PoorImage),
        (0x06, PoorImage),
        (0x07, PoorImage),
        (0x0A, EnrollMismatch),
        (0x13, WrongPassword),
        (0x21, WrongPassword),
        (0x20, AddressMismatch),
        (0x18, FingerprintStatusError),
        (0x1F, FingerprintStatusError),
        (0xF3, FingerprintStatusError),
    ],
)
def test_confirmation_codes_map_to_errors(code: int, error: type[Exception]) -> None:
    """Confirmation codes map to the tabled exception types, unknown ones to the generic one."""
    err = error_for_code(code, "store")
    assert type(err) is error
    assert getattr(err, "status", None) == code


def test_confirmation_table_covers_spec_range() -> None:
    """Every code 0x01-0x21 of spec §2.3 has a meaning."""
    assert set(range(0x01, 0x22)) <= set(CONFIRMATION_TABLE)


_SEEDS = [bytes(p) for p in GOLDEN.values()] + [bytes(p) for p in split_data(bytes(range(200)), 64)]


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(_SEEDS)))
    for _ in range(draw(st.integers(0, 3))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
    cut = draw(st.integers(0, len(data)))
    return bytes(data[:cut]) if draw(st.booleans()) else bytes(data)


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.binary(max_size=80), _mutated()))
def test_packet_parse_raises_only_protocol_errors(data: bytes) -> None:
    """Packet.parse accepts (and round-trips) or raises ProtocolError."""
    try:
        packet = Packet.parse(data)
    except ProtocolError:
        return
    assert bytes(packet) == data


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=40), _mutated()), max_size=5), st.integers(1, 9))
def test_packet_decoder_raises_only_protocol_errors(chunks: list[bytes], step: int) -> None:
    """The stream decoder yields packets or ProtocolError for any input and chunking."""
    decoder = PacketDecoder()
    stream = b"".join(chunks)
    for start in range(0, len(stream), step):
        decoder.feed(stream[start : start + step])
        for _ in range(len(stream) + 1):
            try:
                if decoder.next_packet() is None:
                    break
            except ProtocolError:
                continue


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=20))
def test_system_parameters_parse_raises_only_protocol_errors(data: bytes) -> None:
    """SystemParameters.parse accepts or raises ProtocolError."""
    with contextlib.suppress(ProtocolError):
        SystemParameters.parse(data)
