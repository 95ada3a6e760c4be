"""The device model: lifecycle transition table, state, events, health, statistics, registry, clock."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hardware import open_device
from hardware.clock import FakeClock, RealClock
from hardware.device import (
    Availability,
    DataEvent,
    Device,
    DeviceEvent,
    DevicePhase,
    DeviceState,
    ErrorOccurred,
    PromptCallback,
    StateChanged,
    StatusChanged,
)
from hardware.errors import (
    ConfigurationError,
    ConnectionLost,
    Disabled,
    HardwareError,
    IllegalTransition,
    NotClaimed,
    NotOpen,
    UnsupportedOperation,
    UserActionRequired,
)
from hardware.health import HealthLevel, HealthResult, HealthStep, RecommendedAction
from hardware.registry import BACKENDS, parse_device_url, statistics_path
from hardware.stats import Statistics


class RecordingDevice(Device):
    """A minimal backend that records which hooks ran (the base class is what is under test)."""

    kind = "idcard"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: list[str] = []
        self.health_ok = True

    def _open(self) -> None:
        self.calls.append("open")

    def _close(self) -> None:
        self.calls.append("close")

    def _claim(self) -> None:
        self.calls.append("claim")

    def _release(self) -> None:
        self.calls.append("release")

    def _enable(self) -> None:
        self.calls.append("enable")

    def _disable(self) -> None:
        self.calls.append("disable")

    def _check_health(self, level: HealthLevel, prompt: PromptCallback) -> HealthResult:
        return HealthResult.from_steps(level, [HealthStep("probe", self.health_ok)])

    def run(self, action: Callable[[], None]) -> None:
        """Run ``action`` as a device operation."""
        with self._operation("run"):
            action()


def _states(device: Device) -> list[DeviceState]:
    seen: list[DeviceState] = []

    def record(event: DeviceEvent) -> None:
        if isinstance(event, StateChanged):
            seen.append(event.new)

    device.subscribe(record)
    return seen


def test_full_lifecycle_sequence() -> None:
    """open → claim → enable → disable → release → close calls the hooks and walks the phases."""
    device = RecordingDevice()
    phases = []
    for step in (device.open, device.claim, device.enable, device.disable, device.release, device.close):
        step()
        phases.append(device.phase)
    assert phases == [
        DevicePhase.OPEN,
        DevicePhase.CLAIMED,
        DevicePhase.ENABLED,
        DevicePhase.CLAIMED,
        DevicePhase.OPEN,
        DevicePhase.CLOSED,
    ]
    assert device.calls == ["open", "claim", "enable", "disable", "release", "close"]


def test_close_from_enabled_unwinds_in_order() -> None:
    """Closing an enabled device disables, releases and closes, in that order."""
    device = RecordingDevice()
    with device:
        pass
    assert device.calls == ["open", "claim", "enable", "disable", "release", "close"]
    device.close()  # closing twice is harmless
    assert device.calls[-1] == "close" and device.calls.count("close") == 1


def test_repeated_claim_and_enable_are_idempotent() -> None:
    """Claiming or enabling twice is not an error (UPOS) and runs the hook once."""
    device = RecordingDevice()
    device.open()
    device.claim()
    device.claim()
    device.enable()
    device.enable()
    device.claim()
    assert device.calls == ["open", "claim", "enable"]


@pytest.mark.parametrize(
    ("prefix", "event", "error"),
    [
        ([], "claim", NotOpen),
        ([], "enable", NotOpen),
        ([], "release", NotOpen),
        (["open"], "enable", NotClaimed),
        (["open"], "disable", NotClaimed),
        (["open"], "open", IllegalTransition),
        (["open", "claim"], "open", IllegalTransition),
        (["open", "claim", "enable"], "open", IllegalTransition),
    ],
)
def test_illegal_events_raise_and_change_nothing(
    prefix: list[str], event: str, error: type[Exception]
) -> None:
    """An event the table does not allow raises the UPOS-style error and leaves phase and hooks alone."""
    device = RecordingDevice()
    for name in prefix:
        getattr(device, name)()
    phase, calls = device.phase, list(device.calls)
    with pytest.raises(error):
        getattr(device, event)()
    assert (device.phase, device.calls) == (phase, calls)


@pytest.mark.parametrize(
    ("prefix", "error"),
    [([], NotOpen), (["open"], NotClaimed), (["open", "claim"], Disabled)],
)
def test_operations_need_enabled_device(prefix: list[str], error: type[Exception]) -> None:
    """Operations before enable() raise NotOpen / NotClaimed / Disabled."""
    device = RecordingDevice()
    for name in prefix:
        getattr(device, name)()
    with pytest.raises(error):
        device.run(lambda: None)
    with pytest.raises(error):
        device.check_health()


def test_state_sequence_through_operation_fault_and_recovery() -> None:
    """IDLE → BUSY → ERROR on a device fault, then BUSY → IDLE on the next success, CLOSED at the end."""
    device = RecordingDevice()
    states = _states(device)
    device.open()
    device.claim()
    device.enable()

    def fail() -> None:
        raise ConnectionLost("gone")

    with pytest.raises(ConnectionLost):
        device.run(fail)
    device.run(lambda: None)
    device.close()
    assert states == [
        DeviceState.IDLE,
        DeviceState.BUSY,
        DeviceState.ERROR,
        DeviceState.BUSY,
        DeviceState.IDLE,
        DeviceState.CLOSED,
    ]


def test_user_action_does_not_enter_error_state() -> None:
    """A resident-fixable condition (UserActionRequired) returns to IDLE, not ERROR."""
    device = RecordingDevice()
    with device:

        def need_card() -> None:
            raise UserActionRequired("place a card", prompt="place_card")

        with pytest.raises(UserActionRequired):
            device.run(need_card)
        assert device.state is DeviceState.IDLE
        assert device.statistics.get("run.needs_user") == 1


def test_error_events_carry_code_and_action() -> None:
    """A device fault publishes ErrorOccurred with its code and recommended action."""
    device = RecordingDevice()
    events: list[DeviceEvent] = []
    device.subscribe(events.append)
    with device:

        def fail() -> None:
            raise ConnectionLost("port vanished")

        with pytest.raises(ConnectionLost):
            device.run(fail)
    errors = [e for e in events if isinstance(e, ErrorOccurred)]
    assert len(errors) == 1
    assert (errors[0].operation, errors[0].code, errors[0].action) == (
        "run",
        "ConnectionLost",
        RecommendedAction.MAINTENANCE,
    )


def test_status_events_fire_only_on_change() -> None:
    """_update_status publishes only when availability or detail actually changes."""
    device = RecordingDevice()
    events: list[DeviceEvent] = []
    device.subscribe(events.append)
    device._update_status(availability=Availability.ONLINE, media="absent")
    device._update_status(availability=Availability.ONLINE, media="absent")
    device._update_status(media="present")
    details = [dict(e.detail) for e in events if isinstance(e, StatusChanged)]
    assert details == [
        {"availability": "online", "media": "absent"},
        {"availability": "online", "media": "present"},
    ]


def test_unsubscribe_and_broken_subscriber() -> None:
    """A failing subscriber does not break the device; unsubscribe stops delivery."""
    device = RecordingDevice()
    received: list[DeviceEvent] = []

    def broken(event: DeviceEvent) -> None:
        raise RuntimeError("subscriber bug")

    device.subscribe(broken)
    stop = device.subscribe(received.append)
    device.open()
    stop()
    device.close()
    assert [type(e) for e in received] == [StateChanged]


def test_frozen_events_are_queued_then_delivered_in_order() -> None:
    """While freeze_events is set, events queue; unfreezing delivers them in order (UPOS)."""
    device = RecordingDevice()
    received: list[DeviceEvent] = []
    device.subscribe(received.append)
    device.freeze_events = True
    device.open()
    device._update_status(media="present")
    assert received == []
    device.freeze_events = False
    assert [type(e) for e in received] == [StateChanged, StatusChanged]
    device.close()


def test_recover_restores_phase() -> None:
    """recover() closes and re-opens the device back to the phase it was in."""
    device = RecordingDevice()
    device.open()
    device.claim()
    device.enable()
    device.recover()
    assert device.phase is DevicePhase.ENABLED
    assert device.calls[-6:] == ["disable", "release", "close", "open", "claim", "enable"]
    assert device.statistics.get("recoveries") == 1
    device.close()


def test_direct_io_defaults_to_unsupported() -> None:
    """A backend without vendor commands refuses direct_io."""
    device = RecordingDevice()
    with device, pytest.raises(UnsupportedOperation):
        device.direct_io("anything")


def test_health_check_sets_text_and_error_state() -> None:
    """A failing health check sets CheckHealthText and ERROR; a passing one clears it."""
    device = RecordingDevice()
    with device:
        device.health_ok = False
        result = device.check_health()
        assert not result.ok and device.check_health_text == "failed: probe"
        assert device.state is DeviceState.ERROR
        device.health_ok = True
        assert device.check_health().ok
        assert device.status().state is DeviceState.IDLE


def test_unsupported_health_level_raises() -> None:
    """A level the device does not support raises UnsupportedOperation (UPOS E_ILLEGAL)."""
    device = RecordingDevice()
    with device, pytest.raises(UnsupportedOperation):
        device.check_health(HealthLevel.INTERACTIVE)


def test_health_result_serialises() -> None:
    """HealthResult.to_dict is JSON-ready."""
    result = HealthResult.from_steps(
        HealthLevel.EXTERNAL, [HealthStep("a", True), HealthStep("b", False, "x")]
    )
    assert json.loads(json.dumps(result.to_dict())) == {
        "ok": False,
        "text": "failed: b",
        "level": "external",
        "recommended_action": "reset",
        "steps": [{"name": "a", "ok": True, "detail": ""}, {"name": "b", "ok": False, "detail": "x"}],
    }


def test_health_check_builder_keeps_first_failure_action() -> None:
    """HealthCheck turns errors into failed steps; the first failure's action wins."""
    from hardware.device import HealthCheck
    from hardware.errors import NoHardware

    check = HealthCheck(HealthLevel.INTERNAL)
    assert check.run("ok", lambda: "fine")

    def absent() -> None:
        raise NoHardware("port missing")

    def bad_config() -> None:
        raise ConfigurationError("baud")

    assert not check.run("port", absent)
    assert not check.run("config", bad_config)
    result = check.result()
    assert [(s.name, s.ok, s.detail) for s in result.steps] == [
        ("ok", True, "fine"),
        ("port", False, "NoHardware: port missing"),
        ("config", False, "ConfigurationError: baud"),
    ]
    assert result.recommended_action is RecommendedAction.MAINTENANCE


