"""UVC backend: negotiation order and read-back, controls, read failures; real devices behind a marker.

A real camera cannot be attached here, so the negotiation logic runs against ``DriverLike``, a
small stand-in with the behaviour of a V4L2 driver that matters (opencv#24289: high sizes only in
MJPG; clamping to the nearest supported size; refusing some controls). The real-device test at the
end runs only with ``-m hardware`` and ``DOORSTEP_REAL_HARDWARE=1``.
"""

from __future__ import annotations

import os
from typing import Any

import cv2
import numpy as np
import pytest

from hardware import HealthLevel, open_device
from hardware.camera.uvc import (
    UvcCapture,
    UvcDocumentCamera,
    decode_fourcc,
    negotiate,
    open_uvc_document_camera,
    open_uvc_face_camera,
    probe_max_resolution,
)
from hardware.clock import FakeClock
from hardware.errors import ConfigurationError, ConnectionLost, NoHardware, UnsupportedOperation
from hardware.registry import parse_device_url
from hardware.stats import Statistics

MJPG = cv2.VideoWriter.fourcc(*"MJPG")
YUYV = cv2.VideoWriter.fourcc(*"YUYV")
SIZES = {MJPG: [(3264, 2448), (1920, 1080), (640, 480)], YUYV: [(1920, 1080), (640, 480)]}


class DriverLike:
    """A V4L2-like capture: applies fourcc, clamps sizes per fourcc, logs every set."""

    def __init__(
        self, *, opened: bool = True, frames: int = 10**6, refuse: frozenset[int] = frozenset()
    ) -> None:
        self.opened = opened
        self.frames_left = frames
        self.refuse = refuse
        self.calls: list[tuple[int, float]] = []
        self.props: dict[int, float] = {
            cv2.CAP_PROP_FOURCC: float(YUYV),
            cv2.CAP_PROP_FRAME_WIDTH: 640.0,
            cv2.CAP_PROP_FRAME_HEIGHT: 480.0,
            cv2.CAP_PROP_FPS: 15.0,
        }
        self.released = False

    def isOpened(self) -> bool:
        return self.opened

    def set(self, prop: int, value: float) -> bool:
        self.calls.append((prop, value))
        if prop in self.refuse:
            return False
        self.props[prop] = value
        if prop in (cv2.CAP_PROP_FOURCC, cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT):
            self._clamp()
        return True

    def _clamp(self) -> None:
        fourcc = int(self.props[cv2.CAP_PROP_FOURCC])
        want_w, want_h = self.props[cv2.CAP_PROP_FRAME_WIDTH], self.props[cv2.CAP_PROP_FRAME_HEIGHT]
        sizes = SIZES.get(fourcc, SIZES[YUYV])
        best = min(sizes, key=lambda s: abs(s[0] - want_w) + abs(s[1] - want_h))
        self.props[cv2.CAP_PROP_FRAME_WIDTH], self.props[cv2.CAP_PROP_FRAME_HEIGHT] = map(float, best)

    def get(self, prop: int) -> float:
        return self.props.get(prop, 0.0)

    def read(self) -> tuple[bool, Any]:
        if self.frames_left <= 0:
            return False, None
        self.frames_left -= 1
        w, h = int(self.props[cv2.CAP_PROP_FRAME_WIDTH]), int(self.props[cv2.CAP_PROP_FRAME_HEIGHT])
        return True, np.full((h, w, 3), 128, dtype=np.uint8)

    def release(self) -> None:
        self.released = True


def test_fourcc_is_set_before_the_size_and_read_back() -> None:
    """MJPG is requested first, then width and height; the result is what the driver reports."""
    driver = DriverLike()
    got, refused = negotiate(driver, 3264, 2448, "MJPG")
    props = [prop for prop, _ in driver.calls]
    assert props[:3] == [cv2.CAP_PROP_FOURCC, cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT]
    assert (got.width, got.height, got.fourcc) == (3264, 2448, "MJPG") and got.honoured
    assert refused == []


def test_yuyv_request_is_clamped_and_reported() -> None:
    """Asking for 3264×2448 in YUYV yields 1920×1080, reported as not honoured."""
    got, _ = negotiate(DriverLike(), 3264, 2448, "YUYV")
    assert (got.width, got.height, got.fourcc) == (1920, 1080, "YUYV")
    assert not got.honoured and got.to_dict()["honoured"] is False


def test_refused_settings_are_listed() -> None:
    """A driver that refuses the fourcc keeps its format, and the refusal is recorded."""
    got, refused = negotiate(DriverLike(refuse=frozenset({cv2.CAP_PROP_FOURCC})), 1920, 1080, "MJPG")
    assert refused == ["fourcc"] and got.fourcc == "YUYV"


