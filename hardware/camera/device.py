"""Camera device classes: :class:`DocumentCamera` (高拍仪) and :class:`FaceCamera`.

Both share :class:`Camera`: format negotiation on ``enable()`` (what was asked, what the camera
actually gave, hardware-protocols §3.1), ``read_frame()`` / ``frames()`` for the live view, a
``capture_still()`` that returns a JPEG plus metadata, exposure and focus controls, and the
health checks of §4.3 (INTERNAL = negotiation + one frame; EXTERNAL = image checks).

The document camera adds the pipeline of ``hardware.camera.pipeline``: page detection and quality
on every still, perspective-corrected page output, refusal of poor images with a
resident-facing reason (:class:`~hardware.camera.errors.PoorImage`), and :meth:`auto_capture`
which fires when the page has held still. Backends implement ``_negotiate``, ``_read`` and,
optionally, ``_set_control``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from hardware.camera import pipeline
from hardware.camera.errors import PoorImage
from hardware.clock import Clock
from hardware.device import Availability, DataEvent, Device, PromptCallback
from hardware.errors import HardwareError, UnsupportedOperation
from hardware.health import HealthLevel, HealthResult, HealthStep, RecommendedAction
from hardware.stats import Statistics

__all__ = ["Camera", "CaptureResult", "DocumentCamera", "FaceCamera", "Negotiated"]

Frame = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Negotiated:
    """The capture format: what was requested and what the camera actually delivers."""

    width: int
    height: int
    fourcc: str
    fps: float
    requested: tuple[int, int, str]

    @property
    def honoured(self) -> bool:
        """Whether the camera gave exactly the requested size and fourcc."""
        return (self.width, self.height, self.fourcc) == self.requested

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for diagnostics."""
        return {
            "width": self.width,
            "height": self.height,
            "fourcc": self.fourcc,
            "fps": self.fps,
            "requested": list(self.requested),
            "honoured": self.honoured,
        }


@dataclass(frozen=True, slots=True)
class CaptureResult:
    """A still: the full-resolution JPEG, and for documents the straightened page and its quality."""

    jpeg: bytes
    width: int
    height: int
    corners: tuple[tuple[float, float], ...] | None = None
    quality: pipeline.Quality | None = None
    page_jpeg: bytes | None = None
    page_turn: int = 0
    """Clockwise quarter turn applied to the page (0 or 90)."""
    page_skew: float = 0.0
    """Skew angle (degrees) removed from the page after the perspective correction."""

    def metadata(self) -> dict[str, Any]:
        """Everything but the image bytes, JSON-ready (no personal data)."""
        quality = self.quality
        return {
            "width": self.width,
            "height": self.height,
            "corners": [list(c) for c in self.corners] if self.corners else None,
            "page_turn": self.page_turn,
            "page_skew": self.page_skew,
            "quality": None
            if quality is None
            else {
                "focus": round(quality.focus, 1),
                "glare_fraction": round(quality.glare_fraction, 5),
                "area_ratio": round(quality.area_ratio, 4),
                "fully_in_frame": quality.fully_in_frame,
                "problems": [p.value for p in quality.problems],
            },
        }


