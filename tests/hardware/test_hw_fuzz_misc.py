"""Hypothesis fuzzing of the remaining parsers: simulator cores, device URLs, diag options, GB 11643."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.diag.config import parse_device_option
from hardware.errors import ConfigurationError
from hardware.fingerprint.packets import Instruction, Packet
from hardware.fingerprint.sim import FingerprintSimulatorCore
from hardware.idcard import frames, gb11643
from hardware.idcard.fixtures import CARD_FIXTURES
from hardware.idcard.sim import SamSimulatorCore
from hardware.pty import Reply
from hardware.registry import parse_device_url

FUZZ = settings(max_examples=120, deadline=None)

_SAM_COMMANDS = [
    bytes(c) for c in (frames.CMD_FIND, frames.CMD_SELECT, frames.CMD_READ_TEXT_PHOTO, frames.CMD_SAM_ID)
]
_FP_COMMANDS = [
    bytes(Packet.command(i, params))
    for i, params in [
        (Instruction.GEN_IMG, b""),
        (Instruction.IMG2TZ, b"\x01"),
        (Instruction.SEARCH, b"\x01\x00\x00\x00\xc8"),
        (Instruction.STORE, b"\x01\x00\x05"),
        (Instruction.DOWN_CHAR, b"\x02"),
        (Instruction.DELETE_CHAR, b"\x00"),
    ]
]


@FUZZ
@given(st.lists(st.one_of(st.binary(max_size=30), st.sampled_from(_SAM_COMMANDS)), max_size=8))
def test_sam_simulator_survives_any_input(chunks: list[bytes]) -> None:
    """The ID-card simulator answers any byte stream with well-formed frames and never raises."""
    core = SamSimulatorCore(card=CARD_FIXTURES["gat"], latency=0)
    for chunk in chunks:
        for reply in core.receive(chunk):
            assert isinstance(reply, Reply)
            frames.Response.parse(reply.data)


@FUZZ
@given(st.lists(st.one_of(st.binary(max_size=30), st.sampled_from(_FP_COMMANDS)), max_size=8))
def test_fingerprint_simulator_survives_any_input(chunks: list[bytes]) -> None:
    """The fingerprint simulator answers any byte stream with valid packets and never raises."""
    core = FingerprintSimulatorCore(latency=0)
    core.place_finger("resident-1")
    for chunk in chunks:
        for reply in core.receive(chunk):
            assert isinstance(reply, Reply)
            assert reply.data.startswith(b"\xef\x01")


@FUZZ
@given(st.text(max_size=60))
def test_url_and_option_parsers_raise_only_configuration_errors(text: str) -> None:
    """Device URLs and --device options either parse or raise ConfigurationError."""
    with contextlib.suppress(ConfigurationError):
        parse_device_url(text)
    with contextlib.suppress(ConfigurationError):
        parse_device_option(text)


@FUZZ
@given(st.text(max_size=20))
def test_gb11643_is_total(text: str) -> None:
    """is_valid never raises, and anything it accepts is 18 characters with a correct check."""
    if gb11643.is_valid(text):
        assert len(text) == 18 and gb11643.check_character(text[:17]) == text[17].upper()