def test_statistics_persist_atomically(tmp_path: Path) -> None:
    """Counters and the last error survive a new Statistics on the same file; reset clears them."""
    path = tmp_path / "stats" / "dev.json"
    moment = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    stats = Statistics(path, now=lambda: moment)
    stats.increment("reads")
    stats.increment("reads")
    stats.record_error("DeviceTimeout", "no reply")
    again = Statistics(path)
    assert again.get("reads") == 2
    assert again.get("errors.DeviceTimeout") == 1
    assert again.last_error == {
        "code": "DeviceTimeout",
        "message": "no reply",
        "at": "2026-01-02T03:04:05+00:00",
    }
    again.reset()
    assert Statistics(path).retrieve() == {"counters": {}, "last_error": None}
    assert [p.name for p in path.parent.iterdir()] == ["dev.json"]


def test_counter_increments_are_written_at_most_once_per_interval(tmp_path: Path) -> None:
    """A per-frame counter does not rewrite the file each time: only after the interval or a flush."""
    path = tmp_path / "dev.json"
    ticks = [0.0]
    stats = Statistics(path, flush_interval_s=5.0, monotonic=lambda: ticks[0])
    for _ in range(100):
        stats.increment("frames")
    assert not path.exists()
    ticks[0] = 5.0
    stats.increment("frames")
    assert Statistics(path).get("frames") == 101
    stats.increment("frames")
    assert Statistics(path).get("frames") == 101
    stats.flush()
    assert Statistics(path).get("frames") == 102