class Camera(Device):
    """A UVC-style camera: negotiated format, latest-frame reads, stills, controls, health."""

    supported_health_levels: ClassVar[frozenset[HealthLevel]] = frozenset(
        {HealthLevel.INTERNAL, HealthLevel.EXTERNAL}
    )
    jpeg_quality: int = 90

    def __init__(
        self,
        *,
        width: int,
        height: int,
        fourcc: str = "MJPG",
        name: str | None = None,
        clock: Clock | None = None,
        statistics: Statistics | None = None,
    ) -> None:
        super().__init__(name=name, clock=clock, statistics=statistics)
        self.requested = (width, height, fourcc)
        self._negotiated: Negotiated | None = None

    @property
    def negotiated(self) -> Negotiated | None:
        """The format agreed on the last ``enable()`` (``None`` before)."""
        return self._negotiated

    def _enable(self) -> None:
        self._negotiated = self._negotiate()
        self._update_status(availability=Availability.ONLINE, streaming=True, **self._negotiated.to_dict())
        if not self._negotiated.honoured:
            self.statistics.increment("negotiation.not_honoured")

    def _disable(self) -> None:
        self._update_status(streaming=False)

    def read_frame(self) -> Frame:
        """The latest frame (BGR, negotiated size); ConnectionLost when the camera went away."""
        with self._operation("read_frame"):
            return self._read_checked()

    def frames(self, limit: int | None = None) -> Iterator[Frame]:
        """Yield live-view frames until ``limit`` frames (or forever, for the live view)."""
        count = 0
        while limit is None or count < limit:
            yield self.read_frame()
            count += 1

    def set_exposure(self, value: float | None) -> None:
        """Manual exposure (backend units), or ``None`` for automatic."""
        with self._operation("set_exposure"):
            self._set_control("exposure", value)

    def set_focus(self, value: float | None) -> None:
        """Manual focus (backend units), or ``None`` for autofocus."""
        with self._operation("set_focus"):
            self._set_control("focus", value)

    def _read_checked(self) -> Frame:
        try:
            frame = self._read()
        except HardwareError as err:
            if err.recommended_action is RecommendedAction.MAINTENANCE:
                self._update_status(availability=Availability.NO_DEVICE, streaming=False)
            raise
        return frame

    def _encode(self, frame: Frame) -> bytes:
        return pipeline.encode_jpeg(frame, quality=self.jpeg_quality)

    def _check_health(self, level: HealthLevel, prompt: PromptCallback) -> HealthResult:
        steps: list[HealthStep] = []
        negotiated = self._negotiated
        if negotiated is None:  # pragma: no cover - enable() always negotiates
            return HealthResult.from_steps(level, [HealthStep("negotiate", False, "not negotiated")])
        detail = f"{negotiated.width}x{negotiated.height} {negotiated.fourcc}"
        if not negotiated.honoured:
            w, h, f = negotiated.requested
            detail += f" (requested {w}x{h} {f})"
        steps.append(HealthStep("negotiate", True, detail))
        try:
            frame = self._read_checked()
        except HardwareError as err:
            steps.append(HealthStep("frame", False, f"{err.code}: {err.message}"))
            return HealthResult.from_steps(level, steps, failure_action=err.recommended_action)
        shape_ok = frame.shape[:2] == (negotiated.height, negotiated.width)
        steps.append(HealthStep("frame", shape_ok, f"{frame.shape[1]}x{frame.shape[0]}"))
        if level is HealthLevel.EXTERNAL and shape_ok:
            steps.extend(self._image_checks(frame))
        return HealthResult.from_steps(level, steps, failure_action=RecommendedAction.CLEAR_HW)

    def _image_checks(self, frame: Frame) -> list[HealthStep]:
        """EXTERNAL-level checks on a live frame (per camera class)."""
        return []

    def _capabilities(self) -> Mapping[str, Any]:
        return {"requested": list(self.requested), "controls": ["exposure", "focus"]}

    # ---------------------------------------------------------------- the hooks

    @abstractmethod
    def _negotiate(self) -> Negotiated:
        """Apply the requested format and report what the camera actually gave."""

    @abstractmethod
    def _read(self) -> Frame:
        """Grab the latest frame; raise ConnectionLost / DeviceTimeout on failure."""

    def _set_control(self, name: str, value: float | None) -> None:
        """Set ``exposure`` or ``focus`` (``None`` = automatic)."""
        raise UnsupportedOperation(f"{self.name} has no {name} control")


