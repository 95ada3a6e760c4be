"""The real R30x driver against the simulator over a real pseudo-terminal, with every §7.2 fault."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hardware import open_device
from hardware.clock import FakeClock
from hardware.device import Availability, DeviceState
from hardware.errors import ConnectionLost, DeviceTimeout, LineNoise, ProtocolError
from hardware.fingerprint import (
    AddressMismatch,
    EnrollMismatch,
    FingerNotDetected,
    FingerNotLifted,
    FingerprintStatusError,
    PoorImage,
    SearchResult,
    WrongPassword,
)
from hardware.fingerprint.packets import Instruction
from hardware.fingerprint.sim import FingerprintSimulatorCore, SimFingerprintScanner, sim_template
from hardware.health import HealthLevel, RecommendedAction

FAST = "latency=0"
"""No device latency; real timeouts (tests that wait one out scale it down themselves)."""


def _open(query: str = "", clock: FakeClock | None = None) -> SimFingerprintScanner:
    device = open_device("fingerprint", f"sim://fingerprint?{query}&{FAST}", clock=clock)
    assert isinstance(device, SimFingerprintScanner)
    return device


@pytest.fixture
def scanner(no_leaked_threads: None) -> Iterator[SimFingerprintScanner]:
    """An enabled simulated module with resident-1 in slot 0 and someone-else in slot 5."""
    with _open("enrolled=resident-1@0,someone-else@5") as device:
        yield device


def test_enable_verifies_password_and_reads_parameters(scanner: SimFingerprintScanner) -> None:
    """Enabling runs VfyPwd then ReadSysPara; parameters are coherent."""
    assert scanner.core.instructions[:2] == [Instruction.VFY_PWD, Instruction.READ_SYS_PARA]
    params = scanner.read_system_parameters()
    assert (params.capacity, params.security_level, params.packet_size, params.baud_rate) == (
        200,
        3,
        128,
        57600,
    )
    assert scanner.info()["capacity"] == 200


def test_verify_one_to_one(scanner: SimFingerprintScanner) -> None:
    """The resident's finger matches slot 0 and not slot 5, with the prompts in order."""
    prompts: list[str] = []
    matched = scanner.verify(0, prompt=prompts.append)
    assert matched.matched and matched.score >= 120
    assert prompts == ["place_finger", "lift_finger"]
    assert not scanner.verify(5).matched
    assert scanner.statistics.get("verify.matched") == 1
    assert scanner.statistics.get("verify.no_match") == 1


def test_search_one_to_n(scanner: SimFingerprintScanner) -> None:
    """Search finds the resident in slot 0; an unknown finger is not found (0x09)."""
    found = scanner.search()
    assert found.found and found.slot == 0
    scanner.finger = "stranger"
    assert scanner.search() == SearchResult(slot=None, score=0)


def test_enroll_two_captures_then_store(scanner: SimFingerprintScanner) -> None:
    """Enrol takes two captures with a lift between, stores in the first free slot and counts it."""
    scanner.finger = "new-resident"
    prompts: list[str] = []
    slot = scanner.enroll(prompt=prompts.append)
    assert slot == 1
    assert prompts == ["place_finger", "lift_finger", "place_finger_again", "lift_finger"]
    assert scanner.count() == 3
    assert scanner.verify(1).matched
    assert [i for i in scanner.core.instructions if i in (Instruction.IMG2TZ, Instruction.REG_MODEL)][:3] == [
        Instruction.IMG2TZ,
        Instruction.IMG2TZ,
        Instruction.REG_MODEL,
    ]


def test_enroll_mismatch_when_second_capture_differs(scanner: SimFingerprintScanner) -> None:
    """RegModel answers 0x0A when the two captures are different fingers."""
    fingers = iter(["finger-a", "finger-b"])
    original = scanner._simulate_user

    def swap(prompt: str) -> None:
        if prompt in ("place_finger", "place_finger_again"):
            scanner.finger = next(fingers)
        original(prompt)

    scanner._simulate_user = swap  # type: ignore[method-assign]
    with pytest.raises(EnrollMismatch) as info:
        scanner.enroll(7)
    assert info.value.prompt == "retry_enroll"
    assert 7 not in scanner.core.library


def test_template_download_and_verify_against_given_template(scanner: SimFingerprintScanner) -> None:
    """UpChar returns the 512-byte template over data packets; DownChar + Match verifies against it."""
    template = scanner.download_template(0)
    assert len(template) == 512 and template == scanner.core.library[0]
    assert scanner.verify_template(template).matched
    assert not scanner.verify_template(sim_template("someone-else")).matched


