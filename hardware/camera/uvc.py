"""Real UVC cameras through OpenCV (hardware-protocols §3.1).

Negotiation follows what works on real 高拍仪 models: force the V4L2 backend, set the FOURCC to
MJPG *before* the size (many cameras offer their high resolutions only in MJPG and OpenCV probes
MJPG last), request the size, then **read back** what the driver actually gave — every ``set``
result is checked and a camera that ignores the request is reported, not trusted.
:func:`probe_max_resolution` finds the largest size by asking for 10000×10000 and reading back
the clamp. Exposure: ``CAP_PROP_AUTO_EXPOSURE`` 3 = auto, 1 = manual, then
``CAP_PROP_EXPOSURE``; focus: ``CAP_PROP_AUTOFOCUS`` off before ``CAP_PROP_FOCUS``.

URLs: ``uvc://0?width=3264&height=2448&fourcc=MJPG`` (device index) or
``uvc:///dev/video2?…`` (device path); ``api=v4l2|any``.

:class:`UvcCapture` holds a ``cv2.VideoCapture``-shaped object made by an injected factory, so
the negotiation logic is testable without a camera; the device classes delegate to it.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from hardware.camera.device import DocumentCamera, FaceCamera, Negotiated
from hardware.clock import Clock
from hardware.errors import ConfigurationError, ConnectionLost, NoHardware, UnsupportedOperation
from hardware.stats import Statistics

__all__ = [
    "UvcCapture",
    "UvcDocumentCamera",
    "UvcFaceCamera",
    "VideoCaptureLike",
    "decode_fourcc",
    "negotiate",
    "open_uvc_document_camera",
    "open_uvc_face_camera",
    "probe_max_resolution",
]

Frame = npt.NDArray[np.uint8]


class VideoCaptureLike(Protocol):
    """The part of ``cv2.VideoCapture`` this backend uses."""

    def isOpened(self) -> bool:
        """Whether the device is open."""
        ...

    def set(self, prop: int, value: float) -> bool:
        """Set a property; False when the backend refused."""
        ...

    def get(self, prop: int) -> float:
        """Read a property back."""
        ...

    def read(self) -> tuple[bool, Any]:
        """Grab and decode the next frame."""
        ...

    def release(self) -> None:
        """Close the device."""
        ...


CaptureFactory = Callable[[int | str, int], VideoCaptureLike]


def _default_factory(source: int | str, api: int) -> VideoCaptureLike:
    cap: VideoCaptureLike = cv2.VideoCapture(source, api)
    return cap


def decode_fourcc(value: float) -> str:
    """The four characters packed in ``CAP_PROP_FOURCC`` (``"MJPG"``, ``"YUYV"``…)."""
    code = int(value)
    return "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4)).strip("\x00")


def negotiate(cap: VideoCaptureLike, width: int, height: int, fourcc: str) -> tuple[Negotiated, list[str]]:
    """Request fourcc, then size, then read back; returns the result and the refused settings."""
    refused: list[str] = []
    code = cv2.VideoWriter.fourcc(*fourcc)
    if not cap.set(cv2.CAP_PROP_FOURCC, float(code)):
        refused.append("fourcc")
    if not cap.set(cv2.CAP_PROP_FRAME_WIDTH, float(width)):
        refused.append("width")
    if not cap.set(cv2.CAP_PROP_FRAME_HEIGHT, float(height)):
        refused.append("height")
    cap.set(cv2.CAP_PROP_BUFFERSIZE, 1.0)  # best effort: latest frame for the live view
    got = Negotiated(
        width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
        height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        fourcc=decode_fourcc(cap.get(cv2.CAP_PROP_FOURCC)) or "?",
        fps=float(cap.get(cv2.CAP_PROP_FPS)),
        requested=(width, height, fourcc),
    )
    return got, refused


def probe_max_resolution(cap: VideoCaptureLike, fourcc: str = "MJPG") -> tuple[int, int]:
    """Largest size the driver offers in ``fourcc``: ask for 10000×10000 and read back the clamp."""
    got, _ = negotiate(cap, 10000, 10000, fourcc)
    return got.width, got.height


class UvcCapture:
    """An opened UVC device: negotiation, frame reads and controls with errors mapped."""

    def __init__(
        self, source: int | str, *, api: int = cv2.CAP_V4L2, factory: CaptureFactory | None = None
    ) -> None:
        self.source = source
        self.api = api
        self._factory = factory or _default_factory
        self._cap: VideoCaptureLike | None = None
        self.refused: list[str] = []

    def open(self) -> None:
        """Open the device; NoHardware when it does not exist."""
        cap = self._factory(self.source, self.api)
        if not cap.isOpened():
            cap.release()
            raise NoHardware(f"no camera at {self.source!r}")
        self._cap = cap

    def close(self) -> None:
        """Release the device (safe twice)."""
        cap, self._cap = self._cap, None
        if cap is not None:
            cap.release()

    def _require(self) -> VideoCaptureLike:
        if self._cap is None:
            raise ConnectionLost("camera is not open")
        return self._cap

    def negotiate(self, width: int, height: int, fourcc: str) -> Negotiated:
        """Apply the requested format and return what the camera delivers."""
        result, self.refused = negotiate(self._require(), width, height, fourcc)
        return result

    def read(self) -> Frame:
        """The next frame; ``read()`` returning False means the camera went away."""
        ok, frame = self._require().read()
        if not ok or frame is None:
            raise ConnectionLost("camera read failed (unplugged or stalled)")
        image = np.asarray(frame, dtype=np.uint8)
        if image.ndim == 2:
            image = np.asarray(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
        return image

    def set_control(self, name: str, value: float | None) -> None:
        """``exposure`` / ``focus``; automatic controls are switched off before manual values."""
        cap = self._require()
        if name == "exposure":
            steps = (
                [(cv2.CAP_PROP_AUTO_EXPOSURE, 3.0)]
                if value is None
                else [
                    (cv2.CAP_PROP_AUTO_EXPOSURE, 1.0),
                    (cv2.CAP_PROP_EXPOSURE, float(value)),
                ]
            )
        elif name == "focus":
            steps = (
                [(cv2.CAP_PROP_AUTOFOCUS, 1.0)]
                if value is None
                else [
                    (cv2.CAP_PROP_AUTOFOCUS, 0.0),
                    (cv2.CAP_PROP_FOCUS, float(value)),
                ]
            )
        else:
            raise UnsupportedOperation(f"unknown camera control {name!r}")
        for prop, setting in steps:
            if not cap.set(prop, setting):
                raise UnsupportedOperation(f"camera refused {name} setting")


class UvcDocumentCamera(DocumentCamera):
    """A document camera on a UVC device."""

    def __init__(self, capture: UvcCapture, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.capture = capture

    def _open(self) -> None:
        self.capture.open()

    def _close(self) -> None:
        self.capture.close()

    def _negotiate(self) -> Negotiated:
        return self.capture.negotiate(*self.requested)

    def _read(self) -> Frame:
        return self.capture.read()

    def _set_control(self, name: str, value: float | None) -> None:
        self.capture.set_control(name, value)

    def _info(self) -> Mapping[str, Any]:
        return {"interface": "uvc", "source": str(self.capture.source), "refused": list(self.capture.refused)}


class UvcFaceCamera(FaceCamera):
    """A face camera on a UVC device."""

    def __init__(self, capture: UvcCapture, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.capture = capture

    def _open(self) -> None:
        self.capture.open()

    def _close(self) -> None:
        self.capture.close()

    def _negotiate(self) -> Negotiated:
        return self.capture.negotiate(*self.requested)

    def _read(self) -> Frame:
        return self.capture.read()

    def _set_control(self, name: str, value: float | None) -> None:
        self.capture.set_control(name, value)

    def _info(self) -> Mapping[str, Any]:
        return {"interface": "uvc", "source": str(self.capture.source), "refused": list(self.capture.refused)}


def _parse(url: urllib.parse.SplitResult, params: dict[str, str], default: tuple[int, int]) -> dict[str, Any]:
    source: int | str
    if url.netloc:
        try:
            source = int(url.netloc)
        except ValueError as err:
            raise ConfigurationError("uvc://N needs a numeric device index") from err
    elif url.path:
        source = url.path
    else:
        source = 0
    try:
        width = int(params.get("width", default[0]))
        height = int(params.get("height", default[1]))
    except ValueError as err:
        raise ConfigurationError("width and height must be integers") from err
    api_name = params.get("api", "v4l2")
    apis = {"v4l2": cv2.CAP_V4L2, "any": cv2.CAP_ANY}
    if api_name not in apis:
        raise ConfigurationError("api must be v4l2 or any")
    fourcc = params.get("fourcc", "MJPG").upper()
    if len(fourcc) != 4:
        raise ConfigurationError("fourcc must have four characters")
    return {
        "capture": UvcCapture(source, api=apis[api_name]),
        "width": width,
        "height": height,
        "fourcc": fourcc,
    }


def open_uvc_document_camera(
    url: urllib.parse.SplitResult, params: dict[str, str], *, clock: Clock, statistics: Statistics
) -> UvcDocumentCamera:
    """Registry factory for ``uvc://N?width=3264&height=2448&fourcc=MJPG``."""
    return UvcDocumentCamera(clock=clock, statistics=statistics, **_parse(url, params, (3264, 2448)))


def open_uvc_face_camera(
    url: urllib.parse.SplitResult, params: dict[str, str], *, clock: Clock, statistics: Statistics
) -> UvcFaceCamera:
    """Registry factory for ``uvc://N?width=640&height=480``."""
    return UvcFaceCamera(clock=clock, statistics=statistics, **_parse(url, params, (640, 480)))