class DocumentCamera(Camera):
    """The document camera (高拍仪): stills of documents, straightened and quality-checked."""

    kind: ClassVar[str] = "document_camera"
    straighten_pages: bool = True
    """Turn and deskew the page after the perspective correction (``pipeline.straighten``)."""

    def __init__(
        self,
        *,
        width: int = 3264,
        height: int = 2448,
        fourcc: str = "MJPG",
        thresholds: pipeline.QualityThresholds | None = None,
        name: str | None = None,
        clock: Clock | None = None,
        statistics: Statistics | None = None,
    ) -> None:
        super().__init__(
            width=width, height=height, fourcc=fourcc, name=name, clock=clock, statistics=statistics
        )
        self.thresholds = thresholds or pipeline.QualityThresholds()

    def analyze(self) -> pipeline.FrameAnalysis:
        """Read the latest frame and report the page and its quality (for live guidance)."""
        with self._operation("analyze"):
            return pipeline.analyze(self._read_checked(), self.thresholds)

    def capture_still(
        self, *, require_quality: bool = True, max_page_side: int | None = None
    ) -> CaptureResult:
        """Capture a full-resolution still with its page corners, quality and straightened page.

        With ``require_quality`` a frame with problems raises
        :class:`~hardware.camera.errors.PoorImage` (the resident must adjust the page).
        """
        with self._operation("capture_still"):
            frame = self._read_checked()
            result = self._still(frame, require_quality=require_quality, max_page_side=max_page_side)
        self._emit(DataEvent(device=self.name, what="capture_done"))
        return result

    def auto_capture(
        self,
        *,
        max_frames: int = 300,
        steady_frames: int = 8,
        cancelled: Callable[[], bool] | None = None,
    ) -> CaptureResult | None:
        """Watch the live view and capture once the page has held still with good quality.

        Returns ``None`` when ``max_frames`` pass without a steady, good page, or as soon as
        ``cancelled()`` returns True (checked before every frame; the agent or resident gave up).
        """
        detector = pipeline.SteadyDetector(frames=steady_frames)
        with self._operation("auto_capture"):
            for _ in range(max_frames):
                if cancelled is not None and cancelled():
                    return None
                frame = self._read_checked()
                analysis = pipeline.analyze(frame, self.thresholds)
                corners = None if analysis.detection is None else analysis.detection.corners
                size = (frame.shape[1], frame.shape[0])
                if detector.update(corners, size, quality_ok=analysis.quality.ok):
                    result = self._still(frame, require_quality=False, analysis=analysis)
                    break
            else:
                return None
        self._emit(DataEvent(device=self.name, what="capture_done"))
        return result

    def _still(
        self,
        frame: Frame,
        *,
        require_quality: bool,
        max_page_side: int | None = None,
        analysis: pipeline.FrameAnalysis | None = None,
    ) -> CaptureResult:
        analysis = analysis or pipeline.analyze(frame, self.thresholds)
        quality = analysis.quality
        if require_quality and not quality.ok:
            self.statistics.increment("capture.poor_image")
            raise PoorImage(quality.problems)
        detection = analysis.detection
        page = None
        corners = None
        turn, skew = 0, 0.0
        if detection is not None:
            corners = tuple((float(x), float(y)) for x, y in detection.corners)
            flat = pipeline.warp_page(frame, detection.corners, max_side=max_page_side)
            if self.straighten_pages:
                flat, turn, skew = pipeline.straighten(flat)
            page = self._encode(flat)
        result = CaptureResult(
            jpeg=self._encode(frame),
            width=frame.shape[1],
            height=frame.shape[0],
            corners=corners,
            quality=quality,
            page_jpeg=page,
            page_turn=turn,
            page_skew=skew,
        )
        return result

    def _image_checks(self, frame: Frame) -> list[HealthStep]:
        """Laplacian focus and glare on the target sheet under the camera (§4.3 EXTERNAL)."""
        analysis = pipeline.analyze(frame, self.thresholds)
        quality = analysis.quality
        return [
            HealthStep("target_found", analysis.detection is not None, f"area={quality.area_ratio:.2f}"),
            HealthStep(
                "focus", quality.focus >= self.thresholds.min_focus, f"laplacian_var={quality.focus:.0f}"
            ),
            HealthStep(
                "glare",
                quality.glare_fraction <= self.thresholds.max_glare_fraction,
                f"fraction={quality.glare_fraction:.4f}",
            ),
        ]


class FaceCamera(Camera):
    """The kiosk's face camera: live frames and stills, with its own image health check."""

    kind: ClassVar[str] = "face_camera"
    min_contrast: float = 8.0
    brightness_range: tuple[float, float] = (25.0, 235.0)

    def __init__(
        self,
        *,
        width: int = 640,
        height: int = 480,
        fourcc: str = "MJPG",
        name: str | None = None,
        clock: Clock | None = None,
        statistics: Statistics | None = None,
    ) -> None:
        super().__init__(
            width=width, height=height, fourcc=fourcc, name=name, clock=clock, statistics=statistics
        )

    def capture_still(self) -> CaptureResult:
        """Capture one JPEG still."""
        with self._operation("capture_still"):
            frame = self._read_checked()
            result = CaptureResult(jpeg=self._encode(frame), width=frame.shape[1], height=frame.shape[0])
        self._emit(DataEvent(device=self.name, what="capture_done"))
        return result

    def _image_checks(self, frame: Frame) -> list[HealthStep]:
        """Not covered (contrast), sensibly exposed (mean brightness) and live (frames change)."""
        grey = frame.mean(axis=2)
        contrast = float(grey.std())
        brightness = float(grey.mean())
        lo, hi = self.brightness_range
        second = self._read_checked()
        changed = float(np.abs(second.astype(np.int16) - frame.astype(np.int16)).mean())
        return [
            HealthStep("contrast", contrast >= self.min_contrast, f"std={contrast:.1f}"),
            HealthStep("exposure", lo <= brightness <= hi, f"mean={brightness:.0f}"),
            HealthStep("live", changed > 0.05, f"mean_abs_diff={changed:.2f}"),
        ]
