"""DeviceService: consent, outcomes of the simulated ID-card reader, busy, health; settings and token store."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from hardware.clock import FakeClock
from kiosk.config import KioskSettings, TokenStore
from kiosk.devices import DeviceService, auto_grant, auto_refuse
from signaling.messages import HwAction, HwOutcome, HwRequest

ID_NUMBER = "310101198001010018"


def _request(
    action: HwAction = HwAction.READ_ID_CARD, params: dict[str, str | int | float | bool] | None = None
) -> HwRequest:
    return HwRequest(call_id="c1", request_id="r1", action=action, params=params or {})


async def _run(
    service: DeviceService, request: HwRequest
) -> tuple[list[str], HwOutcome, dict[str, object] | None, str | None]:
    stages: list[str] = []

    async def progress(stage: str) -> None:
        stages.append(stage)

    try:
        result = await service.handle(request, progress)
    finally:
        await service.close()
    return stages, result.outcome, result.data, result.error


async def test_refused_consent_never_touches_the_device() -> None:
    """Consent refused: outcome consent_refused after awaiting_consent, and the reader is never opened."""
    service = DeviceService({"idcard": "sim://idcard"}, consent=auto_refuse)
    stages, outcome, data, _ = await _run(service, _request())
    assert (stages, outcome, data) == (["awaiting_consent"], HwOutcome.CONSENT_REFUSED, None)
    assert service._devices == {}


async def test_no_card_is_a_place_card_failure() -> None:
    """An empty reader: failed with the prompt place_card once the (fake-clock) wait runs out."""
    service = DeviceService(
        {"idcard": "sim://idcard?card=none"}, consent=auto_grant, card_timeout=2, clock=FakeClock()
    )
    stages, outcome, _, error = await _run(service, _request())
    assert stages == ["awaiting_consent", "consent_given", "reading"]
    assert (outcome, error) == (HwOutcome.FAILED, "place_card")


async def test_sam_failure_is_device_unavailable_and_logged_without_data(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A SAM fault: failed device_unavailable; the log names the error class only."""
    service = DeviceService(
        {"idcard": "sim://idcard?fault=sam-failure"}, consent=auto_grant, clock=FakeClock()
    )
    _, outcome, _, error = await _run(service, _request())
    assert (outcome, error) == (HwOutcome.FAILED, "device_unavailable")
    assert ID_NUMBER not in caplog.text


async def test_missing_device_and_bad_url() -> None:
    """A device the kiosk has not got (live view, still) or a bad URL is device_unavailable."""
    service = DeviceService({"idcard": "sim://idcard"}, consent=auto_grant)
    _, outcome, _, error = await _run(service, _request(HwAction.DOCUMENT_LIVE_START))
    assert (outcome, error) == (HwOutcome.FAILED, "device_unavailable")
    _, outcome, _, error = await _run(service, _request(HwAction.CAPTURE_DOCUMENT))
    assert (outcome, error) == (HwOutcome.FAILED, "device_unavailable")
    broken = DeviceService({"idcard": "nope://x"}, consent=auto_grant)
    _, outcome, _, error = await _run(broken, _request())
    assert (outcome, error) == (HwOutcome.FAILED, "device_unavailable")


async def test_busy_while_a_read_runs() -> None:
    """A second request while the first waits for consent is answered busy."""
    release = asyncio.Event()

    async def slow_consent(request: HwRequest) -> bool:
        await release.wait()
        return False

    service = DeviceService({"idcard": "sim://idcard"}, consent=slow_consent)

    async def progress(stage: str) -> None:
        return None

    first = asyncio.create_task(service.handle(_request(), progress))
    await asyncio.sleep(0)
    second = await service.handle(_request(), progress)
    release.set()
    assert second.outcome is HwOutcome.BUSY
    assert (await first).outcome is HwOutcome.CONSENT_REFUSED


