"""Simulated document and face cameras: negotiation, stills, auto-capture, faults and health."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from hardware import open_device
from hardware.camera import CaptureResult, DocumentCamera, FaceCamera, PoorImage
from hardware.camera.pipeline import QualityProblem
from hardware.camera.sim import SimDocumentCamera, SimFaceCamera
from hardware.camera.synth import iou
from hardware.clock import FakeClock
from hardware.device import Availability, DataEvent, DeviceEvent, DeviceState
from hardware.errors import (
    ConfigurationError,
    ConnectionLost,
    DeviceTimeout,
    NoHardware,
    NotClaimed,
    UnsupportedOperation,
)
from hardware.health import HealthLevel, RecommendedAction

DOC = "sim://document-camera?width=1280&height=960"


def _doc(url: str = DOC) -> SimDocumentCamera:
    camera = open_device("document_camera", url, clock=FakeClock())
    assert isinstance(camera, SimDocumentCamera) and isinstance(camera, DocumentCamera)
    return camera


def _face(url: str = "sim://face-camera") -> SimFaceCamera:
    camera = open_device("face_camera", url, clock=FakeClock())
    assert isinstance(camera, SimFaceCamera) and isinstance(camera, FaceCamera)
    return camera


def _decode(jpeg: bytes) -> np.ndarray:
    return np.asarray(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR))


def test_negotiates_the_requested_mjpg_size() -> None:
    """A supported MJPG request is honoured and frames come at that size."""
    with _doc() as camera:
        assert camera.negotiated is not None and camera.negotiated.honoured
        assert camera.read_frame().shape == (960, 1280, 3)
        assert camera.status().detail["width"] == 1280


def test_unsupported_size_falls_back_to_the_next_smaller() -> None:
    """A size the camera lacks gives the largest supported size below it, reported as not honoured."""
    with _doc("sim://document-camera?width=1500&height=1000") as camera:
        assert camera.negotiated is not None
        assert (camera.negotiated.width, camera.negotiated.height) == (1280, 960)
        assert not camera.negotiated.honoured
        assert camera.statistics.get("negotiation.not_honoured") == 1


def test_clamping_camera_reports_what_it_actually_gave() -> None:
    """A camera that ignores the request (1920×1080 YUYV) is read back, not trusted."""
    with _doc("sim://document-camera?fault=clamp") as camera:
        negotiated = camera.negotiated
        assert negotiated is not None
        assert (negotiated.width, negotiated.height, negotiated.fourcc) == (1920, 1080, "YUYV")
        assert negotiated.requested == (3264, 2448, "MJPG")
        assert camera.read_frame().shape == (1080, 1920, 3)
        result = camera.check_health(HealthLevel.INTERNAL)
        assert result.ok and "requested 3264x2448 MJPG" in result.steps[0].detail


def test_capture_still_returns_full_resolution_jpeg_page_and_metadata() -> None:
    """A good still has the full-size JPEG, corners matching the truth, and a straightened page."""
    events: list[DeviceEvent] = []
    with _doc() as camera:
        camera.subscribe(events.append)
        result = camera.capture_still()
        truth = camera.truth
    assert isinstance(result, CaptureResult)
    assert _decode(result.jpeg).shape == (960, 1280, 3)
    assert truth is not None and truth.corners is not None and result.corners is not None
    assert iou(np.array(result.corners), truth.corners) > 0.95
    assert result.page_jpeg is not None and _decode(result.page_jpeg).shape[0] > 300
    meta = result.metadata()
    assert meta["quality"]["problems"] == [] and len(meta["corners"]) == 4
    assert any(isinstance(e, DataEvent) and e.what == "capture_done" for e in events)


@pytest.mark.parametrize(
    ("mode", "problem"),
    [("blurred", QualityProblem.BLURRED), ("glare", QualityProblem.GLARE), ("empty", QualityProblem.NO_PAGE)],
)
def test_poor_images_are_refused_with_a_reason(mode: str, problem: QualityProblem) -> None:
    """Blurred, glare and empty scenes raise PoorImage naming the problem, with a zh-CN hint."""
    with _doc(f"{DOC}&mode={mode}") as camera:
        with pytest.raises(PoorImage) as info:
            camera.capture_still()
        assert problem in info.value.problems
        assert info.value.prompt.startswith("document_")
        assert info.value.hint() and info.value.hint("en").isascii()
        assert camera.state is DeviceState.IDLE  # the resident must act; the device is fine
        forced = camera.capture_still(require_quality=False)
        assert forced.quality is not None and problem in forced.quality.problems


def test_auto_capture_waits_for_the_page_to_settle() -> None:
    """Auto-capture fires only after the page stops moving and holds for the steady count."""
    with _doc(f"{DOC}&settle=6") as camera:
        result = camera.auto_capture(steady_frames=4, max_frames=30)
        assert result is not None and result.quality is not None and result.quality.ok
        assert camera.sim.frames == 6 + 4


def test_auto_capture_can_be_cancelled() -> None:
    """A cancel callback stops auto-capture before the next frame."""
    calls: list[int] = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) > 3

    with _doc(f"{DOC}&settle=100") as camera:
        assert camera.auto_capture(max_frames=50, cancelled=cancelled) is None
        assert camera.sim.frames == 3


def test_every_registry_row_of_cameras_and_printers_resolves() -> None:
    """Each BACKENDS entry for document_camera, face_camera and printer names an existing factory."""
    import importlib

    from hardware.registry import BACKENDS

    rows = {k: v for k, v in BACKENDS.items() if k[0] in ("document_camera", "face_camera", "printer")}
    assert len(rows) == 8
    for target in rows.values():
        module, _, attr = target.partition(":")
        assert callable(getattr(importlib.import_module(module), attr))


def test_auto_capture_gives_up_on_an_empty_desk() -> None:
    """Without a page, auto-capture returns None after max_frames."""
    with _doc(f"{DOC}&mode=empty") as camera:
        assert camera.auto_capture(max_frames=5) is None
        assert camera.sim.frames == 5


def test_unplug_mid_stream() -> None:
    """read() failing mid-stream raises ConnectionLost and marks the device NO_DEVICE / ERROR."""
    with _doc(f"{DOC}&fault=unplug&unplug_after=3") as camera:
        frames = list(camera.frames(limit=3))
        assert len(frames) == 3
        with pytest.raises(ConnectionLost):
            camera.read_frame()
        assert camera.state is DeviceState.ERROR
        assert camera.status().availability is Availability.NO_DEVICE
        health = camera.check_health(HealthLevel.INTERNAL)
        assert not health.ok and health.recommended_action is RecommendedAction.MAINTENANCE


def test_timeouts_and_absent_cameras() -> None:
    """A timing-out camera raises DeviceTimeout; an absent one fails to open with NoHardware."""
    with _doc(f"{DOC}&fault=timeout") as camera, pytest.raises(DeviceTimeout):
        camera.read_frame()
    absent = _doc(f"{DOC}&fault=absent")
    with pytest.raises(NoHardware):
        absent.open()


def test_live_view_pacing_uses_the_injected_clock() -> None:
    """Each frame waits one frame interval on the injected clock (no real sleeping)."""
    clock = FakeClock()
    camera = open_device("document_camera", f"{DOC}&fps=10", clock=clock)
    with camera:
        assert isinstance(camera, SimDocumentCamera)
        list(camera.frames(limit=4))
    assert clock.sleeps == [pytest.approx(0.1)] * 4


def test_document_health_external_checks_focus_and_glare() -> None:
    """EXTERNAL health passes on a good target and fails (CLEAR_HW) on a glare one."""
    with _doc() as camera:
        good = camera.check_health(HealthLevel.EXTERNAL)
    assert good.ok and [s.name for s in good.steps] == [
        "negotiate",
        "frame",
        "target_found",
        "focus",
        "glare",
    ]
    with _doc(f"{DOC}&mode=glare") as camera:
        bad = camera.check_health(HealthLevel.EXTERNAL)
    assert not bad.ok and bad.recommended_action is RecommendedAction.CLEAR_HW
    assert [s.name for s in bad.steps if not s.ok] == ["glare"]


def test_controls_are_reported_in_status() -> None:
    """Exposure and focus settings reach the device status (auto or manual)."""
    with _doc() as camera:
        camera.set_exposure(-6)
        camera.set_focus(None)
        assert camera.status().detail["exposure"] == -6
        assert camera.status().detail["focus"] == "auto"


def test_operations_need_an_enabled_camera() -> None:
    """Reading before enable raises the lifecycle error of the base class."""
    camera = _doc()
    camera.open()
    try:
        with pytest.raises(NotClaimed):
            camera.read_frame()
    finally:
        camera.close()


def test_face_camera_frames_move_and_health_passes() -> None:
    """The face camera gives 640×480 frames that change over time; EXTERNAL health passes."""
    with _face() as camera:
        a, b = camera.read_frame(), camera.read_frame()
        assert a.shape == (480, 640, 3) and not np.array_equal(a, b)
        result = camera.check_health(HealthLevel.EXTERNAL)
        assert result.ok, result.text
        still = camera.capture_still()
        assert _decode(still.jpeg).shape == (480, 640, 3)


@pytest.mark.parametrize(
    ("mode", "failed"), [("covered", ["contrast", "exposure", "live"]), ("frozen", ["live"])]
)
def test_face_camera_health_catches_covered_and_frozen(mode: str, failed: list[str]) -> None:
    """A covered lens fails contrast, exposure and liveness; a frozen stream fails liveness only."""
    with _face(f"sim://face-camera?mode={mode}") as camera:
        result = camera.check_health(HealthLevel.EXTERNAL)
    assert not result.ok
    assert [s.name for s in result.steps if not s.ok] == failed


def test_face_camera_unplug_now() -> None:
    """Unplugging the face camera during use makes the next read raise ConnectionLost."""
    with _face() as camera:
        camera.read_frame()
        camera.unplug()
        with pytest.raises(ConnectionLost):
            camera.read_frame()


def test_interactive_health_is_unsupported() -> None:
    """Cameras support INTERNAL and EXTERNAL checks only."""
    with _face() as camera, pytest.raises(UnsupportedOperation):
        camera.check_health(HealthLevel.INTERACTIVE)


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        ("document_camera", "sim://document-camera?mode=smudged"),
        ("document_camera", "sim://document-camera?fault=fire"),
        ("document_camera", "sim://document-camera?width=big"),
        ("document_camera", "sim://document-camera?fourcc=H264"),
        ("face_camera", "sim://face-camera?mode=sleepy"),
        ("face_camera", "sim://face-camera?fps=0"),
    ],
)
def test_bad_sim_urls(kind: str, url: str) -> None:
    """Unknown modes, faults and malformed numbers are configuration errors."""
    with pytest.raises(ConfigurationError):
        open_device(kind, url)


def test_diagnostics_never_carry_image_data() -> None:
    """Status, health, info, capture metadata and errors hold numbers and names, never image bytes."""
    with _doc() as camera:
        result = camera.capture_still()
        documents = [
            camera.status().to_dict(),
            camera.check_health(HealthLevel.EXTERNAL).to_dict(),
            camera.info(),
            result.metadata(),
        ]
    with _doc(f"{DOC}&mode=glare") as camera, pytest.raises(PoorImage) as info:
        camera.capture_still()
    for document in documents:
        text = json.dumps(document)
        assert len(text) < 2000
        assert "jpeg" not in text
    assert str(info.value) == "document image not usable: glare"
