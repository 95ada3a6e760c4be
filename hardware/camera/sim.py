"""Simulated document and face cameras (hardware-protocols §7.3).

The document camera renders frames with :mod:`hardware.camera.synth` at the negotiated size:
a perspective-skewed page on a desk. URL parameters pick the scene and the fault::

    sim://document-camera?width=3264&height=2448&fourcc=MJPG&mode=normal|blurred|glare|empty|partial
                         &fault=clamp|unplug|timeout&unplug_after=N&settle=N&seed=N&fps=15

* ``clamp``: the camera ignores the requested size and gives 1920×1080 YUYV (opencv#24289);
* ``unplug``: ``read`` fails after ``unplug_after`` frames (default 0) — the device is gone;
* ``timeout``: every read times out;
* ``settle=N``: the page moves for N frames before it lies still (auto-capture tests).

The face camera gives 640×480 frames of a moving synthetic pattern; its modes are
``normal``, ``covered`` (black frames), ``frozen`` (the same frame forever) and the faults
``unplug`` / ``timeout``. Frame pacing uses the injected clock (``clock.sleep(1 / fps)``).
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from hardware.camera import synth
from hardware.camera.device import DocumentCamera, FaceCamera, Negotiated
from hardware.clock import Clock
from hardware.errors import ConfigurationError, ConnectionLost, DeviceTimeout, NoHardware
from hardware.stats import Statistics

__all__ = [
    "MJPG_SIZES",
    "SimDocumentCamera",
    "SimFaceCamera",
    "open_sim_document_camera",
    "open_sim_face_camera",
]

Frame = npt.NDArray[np.uint8]

MJPG_SIZES: tuple[tuple[int, int], ...] = (
    (3264, 2448),
    (2592, 1944),
    (2048, 1536),
    (1920, 1080),
    (1600, 1200),
    (1280, 960),
    (1280, 720),
    (1024, 768),
    (800, 600),
    (640, 480),
)
"""Resolutions a typical 高拍仪 offers in MJPG (ranvane/HighSpeed-Document-Scanner probe list)."""

_YUYV_MAX = (1920, 1080)
_DOC_MODES = {"normal": synth.Fault.NONE, **{f.value: f for f in synth.Fault if f is not synth.Fault.NONE}}
_FAULTS = frozenset({"clamp", "unplug", "timeout", "absent"})


def _pick_size(width: int, height: int, fourcc: str) -> tuple[int, int, str]:
    """What a UVC driver does with a request: the largest supported size not above it."""
    sizes = MJPG_SIZES if fourcc == "MJPG" else tuple(s for s in MJPG_SIZES if s[0] * s[1] <= 1920 * 1080)
    for w, h in sizes:
        if w <= width and h <= height:
            return w, h, fourcc
    w, h = sizes[-1]
    return w, h, fourcc


class _SimFaults:
    """Fault switches shared by both simulated cameras."""

    def __init__(self, faults: frozenset[str], unplug_after: int) -> None:
        self.faults = set(faults)
        self.unplug_after = unplug_after
        self.frames = 0

    def before_read(self) -> None:
        if "timeout" in self.faults:
            raise DeviceTimeout("camera delivered no frame in time", timeout=1.0)
        if "unplug" in self.faults and self.frames >= self.unplug_after:
            raise ConnectionLost("camera read failed (device unplugged)")
        self.frames += 1


class SimDocumentCamera(DocumentCamera):
    """A document camera whose frames are synthetic photographs with known page corners."""

    def __init__(
        self,
        *,
        mode: synth.Fault = synth.Fault.NONE,
        faults: frozenset[str] = frozenset(),
        unplug_after: int = 0,
        seed: int = 1,
        settle: int = 0,
        fps: float = 15.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.mode = mode
        self.seed = seed
        self.settle = settle
        self.fps = fps
        self.sim = _SimFaults(faults, unplug_after)
        self._scenes: dict[int, synth.SynthDocument] = {}
        self._page_cache: dict[int, npt.NDArray[np.uint8]] = {}

    @property
    def truth(self) -> synth.SynthDocument | None:
        """The scene of the last frame (ground-truth corners), for tests and diagnostics."""
        return self._last

    _last: synth.SynthDocument | None = None

    def unplug(self) -> None:
        """Pull the cable now: the next read fails with ConnectionLost."""
        self.sim.faults.add("unplug")
        self.sim.unplug_after = self.sim.frames

    def _open(self) -> None:
        if "absent" in self.sim.faults:
            raise NoHardware("no document camera at sim://document-camera")

    def _close(self) -> None:
        self._scenes.clear()

    def _negotiate(self) -> Negotiated:
        width, height, fourcc = self.requested
        got = (*_YUYV_MAX, "YUYV") if "clamp" in self.sim.faults else _pick_size(width, height, fourcc)
        return Negotiated(got[0], got[1], got[2], self.fps, self.requested)

    def _scene(self, frame_index: int) -> synth.SynthDocument:
        key = 1 + frame_index % 2 if frame_index < self.settle else 0
        if key not in self._scenes:
            assert self._negotiated is not None
            seed = self.seed * 7919 + key
            if seed not in self._page_cache:
                self._page_cache[seed] = synth.render_page(self.seed)
            self._scenes[key] = synth.generate(
                seed,
                self._negotiated.width,
                self._negotiated.height,
                fault=self.mode,
                page=self._page_cache[seed],
            )
        return self._scenes[key]

    def _read(self) -> Frame:
        self.sim.before_read()
        self.clock.sleep(1.0 / self.fps)
        scene = self._scene(self.sim.frames - 1)
        self._last = scene
        return scene.image.copy()

    def _set_control(self, name: str, value: float | None) -> None:
        setting: dict[str, Any] = {name: "auto" if value is None else value}
        self._update_status(**setting)


class SimFaceCamera(FaceCamera):
    """A face camera showing a moving synthetic pattern (a face-like ellipse drifting on a gradient)."""

    def __init__(
        self,
        *,
        mode: str = "normal",
        faults: frozenset[str] = frozenset(),
        unplug_after: int = 0,
        fps: float = 25.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.mode = mode
        self.fps = fps
        self.sim = _SimFaults(faults, unplug_after)

    def unplug(self) -> None:
        """Pull the cable now: the next read fails with ConnectionLost."""
        self.sim.faults.add("unplug")
        self.sim.unplug_after = self.sim.frames

    def _open(self) -> None:
        if "absent" in self.sim.faults:
            raise NoHardware("no face camera at sim://face-camera")

    def _close(self) -> None:
        pass

    def _negotiate(self) -> Negotiated:
        width, height, fourcc = self.requested
        w, h, f = _pick_size(width, height, fourcc)
        return Negotiated(w, h, f, self.fps, self.requested)

    def _read(self) -> Frame:
        self.sim.before_read()
        self.clock.sleep(1.0 / self.fps)
        assert self._negotiated is not None
        w, h = self._negotiated.width, self._negotiated.height
        if self.mode == "covered":
            return np.full((h, w, 3), 4, dtype=np.uint8)
        t = 0 if self.mode == "frozen" else self.sim.frames
        ramp = np.linspace(60, 170, w, dtype=np.float32)
        frame = np.empty((h, w, 3), dtype=np.uint8)
        frame[:] = np.stack([ramp, ramp * 0.9, ramp * 0.8], axis=1).astype(np.uint8)[None, :, :]
        cx = int(w / 2 + w / 8 * np.sin(t / 10.0))
        cy = int(h / 2 + h / 12 * np.cos(t / 13.0))
        cv2.ellipse(frame, (cx, cy), (w // 7, h // 4), 0, 0, 360, (120, 150, 205), -1)
        cv2.circle(frame, (cx - w // 20, cy - h // 20), max(2, w // 80), (40, 40, 40), -1)
        cv2.circle(frame, (cx + w // 20, cy - h // 20), max(2, w // 80), (40, 40, 40), -1)
        cv2.ellipse(frame, (cx, cy + h // 10), (w // 25, h // 60), 0, 0, 180, (60, 60, 140), 2)
        return frame


def _common(params: dict[str, str], default_size: tuple[int, int]) -> dict[str, Any]:
    try:
        width = int(params.get("width", default_size[0]))
        height = int(params.get("height", default_size[1]))
        unplug_after = int(params.get("unplug_after", "0"))
        fps = float(params.get("fps", "15"))
    except ValueError as err:
        raise ConfigurationError("width, height, unplug_after and fps must be numbers") from err
    fourcc = params.get("fourcc", "MJPG").upper()
    if fourcc not in ("MJPG", "YUYV"):
        raise ConfigurationError("fourcc must be MJPG or YUYV")
    faults = frozenset(f for f in params.get("fault", "").split(",") if f)
    if faults - _FAULTS:
        raise ConfigurationError(f"unknown camera faults: {', '.join(sorted(faults - _FAULTS))}")
    if fps <= 0:
        raise ConfigurationError("fps must be positive")
    return {
        "width": width,
        "height": height,
        "fourcc": fourcc,
        "faults": faults,
        "unplug_after": unplug_after,
        "fps": fps,
    }


def open_sim_document_camera(
    url: urllib.parse.SplitResult,
    params: dict[str, str],
    *,
    clock: Clock,
    statistics: Statistics,
) -> SimDocumentCamera:
    """Registry factory for ``sim://document-camera?…`` (see the module docstring)."""
    common = _common(params, (3264, 2448))
    mode_name = params.get("mode", "normal")
    if mode_name not in _DOC_MODES:
        raise ConfigurationError(
            f"unknown document camera mode {mode_name!r}; known: {', '.join(_DOC_MODES)}"
        )
    try:
        seed = int(params.get("seed", "1"))
        settle = int(params.get("settle", "0"))
    except ValueError as err:
        raise ConfigurationError("seed and settle must be integers") from err
    return SimDocumentCamera(
        mode=_DOC_MODES[mode_name], seed=seed, settle=settle, clock=clock, statistics=statistics, **common
    )


def open_sim_face_camera(
    url: urllib.parse.SplitResult,
    params: dict[str, str],
    *,
    clock: Clock,
    statistics: Statistics,
) -> SimFaceCamera:
    """Registry factory for ``sim://face-camera?mode=normal|covered|frozen&fault=unplug|timeout``."""
    common = _common(params, (640, 480))
    mode = params.get("mode", "normal")
    if mode not in ("normal", "covered", "frozen"):
        raise ConfigurationError("face camera mode must be normal, covered or frozen")
    return SimFaceCamera(mode=mode, clock=clock, statistics=statistics, **common)
