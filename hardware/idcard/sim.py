"""A SAM ID-card reader simulator that speaks the real protocol (spec §7.1).

:class:`SamSimulatorCore` is pure: bytes in, :class:`~hardware.pty.Reply` items
out.  It reproduces the reader's state machine (NO_CARD → PRESENT → FOUND →
SELECTED → READ, where a read card must leave the field before the next find
succeeds), latencies, and the faults of §7.1.  :class:`SimIdCardReader` is the real
:class:`~hardware.idcard.driver.SamIdCardReader` talking to that core over a real
pseudo-terminal served from a background thread it owns.

URL: ``sim://idcard?card=resident-male&fault=sam-failure&latency=0.2&timeout_scale=1``
(``latency`` is the per-command delay in seconds; without it a realistic profile
with wire time at ``baud`` is used; ``card=none`` starts with an empty field).
"""

from __future__ import annotations

import enum
import threading
import urllib.parse
from collections.abc import Iterable, Mapping

from hardware.clock import Clock
from hardware.errors import ConfigurationError, ProtocolError
from hardware.idcard.driver import SamIdCardReader
from hardware.idcard.fixtures import CARD_FIXTURES, CardFixture
from hardware.idcard.frames import (
    CMD_FIND,
    CMD_READ_APPENDED_ADDRESS,
    CMD_READ_TEXT_PHOTO,
    CMD_READ_TEXT_PHOTO_FINGERPRINT,
    CMD_RESET_SAM,
    CMD_SAM_ID,
    CMD_SAM_STATUS,
    CMD_SELECT,
    CMD_SET_MAX_RF_BYTES,
    Command,
    FrameDecoder,
    Response,
)
from hardware.idcard.payload import build_read_payload
from hardware.idcard.photo import FakeWltDecoder
from hardware.pty import HANGUP, Hangup, PtyServedDevice, Reply, no_port
from hardware.stats import Statistics

__all__ = [
    "FAULTS",
    "REALISTIC_LATENCY",
    "CardState",
    "SamSimulatorCore",
    "SimIdCardReader",
    "open_sim_idcard_reader",
]

REALISTIC_LATENCY: dict[tuple[int, int], float] = {
    CMD_RESET_SAM.key: 0.2,
    CMD_SAM_STATUS.key: 0.05,
    CMD_SAM_ID.key: 0.05,
    CMD_FIND.key: 0.1,
    CMD_SELECT.key: 0.1,
    CMD_READ_TEXT_PHOTO.key: 0.6,
    CMD_READ_TEXT_PHOTO_FINGERPRINT.key: 0.8,
    CMD_READ_APPENDED_ADDRESS.key: 0.2,
    CMD_SET_MAX_RF_BYTES.key: 0.02,
}
"""Default per-command latency in seconds (spec §7.1: find/select 50-200 ms, read 400-1000 ms)."""

FAULTS: dict[str, str] = {
    "sam-failure": "SAM status and reads answer 0x60 (self-test failed)",
    "sam-unauthorised": "SAM status and reads answer 0x66 (SAM not authorised)",
    "card-removed": "the read reply stops half-way and the card leaves the field",
    "card-removed-41": "the read answers 0x41 and the card leaves the field",
    "bad-checksum": "every reply carries a wrong checksum",
    "timeout": "the reader never answers",
    "unplugged": "the device disappears at the next command",
    "wrong-baud": "replies arrive as line noise",
    "unknown-card": "the read answers 0x40 (unrecognised card type)",
    "card-rejected": "the read answers 0x32 (SAM failed to authenticate the card)",
    "garbage-prefix": "replies are preceded by stray bytes (harmless; tests resync)",
    "dribble": "replies arrive two bytes at a time (harmless; tests reassembly)",
    "usb-chunks": "replies arrive in 64-byte packets (harmless)",
}
"""Injectable faults and what they do."""

_READS = (CMD_READ_TEXT_PHOTO.key, CMD_READ_TEXT_PHOTO_FINGERPRINT.key)
_SAM_COMMANDS = (CMD_SAM_STATUS.key, CMD_SAM_ID.key, CMD_RESET_SAM.key)
_SAM_FAULT_SW3 = {"sam-failure": 0x60, "sam-unauthorised": 0x66}
_READ_FAULT_SW3 = {"card-removed-41": 0x41, "unknown-card": 0x40, "card-rejected": 0x32}
_SAM_ID = bytes([0x05, 0x00, 0x01, 0x00]) + (20230101).to_bytes(4, "little") + (1).to_bytes(4, "little")
_SAM_ID += (42).to_bytes(4, "little")