def test_capture_image_uploads_full_frame(scanner: SimFingerprintScanner) -> None:
    """UpImage streams a 256x288 4-bit image (36 864 bytes) in 128-byte data packets."""
    image = scanner.capture_image()
    assert len(image) == 36864
    assert scanner.core.instructions[-1] == Instruction.UP_IMAGE


@pytest.mark.parametrize("size", [32, 64, 256])
def test_data_packets_follow_configured_packet_size(size: int, no_leaked_threads: None) -> None:
    """Templates travel in data packets of the module's packet size (32/64/128/256 bytes) both ways."""
    with _open(f"enrolled=resident-1@0&packet_size={size}") as device:
        assert device.read_system_parameters().packet_size == size
        template = device.download_template(0)
        assert template == device.core.library[0]
        assert device.verify_template(template).matched


def test_delete_and_clear(scanner: SimFingerprintScanner) -> None:
    """DeleteChar removes one template; Empty clears the library."""
    scanner.delete(5)
    assert scanner.count() == 1
    scanner.clear_library()
    assert scanner.count() == 0


def test_set_password_then_reopen_needs_it(no_leaked_threads: None) -> None:
    """After SetPwd the module demands the new password: a wrong one fails enable with WrongPassword."""
    core = FingerprintSimulatorCore(latency=0, password=0x1234)
    device = SimFingerprintScanner(core, password=0x9999, timeout_scale=1.0)
    device.open()
    device.claim()
    with pytest.raises(WrongPassword) as info:
        device.enable()
    assert info.value.recommended_action is RecommendedAction.CONFIG
    device.close()
    right = SimFingerprintScanner(core, password=0x1234, timeout_scale=1.0)
    with right:
        right.set_password(0x4321)
        assert core.password == 0x4321
        assert right.count() == 0


def test_wrong_address_is_reported(no_leaked_threads: None) -> None:
    """A module at another address answers 0x20, raised as AddressMismatch."""
    core = FingerprintSimulatorCore(latency=0, address=0x12345678)
    device = SimFingerprintScanner(core, timeout_scale=1.0)
    device.address = 0xFFFFFFFF
    device.open()
    device.claim()
    with pytest.raises(AddressMismatch):
        device.enable()
    device.close()


def test_no_finger_times_out_on_fake_clock(no_leaked_threads: None) -> None:
    """With nobody at the sensor, capture polls GenImg (0x02) on the injected clock, then gives up."""
    clock = FakeClock()
    with _open("user=none&enrolled=resident-1@0", clock=clock) as device:
        with pytest.raises(FingerNotDetected) as info:
            device.verify(0, timeout=1.0)
        assert info.value.prompt == "place_finger"
        assert sum(clock.sleeps) == pytest.approx(1.0)
        assert device.state is DeviceState.IDLE


def test_cancel_while_waiting_for_finger(no_leaked_threads: None) -> None:
    """cancel() during the place_finger prompt ends the capture wait with Cancelled."""
    from hardware.errors import Cancelled

    clock = FakeClock()
    with _open("user=none&enrolled=resident-1@0", clock=clock) as device:

        def prompt(name: str) -> None:
            if name == "place_finger":
                device.cancel()

        with pytest.raises(Cancelled):
            device.verify(0, prompt=prompt)
        assert clock.sleeps == []  # noticed at the first poll, before sleeping
        assert device.state is DeviceState.IDLE


def test_finger_not_lifted_during_enrol(no_leaked_threads: None) -> None:
    """If the finger never leaves the sensor between captures, enrol raises FingerNotLifted."""
    clock = FakeClock()
    with _open("user=none", clock=clock) as device:
        device.core.place_finger("resident-1")
        with pytest.raises(FingerNotLifted):
            device.enroll(0, timeout=0.5)


@pytest.mark.parametrize(
    ("quality", "code"), [("dry", 0x04), ("wet", 0x05), ("messy", 0x06), ("few-features", 0x07)]
)
def test_poor_image_quality(quality: str, code: int, no_leaked_threads: None) -> None:
    """Img2Tz reports poor images by quality; the resident is asked to retry."""
    with _open(f"quality={quality}&enrolled=resident-1@0") as device:
        with pytest.raises(PoorImage) as info:
            device.verify(0)
        assert info.value.status == code
        assert info.value.prompt == "retry_finger"


def test_imaging_fault(scanner: SimFingerprintScanner) -> None:
    """GenImg answering 0x03 raises PoorImage."""
    scanner.core.set_fault("imaging-fault", once=True)
    with pytest.raises(PoorImage):
        scanner.verify(0)