def test_corrupt_statistics_file_is_ignored(tmp_path: Path) -> None:
    """A corrupt statistics file never stops a device from opening."""
    path = tmp_path / "dev.json"
    path.write_text("{not json", encoding="utf-8")
    assert Statistics(path).retrieve()["counters"] == {}


def test_statistics_persist_across_reopen_through_registry(tmp_path: Path, no_leaked_threads: None) -> None:
    """Reads counted by a simulated reader are still there after the device is built and opened again."""
    url = "sim://idcard?card=resident-male&latency=0"
    with open_device("idcard", url, stats_dir=tmp_path) as first:
        first.read_card()  # type: ignore[attr-defined]
    with open_device("idcard", url, stats_dir=tmp_path) as second:
        assert second.statistics.get("read_card.ok") == 1
        assert second.statistics.get("cards.resident") == 1
    assert (tmp_path / "idcard-sim-idcard.json").exists()


def test_registry_rejects_unknown_kind_and_scheme() -> None:
    """Unknown kinds and schemes raise ConfigurationError listing what is supported."""
    with pytest.raises(ConfigurationError, match="fingerprint"):
        open_device("scanner", "sim://x")
    with pytest.raises(ConfigurationError, match="serial, sim"):
        open_device("idcard", "usb://0")
    with pytest.raises(ConfigurationError, match="no scheme"):
        open_device("idcard", "/dev/ttyUSB0")