async def test_health_report_has_no_personal_data() -> None:
    """The health report lists each configured device's status and check, with no card data."""
    service = DeviceService({"idcard": "sim://idcard", "printer": "sim://printer"}, clock=FakeClock())
    try:
        report = await service.health()
    finally:
        await service.close()
    assert set(report) == {"idcard", "printer"}
    assert report["idcard"]["health"]["ok"] is True
    assert ID_NUMBER not in repr(report) and "张示例" not in repr(report)


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """KIOSK_* variables configure the kiosk; the signaling URL follows the office URL's scheme."""
    monkeypatch.setenv("KIOSK_OFFICE_URL", "https://office.example/")
    monkeypatch.setenv("KIOSK_FACE_CAMERA_URL", "")
    monkeypatch.setenv("KIOSK_VIDEO_FPS", "15")
    settings = KioskSettings()
    assert settings.signaling_url() == "wss://office.example/ws/signaling"
    assert "face_camera" not in settings.device_urls() and settings.device_urls()["idcard"].startswith(
        "sim://"
    )
    assert (settings.video_width, settings.video_height, settings.video_fps) == (640, 480, 15)
    monkeypatch.setenv("KIOSK_VIDEO_FPS", "60")
    with pytest.raises(ValueError):
        KioskSettings()


def test_token_store_is_private(tmp_path: Path) -> None:
    """The token file is 0600, replaced atomically, and absent before enrollment."""
    store = TokenStore(tmp_path / "state")
    assert store.load() is None
    store.save("tok-1")
    store.save("tok-2")
    assert store.load() == "tok-2"
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert [p.name for p in store.path.parent.iterdir()] == ["device_token"]


async def test_blurred_document_asks_the_resident_to_adjust() -> None:
    """A blurred page fails quality: failed with the camera's prompt, no image handed over."""
    service = DeviceService(
        {"document_camera": "sim://document_camera?mode=blurred&width=1600&height=1200"}, consent=auto_grant
    )
    stages, outcome, data, error = await _run(service, _request(HwAction.CAPTURE_DOCUMENT))
    assert stages[-1] == "reading" and outcome is HwOutcome.FAILED and data is None
    assert error is not None and error.startswith("document_")


@pytest.mark.parametrize(
    ("url", "params", "expected"),
    [
        (
            "sim://fingerprint?finger=resident-1&enrolled=resident-1@3&latency=0",
            {"slot": 3},
            (True, "verify", 3),
        ),
        (
            "sim://fingerprint?finger=resident-2&enrolled=resident-1@3&latency=0",
            {"slot": 3},
            (False, "verify", 3),
        ),
        ("sim://fingerprint?finger=resident-1&enrolled=resident-1@5&latency=0", {}, (True, "search", 5)),
        ("sim://fingerprint?finger=resident-2&enrolled=resident-1@5&latency=0", {}, (False, "search", None)),
    ],
)
async def test_verify_fingerprint_one_to_one_and_search(
    url: str, params: dict[str, str | int | float | bool], expected: tuple[bool, str, int | None]
) -> None:
    """verify_fingerprint: 1:1 against a slot or 1:N search; only matched/score/slot leave the kiosk."""
    service = DeviceService({"fingerprint": url}, consent=auto_grant, clock=FakeClock())
    _, outcome, data, _ = await _run(service, _request(HwAction.VERIFY_FINGERPRINT, params))
    assert outcome is HwOutcome.OK and data is not None
    assert (data["matched"], data["mode"], data["slot"]) == expected
    assert set(data) == {"mode", "matched", "score", "slot"}


async def test_verify_fingerprint_rejects_a_bad_slot() -> None:
    """A slot that is not a non-negative integer is refused before the scanner is touched."""
    service = DeviceService({"fingerprint": "sim://fingerprint"}, consent=auto_grant)
    _, outcome, _, error = await _run(service, _request(HwAction.VERIFY_FINGERPRINT, {"slot": "1"}))
    assert (outcome, error) == (HwOutcome.FAILED, "invalid_params")
    assert service._devices == {}