def test_probe_max_resolution_reads_back_the_clamp() -> None:
    """Requesting 10000×10000 returns the largest size the driver offers in that fourcc."""
    assert probe_max_resolution(DriverLike()) == (3264, 2448)
    assert probe_max_resolution(DriverLike(), "YUYV") == (1920, 1080)


def test_decode_fourcc() -> None:
    """CAP_PROP_FOURCC values decode to their four characters."""
    assert decode_fourcc(float(MJPG)) == "MJPG"
    assert decode_fourcc(0.0) == ""


def _camera(driver: DriverLike) -> UvcDocumentCamera:
    capture = UvcCapture(0, factory=lambda source, api: driver)
    return UvcDocumentCamera(capture, width=1920, height=1080, clock=FakeClock())


def test_device_reads_frames_and_detects_unplug() -> None:
    """The device negotiates on enable, reads frames, and maps read() == False to ConnectionLost."""
    driver = DriverLike(frames=2)
    with _camera(driver) as camera:
        assert camera.negotiated is not None and camera.negotiated.width == 1920
        assert camera.read_frame().shape == (1080, 1920, 3)
        assert camera.check_health(HealthLevel.INTERNAL).ok
        with pytest.raises(ConnectionLost):
            camera.read_frame()
    assert driver.released


def test_missing_device_is_no_hardware() -> None:
    """A capture that does not open raises NoHardware and is released."""
    driver = DriverLike(opened=False)
    with pytest.raises(NoHardware):
        _camera(driver).open()
    assert driver.released


def test_controls_switch_auto_off_before_manual_values() -> None:
    """Manual exposure sets AUTO_EXPOSURE=1 then EXPOSURE; autofocus off before FOCUS; None means auto."""
    driver = DriverLike()
    with _camera(driver) as camera:
        driver.calls.clear()
        camera.set_exposure(-5)
        camera.set_focus(30)
        camera.set_exposure(None)
        assert driver.calls == [
            (cv2.CAP_PROP_AUTO_EXPOSURE, 1.0),
            (cv2.CAP_PROP_EXPOSURE, -5.0),
            (cv2.CAP_PROP_AUTOFOCUS, 0.0),
            (cv2.CAP_PROP_FOCUS, 30.0),
            (cv2.CAP_PROP_AUTO_EXPOSURE, 3.0),
        ]


def test_refused_control_is_unsupported() -> None:
    """A control the driver refuses raises UnsupportedOperation."""
    driver = DriverLike(refuse=frozenset({cv2.CAP_PROP_FOCUS}))
    with _camera(driver) as camera, pytest.raises(UnsupportedOperation):
        camera.set_focus(10)


def test_urls() -> None:
    """uvc://N and uvc:///dev/videoN build cameras with their sizes; bad values are config errors."""
    parts, params = parse_device_url("uvc://2?width=2592&height=1944")
    doc = open_uvc_document_camera(parts, params, clock=FakeClock(), statistics=Statistics())
    assert doc.capture.source == 2 and doc.requested == (2592, 1944, "MJPG")
    parts, params = parse_device_url("uvc:///dev/video4")
    face = open_uvc_face_camera(parts, params, clock=FakeClock(), statistics=Statistics())
    assert face.capture.source == "/dev/video4" and face.requested == (640, 480, "MJPG")
    for bad in ("uvc://cam", "uvc://0?width=x", "uvc://0?api=gstreamer", "uvc://0?fourcc=MJPEG"):
        parts, params = parse_device_url(bad)
        with pytest.raises(ConfigurationError):
            open_uvc_document_camera(parts, params, clock=FakeClock(), statistics=Statistics())


@pytest.mark.hardware
@pytest.mark.skipif(os.environ.get("DOORSTEP_REAL_HARDWARE") != "1", reason="needs DOORSTEP_REAL_HARDWARE=1")
@pytest.mark.parametrize(
    ("kind", "variable"),
    [("document_camera", "DOORSTEP_DOC_CAMERA_URL"), ("face_camera", "DOORSTEP_FACE_CAMERA_URL")],
)
def test_real_camera_negotiates_and_captures(kind: str, variable: str) -> None:
    """A real camera opens, negotiates, passes INTERNAL health and delivers a frame of that size."""
    url = os.environ.get(variable)
    if not url:
        pytest.fail(f"{variable} must name the camera URL (e.g. uvc://0) when DOORSTEP_REAL_HARDWARE=1")
    with open_device(kind, url) as camera:
        assert camera.check_health(HealthLevel.INTERNAL).ok
        negotiated = getattr(camera, "negotiated")  # noqa: B009
        frame = camera.read_frame()  # type: ignore[attr-defined]
        assert frame.shape[:2] == (negotiated.height, negotiated.width)