@pytest.mark.parametrize(("fault", "code"), [("flash-error", 0x18), ("library-full", 0x1F)])
def test_store_faults(fault: str, code: int, scanner: SimFingerprintScanner) -> None:
    """Store answering 0x18/0x1F raises FingerprintStatusError and puts the device in ERROR."""
    scanner.core.set_fault(fault, once=True)
    with pytest.raises(FingerprintStatusError) as info:
        scanner.enroll(9)
    assert info.value.status == code
    assert scanner.state is DeviceState.ERROR


def test_store_out_of_range(scanner: SimFingerprintScanner) -> None:
    """Storing beyond the capacity answers 0x0B."""
    with pytest.raises(FingerprintStatusError) as info:
        scanner.enroll(500)
    assert info.value.status == 0x0B


def test_delete_failure(scanner: SimFingerprintScanner) -> None:
    """DeleteChar answering 0x10 raises FingerprintStatusError."""
    scanner.core.set_fault("delete-failed", once=True)
    with pytest.raises(FingerprintStatusError) as info:
        scanner.delete(0)
    assert info.value.status == 0x10


def test_corrupted_checksum(scanner: SimFingerprintScanner) -> None:
    """A reply with a bad checksum raises ProtocolError and is counted."""
    scanner.core.set_fault("bad-checksum", once=True)
    with pytest.raises(ProtocolError) as info:
        scanner.count()
    assert info.value.reason == "checksum"
    assert scanner.statistics.get("protocol_errors") == 1
    assert scanner.count() == 2


def test_timeout(scanner: SimFingerprintScanner) -> None:
    """A module that does not answer raises DeviceTimeout; OFFLINE until it answers again."""
    scanner.timeout_scale = 0.1
    scanner.core.set_fault("timeout", once=True)
    with pytest.raises(DeviceTimeout):
        scanner.count()
    assert scanner.status().availability is Availability.OFFLINE
    assert scanner.count() == 2


def test_baud_mismatch_is_line_noise(scanner: SimFingerprintScanner) -> None:
    """Replies at the wrong baud rate raise LineNoise recommending a CONFIG check."""
    scanner.timeout_scale = 0.1
    scanner.core.set_fault("wrong-baud", once=True)
    with pytest.raises(LineNoise):
        scanner.count()


def test_unplugged(scanner: SimFingerprintScanner) -> None:
    """When the module disappears, commands raise ConnectionLost and availability is NO_DEVICE."""
    scanner.timeout_scale = 0.1
    scanner.unplug()
    with pytest.raises(ConnectionLost):
        scanner.count()
    assert scanner.status().availability is Availability.NO_DEVICE
    assert scanner.state is DeviceState.ERROR


def test_direct_io_sends_raw_grow_command(scanner: SimFingerprintScanner) -> None:
    """direct_io('grow_command') sends instruction + parameters and returns code + data."""
    reply = scanner.direct_io("grow_command", bytes([Instruction.TEMPLATE_NUM]))
    assert reply == bytes([0x00, 0x00, 0x02])


def test_health_levels(scanner: SimFingerprintScanner) -> None:
    """INTERNAL: password+params+count; EXTERNAL adds an idle-sensor capture; INTERACTIVE a guided capture."""
    internal = scanner.check_health(HealthLevel.INTERNAL)
    assert internal.ok and [s.name for s in internal.steps] == [
        "password",
        "system_parameters",
        "template_count",
    ]
    assert scanner.check_health(HealthLevel.EXTERNAL).ok
    prompts: list[str] = []
    assert scanner.check_health(HealthLevel.INTERACTIVE, prompt=prompts.append).ok
    assert prompts == ["place_finger", "lift_finger"]


def test_external_check_flags_a_dirty_sensor(scanner: SimFingerprintScanner) -> None:
    """The EXTERNAL check fails when the sensor 'sees' a finger with nobody there."""
    scanner.core.place_finger("smudge")
    result = scanner.check_health(HealthLevel.EXTERNAL)
    assert not result.ok and result.steps[-1].name == "sensor_idle"
    assert "resident" not in repr(result.to_dict())


def test_password_required_before_other_commands() -> None:
    """A module with a password answers 0x21 to anything before VfyPwd."""
    from hardware.fingerprint.packets import Packet

    core = FingerprintSimulatorCore(latency=0, password=7)
    reply = core.receive(bytes(Packet.command(Instruction.TEMPLATE_NUM)))[0]
    assert Packet.parse(reply.data).payload[0] == 0x21  # type: ignore[union-attr]
