"""The real SAM driver against the simulator over a real pseudo-terminal, including every §7.1 fault."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hardware import open_device
from hardware.device import Availability, DeviceEvent, DeviceState, ErrorOccurred, StatusChanged
from hardware.errors import ConnectionLost, DeviceTimeout, LineNoise, NoHardware, ProtocolError
from hardware.health import HealthLevel, RecommendedAction
from hardware.idcard import (
    CardAlreadyRead,
    CardNotPresent,
    CardNotSupported,
    CardReadInterrupted,
    CardRejected,
    CardType,
    IdCardStatusError,
    InvalidCardData,
    SamFailure,
)
from hardware.idcard.fixtures import CARD_FIXTURES
from hardware.idcard.frames import CMD_FIND, Command, Response
from hardware.idcard.sim import CardState, SamSimulatorCore, SimIdCardReader

FAST = "latency=0"
"""No device latency; real timeouts, so a loaded machine cannot fake a timeout."""


def _short_timeouts(device: SimIdCardReader) -> None:
    """Scale timeouts to 10 % for tests that must wait one out."""
    device.timeouts = {key: value * 0.1 for key, value in device.timeouts.items()}


@pytest.fixture
def reader(no_leaked_threads: None) -> Iterator[SimIdCardReader]:
    """An enabled simulated reader with the resident-male card in the field."""
    device = open_device("idcard", f"sim://idcard?card=resident-male&{FAST}")
    assert isinstance(device, SimIdCardReader)
    with device:
        yield device


def _open(query: str) -> SimIdCardReader:
    device = open_device("idcard", f"sim://idcard?{query}&{FAST}")
    assert isinstance(device, SimIdCardReader)
    return device


@pytest.mark.parametrize(
    ("card", "card_type"),
    [
        ("resident-male", CardType.RESIDENT),
        ("resident-female", CardType.RESIDENT),
        ("gat", CardType.GAT),
        ("foreigner-2017", CardType.FOREIGN_2017),
        ("foreigner-2023", CardType.FOREIGN_2023),
    ],
)
def test_reads_every_layout_through_the_pty(card: str, card_type: CardType, no_leaked_threads: None) -> None:
    """Each fixture is read by the real driver and decodes to its layout and ID number."""
    with _open(f"card={card}") as device:
        data = device.read_card(validate=True)
    assert data.card_type is card_type
    assert data.id_number == CARD_FIXTURES[card].values["id_number"]
    assert data.photo_raw.startswith(b"WLf") and len(data.photo_raw) == 1024


@pytest.mark.parametrize(
    ("card", "size", "frame"),
    [
        ("resident-with-fingerprint", 1024, 2321),
        ("resident-fingerprint-512", 512, 1809),
        ("resident-male", 0, 1297),
    ],
)
def test_fingerprint_reads_have_spec_frame_sizes(
    card: str, size: int, frame: int, no_leaked_threads: None
) -> None:
    """Read text+photo+fingerprint gives 2321/1809/1297-byte frames for 1024/512/0 fingerprint bytes."""
    with _open(f"card={card}") as device:
        link = device._link
        assert link is not None
        before = link.bytes_read
        data = device.read_card(fingerprint=True)
        assert len(data.fingerprint_raw) == size
        find_and_select = 15 + 19
        assert link.bytes_read - before == find_and_select + frame


def test_card_must_be_removed_after_read(reader: SimIdCardReader) -> None:
    """After one read, the next read fails with CardAlreadyRead until the card is re-presented."""
    reader.read_card()
    assert reader.status().detail["media"] == "already_read"
    with pytest.raises(CardAlreadyRead) as info:
        reader.read_card()
    assert info.value.prompt == "remove_card"
    assert reader.core.state is CardState.READ
    reader.core.insert_card(CARD_FIXTURES["resident-male"])
    assert reader.read_card().name == "张示例"


def test_no_card_asks_resident_to_place_one(no_leaked_threads: None) -> None:
    """An empty field raises CardNotPresent with the place_card prompt; state stays IDLE."""
    with _open("card=none") as device:
        with pytest.raises(CardNotPresent) as info:
            device.read_card()
        assert info.value.prompt == "place_card"
        assert device.state is DeviceState.IDLE
        assert device.statistics.get("read_card.needs_user") == 1


def test_appended_address_present_and_absent(no_leaked_threads: None) -> None:
    """30 03 returns the newest address, or None when the card answers 0x91."""
    with _open("card=resident-female") as device:
        assert device.read_card(appended_address=True).appended_address == "上海市徐汇区新址示例路8号"
    with _open("card=resident-male") as device:
        assert device.read_card(appended_address=True).appended_address is None


def test_validate_rejects_bad_checksum_card(no_leaked_threads: None) -> None:
    """read_card(validate=True) raises InvalidCardData naming the failed check, no personal data."""
    with _open("card=bad-checksum") as device, pytest.raises(InvalidCardData) as info:
        device.read_card(validate=True)
    assert info.value.problems == ("checksum",)
    assert "310101198001010019" not in str(info.value)


def test_sam_id_and_status(reader: SimIdCardReader) -> None:
    """SAM status passes and the SAM ID is formatted for display."""
    reader.sam_status()
    assert str(reader.sam_id()) == "05.01-20230101-000000001-000000042"
    reader.reset_sam()


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("sam-failure", SamFailure),
        ("sam-unauthorised", SamFailure),
    ],
)
def test_sam_faults(fault: str, error: type[Exception], no_leaked_threads: None) -> None:
    """SAM self-test failure (0x60) and unauthorised SAM (0x66) raise SamFailure and set ERROR."""
    with _open(f"fault={fault}") as device:
        with pytest.raises(error) as info:
            device.sam_status()
        assert device.state is DeviceState.ERROR
        assert device.status().detail["sam"] == "failed"
        assert getattr(info.value, "status", None) in (0x60, 0x66)
        result = device.check_health(HealthLevel.INTERNAL)
        assert not result.ok
        assert result.recommended_action is RecommendedAction.MAINTENANCE


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("card-removed-41", CardReadInterrupted),
        ("unknown-card", CardNotSupported),
        ("card-rejected", CardRejected),
    ],
)
def test_card_faults_on_read(fault: str, error: type[Exception], reader: SimIdCardReader) -> None:
    """Read failures signalled by SW3 0x41/0x40/0x32 map to the tabled card errors."""
    reader.core.set_fault(fault, once=True)
    with pytest.raises(error):
        reader.read_card()
    assert reader.state is DeviceState.IDLE


def test_card_removed_mid_read_times_out_with_partial_frame(reader: SimIdCardReader) -> None:
    """A reply cut off half-way (card pulled) raises DeviceTimeout recording the partial bytes."""
    _short_timeouts(reader)
    reader.core.set_fault("card-removed", once=True)
    with pytest.raises(DeviceTimeout) as info:
        reader.read_card()
    assert info.value.received > 0
    assert reader.state is DeviceState.ERROR
    reader.core.insert_card(CARD_FIXTURES["resident-male"])
    reader.read_card()
    assert reader.status().state is DeviceState.IDLE


def test_bad_checksum_reply_is_a_protocol_error(reader: SimIdCardReader) -> None:
    """A reply with a corrupt checksum raises ProtocolError and counts it."""
    reader.core.set_fault("bad-checksum", once=True)
    with pytest.raises(ProtocolError) as info:
        reader.sam_status()
    assert info.value.reason == "checksum"
    assert reader.statistics.get("protocol_errors") == 1


def test_hung_device_times_out(reader: SimIdCardReader) -> None:
    """A reader that never answers raises DeviceTimeout; the availability goes OFFLINE."""
    _short_timeouts(reader)
    reader.core.set_fault("timeout", once=True)
    with pytest.raises(DeviceTimeout):
        reader.sam_status()
    assert reader.status().availability is Availability.OFFLINE
    reader.sam_status()
    assert reader.status().availability is Availability.ONLINE


def test_unplugged_device_loses_connection(reader: SimIdCardReader) -> None:
    """When the device disappears mid-session, I/O raises ConnectionLost and ERROR is entered."""
    _short_timeouts(reader)
    events: list[DeviceEvent] = []
    reader.subscribe(events.append)
    reader.core.set_fault("unplugged")
    with pytest.raises((ConnectionLost, DeviceTimeout)):
        reader.read_card()
    with pytest.raises(ConnectionLost):
        reader.sam_status()
    assert reader.state is DeviceState.ERROR
    assert reader.status().availability is Availability.NO_DEVICE
    assert any(isinstance(e, ErrorOccurred) and e.code == "ConnectionLost" for e in events)


def test_wrong_baud_rate_is_line_noise(reader: SimIdCardReader) -> None:
    """Replies that never form a frame raise LineNoise recommending a CONFIG check."""
    _short_timeouts(reader)
    reader.core.set_fault("wrong-baud", once=True)
    with pytest.raises(LineNoise) as info:
        reader.sam_status()
    assert info.value.recommended_action is RecommendedAction.CONFIG


@pytest.mark.parametrize("fault", ["garbage-prefix", "dribble", "usb-chunks"])
def test_harmless_transport_quirks_still_read(fault: str, reader: SimIdCardReader) -> None:
    """Leading garbage, 2-byte dribbles and 64-byte chunks are reassembled transparently."""
    reader.core.set_fault(fault)
    assert reader.read_card(fingerprint=True).id_number == "310101198001010018"


def test_direct_io_sends_raw_sam_frames(reader: SimIdCardReader) -> None:
    """direct_io('sam_frame') passes a raw command frame through and returns the raw reply."""
    from hardware.idcard import frames

    assert "sam_frame" in reader.capabilities["direct_io"]
    reply = reader.direct_io("sam_frame", bytes(frames.CMD_SAM_STATUS))
    assert reply == bytes.fromhex("AA AA AA 96 69 00 04 00 00 90 94")


def test_recover_after_unplug(reader: SimIdCardReader) -> None:
    """After the simulated device vanishes and comes back, recover() makes it usable again."""
    reader.unplug()
    with pytest.raises(ConnectionLost):
        reader.sam_status()
    reader.recover()
    reader.sam_status()
    assert reader.status().availability is Availability.ONLINE


def test_missing_serial_port_is_no_hardware(no_leaked_threads: None) -> None:
    """Opening a serial URL whose device does not exist raises NoHardware."""
    device = open_device("idcard", "serial:///dev/does-not-exist-doorstep?baud=115200")
    with pytest.raises(NoHardware):
        device.open()
    assert device.state is DeviceState.CLOSED


def test_health_levels(reader: SimIdCardReader) -> None:
    """INTERNAL checks the SAM; EXTERNAL also reads the test card; INTERACTIVE prompts the resident."""
    internal = reader.check_health(HealthLevel.INTERNAL)
    assert internal.ok and [s.name for s in internal.steps] == ["sam_status", "sam_id"]
    external = reader.check_health(HealthLevel.EXTERNAL)
    assert external.ok and external.steps[-1].detail == "read resident card"
    prompts: list[str] = []
    interactive = reader.check_health(HealthLevel.INTERACTIVE, prompt=prompts.append)
    assert interactive.ok, interactive
    assert prompts == ["place_card", "remove_card"]
    assert reader.check_health_text == "OK"


def test_interactive_check_fails_when_nobody_places_a_card(
    fake_clock: object, no_leaked_threads: None
) -> None:
    """With the fake clock, an interactive check with no card gives up after its timeout."""
    from hardware.clock import FakeClock

    assert isinstance(fake_clock, FakeClock)
    device = open_device("idcard", f"sim://idcard?card=none&{FAST}", clock=fake_clock)
    assert isinstance(device, SimIdCardReader)
    device.default_card = CARD_FIXTURES["resident-male"]
    with device:
        device.core.remove_card()
        device._simulate_user = lambda prompt: None  # type: ignore[method-assign]  # nobody is there
        result = device.check_health(HealthLevel.INTERACTIVE)
    assert not result.ok and result.steps[-1].name == "place_card"
    assert sum(fake_clock.sleeps) >= device.interactive_timeout


def test_wait_for_card_polls_with_injected_clock(fake_clock: object, no_leaked_threads: None) -> None:
    """wait_for_card sleeps on the injected clock between find commands."""
    from hardware.clock import FakeClock

    assert isinstance(fake_clock, FakeClock)
    device = open_device("idcard", f"sim://idcard?card=none&{FAST}", clock=fake_clock)
    assert isinstance(device, SimIdCardReader)
    with device:
        assert device.wait_for_card(timeout=2.0) is False
        assert fake_clock.sleeps == [device.poll_interval] * 4
        device.core.insert_card(CARD_FIXTURES["gat"])
        assert device.wait_for_card(timeout=2.0) is True


def test_cancel_stops_waiting_for_a_card(no_leaked_threads: None) -> None:
    """cancel() from elsewhere makes wait_for_card raise Cancelled at its next poll."""
    from hardware.clock import FakeClock
    from hardware.errors import Cancelled

    class CancellingClock(FakeClock):
        """A fake clock whose second sleep stands for the kiosk cancelling the request."""

        device: SimIdCardReader | None = None

        def sleep(self, seconds: float) -> None:
            super().sleep(seconds)
            if len(self.sleeps) == 2 and self.device is not None:
                self.device.cancel()

    clock = CancellingClock()
    device = open_device("idcard", f"sim://idcard?card=none&{FAST}", clock=clock)
    assert isinstance(device, SimIdCardReader)
    clock.device = device
    with device:
        with pytest.raises(Cancelled):
            device.wait_for_card(timeout=30.0)
        assert device.status().state is DeviceState.IDLE
        assert device.statistics.get("wait_for_card.cancelled") == 1
        device.core.insert_card(CARD_FIXTURES["gat"])
        assert device.wait_for_card(timeout=1.0)  # a later operation is not affected


def test_status_events_fire_only_on_change(reader: SimIdCardReader) -> None:
    """Reading twice in a row publishes media=present then already_read once each."""
    events: list[DeviceEvent] = []
    reader.subscribe(events.append)
    reader.read_card()
    with pytest.raises(CardAlreadyRead):
        reader.read_card()
    media = [e.detail["media"] for e in events if isinstance(e, StatusChanged)]
    assert media == ["present", "already_read"]


def test_decode_photo_uses_pluggable_decoder(reader: SimIdCardReader) -> None:
    """The simulator reader decodes its fake WLT photo to a BMP through the decoder interface."""
    assert reader.decode_photo(reader.read_card())[:2] == b"BM"


def test_simulator_core_rejects_bad_frames() -> None:
    """The simulator answers 0x10 to a bad checksum, 0x21 to an unknown command, 0x11 to a bad length."""
    core = SamSimulatorCore(card=None, latency=0)
    bad = bytes.fromhex("AA AA AA 96 69 00 03 20 01 21")
    assert Response.parse(core.receive(bad)[0].data).sw3 == 0x10  # type: ignore[union-attr]
    unknown = bytes(Command(0x77, 0x01))
    assert Response.parse(core.receive(unknown)[0].data).sw3 == 0x21  # type: ignore[union-attr]
    short = bytes.fromhex("AA AA AA 96 69 00 01 01")
    assert Response.parse(core.receive(short)[0].data).sw3 == 0x11  # type: ignore[union-attr]


def test_simulator_state_machine() -> None:
    """NO_CARD → PRESENT → FOUND → SELECTED → READ, with find failing after a read."""
    core = SamSimulatorCore(card=CARD_FIXTURES["resident-male"], latency=0)

    def sw3(command: Command) -> int:
        return Response.parse(core.receive(bytes(command))[0].data).sw3  # type: ignore[union-attr]

    from hardware.idcard import frames

    assert sw3(frames.CMD_SELECT) == 0x81
    assert sw3(frames.CMD_READ_TEXT_PHOTO) == 0x41
    trace = []
    for command in (CMD_FIND, frames.CMD_SELECT, frames.CMD_READ_TEXT_PHOTO, CMD_FIND):
        trace.append((sw3(command), core.state))
    core.remove_card()
    trace.append((sw3(CMD_FIND), core.state))
    assert trace == [
        (0x9F, CardState.FOUND),
        (0x90, CardState.SELECTED),
        (0x90, CardState.READ),
        (0x80, CardState.READ),
        (0x80, CardState.NO_CARD),
    ]


def test_simulator_latency_is_configurable() -> None:
    """Replies carry the configured latency; the realistic profile adds wire time at the baud rate."""
    from hardware.idcard import frames

    assert SamSimulatorCore(latency=0.25).receive(bytes(CMD_FIND))[0].delay == 0.25  # type: ignore[union-attr]
    realistic = SamSimulatorCore(card=CARD_FIXTURES["resident-male"], baud=9600)
    assert realistic.expected_latency(frames.CMD_READ_TEXT_PHOTO, 1295) == pytest.approx(
        0.6 + 1305 * 10 / 9600
    )


def test_unknown_fault_and_card_are_config_errors() -> None:
    """Unknown fault or card names in the URL raise ConfigurationError listing the known ones."""
    from hardware.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="sam-failure"):
        open_device("idcard", "sim://idcard?fault=explode")
    with pytest.raises(ConfigurationError, match="resident-male"):
        open_device("idcard", "sim://idcard?card=nobody")


def test_sam_status_error_for_link_corruption(reader: SimIdCardReader) -> None:
    """A reader complaining about our frame (SW3 0x10) surfaces as IdCardStatusError."""
    from hardware.idcard.codes import error_for_sw3

    assert isinstance(error_for_sw3(0x10, "find_card"), IdCardStatusError)
