"""``doorstep diag``: exit codes, JSON reports, config files, progress, focus meter and redaction."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from hardware.clock import FakeClock
from hardware.device import Device, PromptCallback
from hardware.diag.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, run
from hardware.diag.detect import detect_video_devices
from hardware.diag.focus import as_focus_source
from hardware.diag.report import redact
from hardware.health import HealthLevel, HealthResult, HealthStep
from hardware.idcard.fixtures import CARD_FIXTURES
from hardware.registry import BACKENDS

IDCARD = "idcard=sim://idcard?card=resident-female&latency=0"
FINGER = "fingerprint=sim://fingerprint?latency=0"


def _run(*argv: str, clock: FakeClock | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), clock=clock, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_check_all_pass_exits_zero(no_leaked_threads: None) -> None:
    """All devices healthy → exit 0 and a JSON report with ok=true per device."""
    code, out, err = _run("check", "--device", IDCARD, "--device", FINGER, "--level", "external", "--json")
    assert code == EXIT_OK
    report = json.loads(out)
    assert report["ok"] is True and report["level"] == "external"
    assert [d["result"] for d in report["devices"]] == ["pass", "pass"]
    assert "[1/2]" in err and "[2/2]" in err  # progress on stderr


def test_check_failure_exits_one_with_remedy(no_leaked_threads: None) -> None:
    """A failing device → exit 1; the report names the error and the remedy."""
    code, out, _ = _run("check", "--device", IDCARD + "&fault=sam-failure", "--json", "--lang", "en")
    assert code == EXIT_FAILED
    device = json.loads(out)["devices"][0]
    assert device["result"] == "fail"
    assert device["health"]["recommended_action"] == "maintenance"
    assert device["remedy"] == "A technician must repair or replace the device"


def test_check_reports_open_failure(no_leaked_threads: None) -> None:
    """A device that cannot be opened fails with NoHardware in the report (text output)."""
    code, out, _ = _run("check", "--device", "idcard=serial:///dev/no-such-port-doorstep", "--lang", "en")
    assert code == EXIT_FAILED
    assert "NoHardware" in out and "Remedy" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["check"],
        ["check", "--device", "scanner=sim://x"],
        ["check", "--device", "no-equals-sign"],
        ["check", "--device", "idcard=sim://idcard", "--device", "idcard=sim://idcard"],
        ["check", "--level", "loud", "--device", IDCARD],
        ["interactive", "printer", "--device", IDCARD],
        ["focus", "--device", IDCARD],
        ["nonsense"],
        ["check", "--config", "/nonexistent/diag.toml"],
        ["check", "--device", "idcard=usb://0"],
        ["check", "--device", "idcard=sim://idcard?card=nobody"],
    ],
)
def test_usage_and_config_errors_exit_two(argv: list[str]) -> None:
    """Bad options, unknown kinds, duplicates, missing devices or config → exit 2."""
    code, _, _ = _run(*argv)
    assert code == EXIT_USAGE


def test_unsupported_level_is_not_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """A level the device does not offer is reported as unsupported and does not fail the run."""
    monkeypatch.setitem(BACKENDS, ("document_camera", "focustest"), f"{__name__}:open_focus_camera")
    code, out, err = _run(
        "check", "--device", "cam:document_camera=focustest://cam", "--level", "interactive", "--json"
    )
    assert code == EXIT_OK
    assert json.loads(out)["devices"][0]["result"] == "unsupported"
    assert "unsupported" in err


def test_config_file_toml_and_json(tmp_path: Path, no_leaked_threads: None) -> None:
    """Devices can come from a TOML or JSON [devices] table."""
    url = IDCARD.split("=", 1)[1]
    toml = tmp_path / "diag.toml"
    toml.write_text(f'[devices."idcard.main"]\nkind = "idcard"\nurl = "{url}"\n', encoding="utf-8")
    code, out, _ = _run("list", "--config", str(toml), "--no-detect", "--json")
    assert code == EXIT_OK
    assert json.loads(out)["devices"] == [{"name": "idcard.main", "kind": "idcard", "url": url}]
    js = tmp_path / "diag.json"
    js.write_text(json.dumps({"devices": {"fp": {"kind": "fingerprint", "url": FINGER.split("=", 1)[1]}}}))
    assert _run("check", "--config", str(js))[0] == EXIT_OK
    broken = tmp_path / "broken.toml"
    broken.write_text("[devices\n", encoding="utf-8")
    assert _run("list", "--config", str(broken))[0] == EXIT_USAGE


def test_list_text_output_and_detection(tmp_path: Path) -> None:
    """list prints configured devices; video detection reads names from sysfs."""
    code, out, _ = _run("list", "--device", "main:idcard=sim://idcard", "--no-detect", "--lang", "en")
    assert code == EXIT_OK and "main" in out and "sim://idcard" in out
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "video0").touch()
    (tmp_path / "sys" / "video0").mkdir(parents=True)
    (tmp_path / "sys" / "video0" / "name").write_text("Doc Camera\n")
    assert detect_video_devices(tmp_path / "dev", tmp_path / "sys") == [
        {"device": str(tmp_path / "dev" / "video0"), "name": "Doc Camera"}
    ]


def test_serial_detection_adds_usb_hints() -> None:
    """Detected serial ports carry VID:PID and a hint for known kiosk adapters."""
    from hardware.diag.detect import detect_serial_ports

    ports = [
        SimpleNamespace(device="/dev/ttyUSB1", description="USB Serial", vid=0x1A86, pid=0x7523),
        SimpleNamespace(device="/dev/ttyS0", description="n/a", vid=None, pid=None),
    ]
    found = detect_serial_ports(lambda: ports)
    assert [(p["device"], p["usb"]) for p in found] == [("/dev/ttyS0", None), ("/dev/ttyUSB1", "1a86:7523")]
    assert "CH340" in found[1]["hint"] and found[0]["hint"] == ""


def test_interactive_fingerprint_prompts_on_stderr(no_leaked_threads: None) -> None:
    """interactive fingerprint shows localised prompts; the simulator acts as the resident."""
    code, out, err = _run("interactive", "fingerprint", "--device", FINGER)
    assert code == EXIT_OK
    assert "请将手指放在指纹仪上" in err and "请抬起手指" in err
    assert "通过" in out


def test_diag_json_on_sim_card_is_redacted(caplog: pytest.LogCaptureFixture, no_leaked_threads: None) -> None:
    """The interactive ID-card report shows only masked personal data, in output and logs alike."""
    fixture = CARD_FIXTURES["resident-female"]
    caplog.set_level(logging.DEBUG)
    code, out, err = _run("interactive", "idcard", "--device", IDCARD, "--json")
    assert code == EXIT_OK
    everything = out + err + caplog.text
    card = json.loads(out)["devices"][0]["card"]
    for secret in (
        fixture.values["name"],
        fixture.values["id_number"],
        fixture.values["address"],
        "19650312",
    ):
        assert secret not in everything
    assert card["id_number"] == "3101**********068X"
    assert card["name"] == "欧*****"
    assert card["photo_raw"] == "<1024 bytes>"
    photo = fixture.photo_blob()
    assert photo.hex() not in everything and repr(photo)[2:40] not in everything


def test_check_external_report_has_no_personal_data(no_leaked_threads: None) -> None:
    """The EXTERNAL check reads the test card but reports only its type."""
    fixture = CARD_FIXTURES["resident-female"]
    _, out, _ = _run("check", "--device", IDCARD, "--level", "external", "--json")
    assert fixture.values["id_number"] not in out and fixture.values["name"] not in out
    assert "read resident card" in out


def test_redact_masks_personal_keys_idempotently() -> None:
    """redact() masks personal keys anywhere (name only inside card records), bytes by size."""
    raw = {
        "name": "idcard.main",
        "card": {"name": "张示例", "id_number": "310101198001010018", "photo_raw": b"\x00" * 8},
        "steps": [{"name": "sam_status", "detail": "ok"}],
        "address": "上海市黄浦区示例路1号",
        "blob": b"abc",
    }
    once = redact(raw)
    assert once == {
        "name": "idcard.main",
        "card": {"name": "张**", "id_number": "3101**********0018", "photo_raw": "<8 bytes>"},
        "steps": [{"name": "sam_status", "detail": "ok"}],
        "address": "上海市***",
        "blob": "<3 bytes>",
    }
    assert redact(once) == once


class StandInCamera(Device):
    """A stand-in document camera for the focus-meter loop (part B provides the real one)."""

    kind = "document_camera"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.values = iter([20.0, 80.0, 150.0, 170.0, 160.0, 165.0])

    def _open(self) -> None:
        pass

    def _close(self) -> None:
        pass

    def _check_health(self, level: HealthLevel, prompt: PromptCallback) -> HealthResult:
        return HealthResult.from_steps(level, [HealthStep("frame", True)])


class FocusCamera(StandInCamera):
    """Implements the FocusSource protocol directly."""

    focus_threshold = 100.0

    def measure_focus(self) -> float:
        """Next sample of a camera being focused."""
        return next(self.values)


class AnalyzingCamera(StandInCamera):
    """Reports focus through analyze().quality.focus, like hardware.camera's document camera."""

    class _Thresholds:
        min_focus = 150.0

    thresholds = _Thresholds()

    def analyze(self) -> Any:
        """Return an object shaped like pipeline.FrameAnalysis."""
        return SimpleNamespace(quality=SimpleNamespace(focus=next(self.values)))