class CardState(enum.Enum):
    """Where the simulated card is in the reader's state machine."""

    NO_CARD = "no_card"
    PRESENT = "present"
    FOUND = "found"
    SELECTED = "selected"
    READ = "read"


class SamSimulatorCore:
    """The reader's behaviour, with no I/O: feed host bytes, get replies.

    Control methods (``insert_card``, ``remove_card``, ``set_fault``…) are
    thread-safe so tests and the diagnostics "resident" can act while the pty
    thread serves the driver.
    """

    def __init__(
        self,
        *,
        card: CardFixture | None = None,
        latency: float | Mapping[tuple[int, int], float] | None = None,
        baud: int = 115200,
        faults: Iterable[str] = (),
    ) -> None:
        self._lock = threading.Lock()
        self._decoder = FrameDecoder(min_body=2)
        self._card = card
        self.state = CardState.PRESENT if card is not None else CardState.NO_CARD
        self._wire = latency is None
        if latency is None:
            self._latency: Mapping[tuple[int, int], float] = REALISTIC_LATENCY
        elif isinstance(latency, Mapping):
            self._latency = dict(latency)
        else:
            self._latency = dict.fromkeys(REALISTIC_LATENCY, float(latency))
        self.baud = baud
        self._faults: dict[str, bool] = {}
        for name in faults:
            self.set_fault(name)
        self.commands: list[tuple[int, int]] = []
        """Every well-formed command received, in order (for tests)."""

    # ------------------------------------------------------------------ control

    def insert_card(self, card: CardFixture) -> None:
        """Put ``card`` in the RF field (replacing any card there)."""
        with self._lock:
            self._card = card
            self.state = CardState.PRESENT

    def remove_card(self) -> None:
        """Take the card out of the field."""
        with self._lock:
            self._card = None
            self.state = CardState.NO_CARD

    @property
    def card(self) -> CardFixture | None:
        """The card in the field, if any."""
        return self._card

    def set_fault(self, name: str, *, once: bool = False) -> None:
        """Inject fault ``name`` (see :data:`FAULTS`); ``once`` clears it after one use."""
        if name not in FAULTS:
            raise ConfigurationError(f"unknown ID-card fault {name!r}; known: {', '.join(FAULTS)}")
        with self._lock:
            self._faults[name] = once

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        with self._lock:
            self._faults.clear()

    def expected_latency(self, command: Command, reply_size: int) -> float:
        """Configured device latency for ``command`` including wire time when enabled."""
        wire = (len(bytes(command)) + reply_size) * 10 / self.baud if self._wire else 0.0
        return self._latency.get(command.key, 0.0) + wire

    # ----------------------------------------------------------------- protocol

    def receive(self, data: bytes) -> list[Reply | Hangup]:
        """Consume host bytes; return the replies to send."""
        with self._lock:
            self._decoder.feed(data)
            out: list[Reply | Hangup] = []
            while True:
                try:
                    frame = self._decoder.next_frame()
                except ProtocolError as err:
                    out.append(Reply(bytes(Response(0x10 if err.reason == "checksum" else 0x11))))
                    continue
                if frame is None:
                    return out
                try:
                    command = Command.parse(frame)
                except ProtocolError:
                    out.append(Reply(bytes(Response(0x11))))
                    continue
                self.commands.append(command.key)
                out.extend(self._handle(command))

    def _take(self, name: str) -> bool:
        if name not in self._faults:
            return False
        if self._faults[name]:
            del self._faults[name]
        return True

    def _handle(self, command: Command) -> list[Reply | Hangup]:
        if self._take("unplugged"):
            return [HANGUP]
        if self._take("timeout"):
            return []
        response, truncate = self._respond(command)
        frame = bytes(response)
        if truncate:
            frame = frame[: len(frame) // 2]
        if self._take("bad-checksum"):
            frame = frame[:-1] + bytes([frame[-1] ^ 0xFF])
        if self._take("wrong-baud"):
            frame = bytes(0x3C if i % 2 else 0xC3 for i in range(len(frame)))
        if self._take("garbage-prefix"):
            frame = b"\x13\x37\xaa\x00" + frame
        chunk, gap = None, 0.0
        if self._take("dribble"):
            chunk, gap = 2, 0.0005
        elif self._take("usb-chunks"):
            chunk = 64
        delay = self.expected_latency(command, len(frame))
        return [Reply(frame, delay=delay, chunk=chunk, gap=gap)]

    def _respond(self, command: Command) -> tuple[Response, bool]:
        key = command.key
        sam_fault = next((sw for name, sw in _SAM_FAULT_SW3.items() if name in self._faults), None)
        if key in _SAM_COMMANDS:
            if sam_fault is not None and key != CMD_SAM_ID.key:
                return Response(sam_fault), False
            return Response(0x90, _SAM_ID if key == CMD_SAM_ID.key else b""), False
        if key == CMD_SET_MAX_RF_BYTES.key:
            return Response(0x90), False
        if key == CMD_FIND.key:
            if self.state in (CardState.PRESENT, CardState.FOUND):
                self.state = CardState.FOUND
                return Response(0x9F, bytes(4)), False
            return Response(0x80), False
        if key == CMD_SELECT.key:
            if self.state is CardState.FOUND:
                self.state = CardState.SELECTED
                return Response(0x90, bytes(8)), False
            return Response(0x81), False
        if key in _READS:
            return self._read(key == CMD_READ_TEXT_PHOTO_FINGERPRINT.key, sam_fault)
        if key == CMD_READ_APPENDED_ADDRESS.key:
            card = self._card
            if self.state is not CardState.READ or card is None:
                return Response(0x41), False
            if card.appended_address is None:
                return Response(0x91), False
            return Response(0x90, _pad_utf16(card.appended_address, 70)), False
        return Response(0x21), False

    def _read(self, fingerprint: bool, sam_fault: int | None) -> tuple[Response, bool]:
        card = self._card
        if self.state is not CardState.SELECTED or card is None:
            return Response(0x41), False
        if sam_fault is not None:
            return Response(sam_fault), False
        fault = next((name for name in _READ_FAULT_SW3 if name in self._faults), None)
        if fault is not None:
            self._take(fault)
            if fault == "card-removed-41":
                self._card, self.state = None, CardState.NO_CARD
            return Response(_READ_FAULT_SW3[fault]), False
        payload = build_read_payload(
            card.text_block(), card.photo_blob(), card.fingerprint_block() if fingerprint else None
        )
        if self._take("card-removed"):
            self._card, self.state = None, CardState.NO_CARD
            return Response(0x90, payload), True
        self.state = CardState.READ
        return Response(0x90, payload), False


def _pad_utf16(text: str, size: int) -> bytes:
    encoded = text.encode("utf-16-le")
    return encoded + " ".encode("utf-16-le") * ((size - len(encoded)) // 2)


class SimIdCardReader(PtyServedDevice, SamIdCardReader):
    """The real SAM driver wired to a :class:`SamSimulatorCore` over a real pty.

    The simulator thread starts in ``open()`` and stops in ``close()``.
    """

    core: SamSimulatorCore

    def __init__(
        self,
        core: SamSimulatorCore,
        *,
        name: str | None = None,
        clock: Clock | None = None,
        statistics: Statistics | None = None,
        timeout_scale: float = 1.0,
        default_card: CardFixture | None = None,
    ) -> None:
        super().__init__(
            no_port,
            name=name,
            clock=clock,
            statistics=statistics,
            photo_decoder=FakeWltDecoder(),
            timeout_scale=timeout_scale,
            interface="sim",
        )
        self.core = core
        self.default_card = default_card or core.card or CARD_FIXTURES["resident-male"]

    def _simulate_user(self, prompt: str) -> None:
        if prompt == "place_card" and self.core.state in (CardState.NO_CARD, CardState.READ):
            self.core.insert_card(self.core.card or self.default_card)
        elif prompt == "remove_card":
            self.core.remove_card()
        elif prompt == "replace_card":
            self.core.insert_card(self.default_card)


def open_sim_idcard_reader(
    url: urllib.parse.SplitResult,
    params: dict[str, str],
    *,
    clock: Clock,
    statistics: Statistics,
) -> SimIdCardReader:
    """Registry factory for ``sim://idcard?card=…&fault=…&latency=…&timeout_scale=…``."""
    card_name = params.get("card", "resident-male")
    if card_name != "none" and card_name not in CARD_FIXTURES:
        raise ConfigurationError(f"unknown card {card_name!r}; known: none, {', '.join(CARD_FIXTURES)}")
    faults = [name for name in params.get("fault", "").split(",") if name]
    try:
        latency = float(params["latency"]) if "latency" in params else None
        scale = float(params.get("timeout_scale", "1"))
        baud = int(params.get("baud", "115200"))
    except ValueError as err:
        raise ConfigurationError("latency, timeout_scale and baud must be numbers") from err
    card = None if card_name == "none" else CARD_FIXTURES[card_name]
    core = SamSimulatorCore(card=card, latency=latency, baud=baud, faults=faults)
    return SimIdCardReader(
        core,
        clock=clock,
        statistics=statistics,
        timeout_scale=scale,
        default_card=card or CARD_FIXTURES["resident-male"],
    )