def test_registry_table_has_rows_for_every_kind() -> None:
    """BACKENDS pre-registers sim and real backends for all five device kinds."""
    assert BACKENDS[("printer", "escpos+tcp")] == "hardware.printer.escpos:open_escpos_printer"
    assert BACKENDS[("document_camera", "uvc")] == "hardware.camera.uvc:open_uvc_document_camera"
    kinds = {kind for kind, _ in BACKENDS}
    assert kinds == {"idcard", "fingerprint", "document_camera", "face_camera", "printer"}


def test_registry_missing_backend_module_is_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A table row pointing at a module that is not installed raises ConfigurationError."""
    monkeypatch.setitem(BACKENDS, ("printer", "sim"), "hardware.no_such_module:factory")
    with pytest.raises(ConfigurationError, match="not installed"):
        open_device("printer", "sim://printer")


def test_url_parsing_and_statistics_path(tmp_path: Path) -> None:
    """Query parameters decode to a dict; the statistics file name ignores the query."""
    parts, params = parse_device_url("serial:///dev/ttyUSB0?baud=115200&timeout_scale=2")
    assert (parts.scheme, parts.path, params) == (
        "serial",
        "/dev/ttyUSB0",
        {"baud": "115200", "timeout_scale": "2"},
    )
    assert statistics_path(tmp_path, "idcard", parts).name == "idcard-serial-dev_ttyUSB0.json"


def test_open_device_as_types_and_checks_the_class() -> None:
    """open_device_as returns the requested device class and refuses a mismatched backend."""
    from hardware.fingerprint import FingerprintScanner
    from hardware.idcard import IdCardReader
    from hardware.registry import open_device_as

    reader = open_device_as(IdCardReader, "sim://idcard?latency=0")
    assert isinstance(reader, IdCardReader) and reader.kind == "idcard"
    assert isinstance(open_device_as(FingerprintScanner, "sim://fingerprint"), FingerprintScanner)


def test_open_device_as_rejects_wrong_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """A table row pointing at a backend of the wrong class is a configuration error."""
    from hardware.idcard import IdCardReader
    from hardware.registry import open_device_as

    monkeypatch.setitem(BACKENDS, ("idcard", "odd"), "hardware.fingerprint.sim:open_sim_fingerprint_scanner")
    with pytest.raises(ConfigurationError, match="IdCardReader"):
        open_device_as(IdCardReader, "odd://x")


def test_registry_sets_logical_name() -> None:
    """open_device(name=…) sets the logical device name used in events."""
    device = open_device("idcard", "sim://idcard?latency=0", name="idcard.main")
    assert device.name == "idcard.main" and device.state is DeviceState.CLOSED


def test_fake_clock_advances_on_sleep() -> None:
    """FakeClock.sleep advances monotonic time without blocking; RealClock is monotonic."""
    clock = FakeClock(start=10.0)
    clock.sleep(1.5)
    clock.advance(0.5)
    assert clock.monotonic() == 12.0 and clock.sleeps == [1.5]
    real = RealClock()
    assert real.monotonic() <= real.monotonic()


def test_data_event_and_exception_codes() -> None:
    """Exceptions expose a stable code; DataEvent names what completed."""
    assert ConnectionLost("x").code == "ConnectionLost"
    assert isinstance(ConnectionLost("x"), HardwareError)
    assert DataEvent(device="d", what="card_read").what == "card_read"


def test_info_and_capabilities_default() -> None:
    """info() names kind and device; capabilities default to an empty mapping."""
    device = RecordingDevice(name="idcard.test")
    assert device.info() == {"kind": "idcard", "name": "idcard.test"}
    assert dict(device.capabilities) == {}


def test_hardware_imports_nothing_of_ours() -> None:
    """No module under hardware/ imports another doorstep package (DESIGN.md dependency table)."""
    import ast

    root = Path(__file__).resolve().parents[2] / "hardware"
    forbidden = {"office", "signaling", "agent_console", "kiosk", "doorstep", "tests", "bench"}
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in forbidden]
    assert offenders == []