def open_focus_camera(url: object, params: dict[str, str], *, clock: Any, statistics: Any) -> FocusCamera:
    """Registry factory for the stand-in camera."""
    return FocusCamera(clock=clock, statistics=statistics)


def test_focus_meter_is_bounded_by_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    """focus samples every --interval on the injected clock until --seconds, then summarises."""
    monkeypatch.setitem(BACKENDS, ("document_camera", "focustest"), f"{__name__}:open_focus_camera")
    clock = FakeClock()
    code, out, err = _run(
        "focus",
        "--device",
        "document_camera=focustest://cam",
        "--seconds",
        "1",
        "--interval",
        "0.25",
        "--json",
        clock=clock,
    )
    assert code == EXIT_OK
    report = json.loads(out)
    assert report["samples"] == [20.0, 80.0, 150.0, 170.0, 160.0]
    assert (report["min"], report["max"], report["sharp"]) == (20.0, 170.0, True)
    assert clock.sleeps == [0.25] * 4
    assert err.count("清晰度") == 5


def test_focus_adapts_cameras_with_analyze() -> None:
    """A camera offering analyze().quality.focus is measured through an adapter with its threshold."""
    camera = AnalyzingCamera()
    source = as_focus_source(camera)
    assert source is not None and not isinstance(source, AnalyzingCamera)
    assert [source.measure_focus(), source.measure_focus()] == [20.0, 80.0]
    assert getattr(source, "focus_threshold", None) == 150.0
    assert as_focus_source(FocusCamera()) is not None
    assert as_focus_source(object()) is None


def test_focus_needs_a_focus_capable_device(monkeypatch: pytest.MonkeyPatch) -> None:
    """A document camera without measure_focus() is a usage error, not a crash."""
    monkeypatch.setitem(BACKENDS, ("document_camera", "plain"), "hardware.idcard.sim:open_sim_idcard_reader")
    code, _, err = _run("focus", "--device", "document_camera=plain://cam", "--lang", "en")
    assert code == EXIT_USAGE and "focus" in err
