"""The live document-camera view: the call's second video track, idle until the agent asks for it.

DESIGN (data flow, step 4): document stills go up at full resolution over the data channel; the
*live* document-camera view is a second video track. Renegotiating a running aiortc connection to
add a track is fragile (webrtc-notes §2), so every peer connection the kiosk offers carries the
track from the start, as a ``sendonly`` transceiver after the face camera and the microphone:

- :class:`DocumentFeed` is the kiosk's one live view of its document camera (owned by
  :class:`~kiosk.devices.DeviceService`, shared by every generation of every call's peer
  connection). :meth:`DocumentFeed.start` runs a :class:`~kiosk.media.LatestFrameCamera` capture
  thread over the device (frames scaled down to ``max_width``; the newest frame wins, nothing
  queues); :meth:`DocumentFeed.stop` ends it and releases the device for stills and other users.
  A device that keeps failing stops the feed by itself (:attr:`DocumentFeed.fault`).
- :class:`DocumentVideoTrack` is one connection's track over the feed: while the feed is live it
  sends the newest frames at ``fps``; otherwise a dark idle frame marked 文档摄像头未开启 /
  "document camera off" once per ``idle_period`` seconds (at the live size of a 4:3 camera), so
  switching costs no renegotiation and the idle track costs almost nothing. Live frames are also shown to :attr:`DocumentFeed.view` (the
  resident's page shows what the agent sees).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import functools
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import av
import cv2
import numpy as np
import numpy.typing as npt
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from PIL import Image, ImageDraw, ImageFont

from kiosk.media import LatestFrameCamera
from kiosk.ui_video import FrameTap

__all__ = ["DOCUMENT_TRACK_DIRECTION", "DocumentFeed", "DocumentVideoTrack", "idle_frame"]

logger = logging.getLogger(__name__)

Frame = npt.NDArray[np.uint8]
DOCUMENT_TRACK_DIRECTION = "sendonly"
"""The document track's transceiver direction (the agent never sends a document view back)."""
_TIME_BASE = fractions.Fraction(1, 90_000)
_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)


@functools.cache
def idle_frame(width: int, height: int) -> Frame:
    """The dark frame sent while the live view is off: a page outline and 文档摄像头未开启 (BGR)."""
    image = Image.new("RGB", (width, height), (24, 28, 32))
    draw = ImageDraw.Draw(image)
    w, h = width // 5, int(width // 5 * 1.3)
    x, y = (width - w) // 2, height // 2 - h + max(8, height // 20)
    draw.rectangle((x, y, x + w, y + h), outline=(110, 120, 130), width=max(2, width // 160))
    size = max(12, width // 24)
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont = ImageFont.load_default(size)
    for path in _FONTS:
        if Path(path).is_file():
            font = ImageFont.truetype(path, size)
            break
    for n, text in enumerate(("文档摄像头未开启", "document camera off")):
        left, _, right, _ = draw.textbbox((0, 0), text, font=font)
        draw.text(
            ((width - (right - left)) // 2, y + h + size * (1 + 1.4 * n)),
            text,
            fill=(200, 205, 210),
            font=font,
        )
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8)[:, :, ::-1])


def _scaled(read: Callable[[], Frame], max_width: int) -> Callable[[], Frame]:
    """``read`` with its frames scaled down to at most ``max_width`` (even sizes, for the encoder)."""

    def scaled() -> Frame:
        frame = read()
        height, width = frame.shape[:2]
        if width <= max_width and width % 2 == 0 and height % 2 == 0:
            return frame
        scale = min(1.0, max_width / width)
        size = (max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2))
        return np.asarray(cv2.resize(frame, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)

    return scaled


class DocumentFeed:
    """The kiosk's live document-camera view: off, or a capture thread keeping the newest frame."""

    def __init__(
        self,
        *,
        fps: float = 12.0,
        max_width: int = 960,
        idle_size: tuple[int, int] | None = None,
        idle_period: float = 1.0,
        max_failures: int = 5,
        retry_delay: float = 0.2,
    ) -> None:
        self.fps = fps
        self.max_width = max_width
        self.idle_size = idle_size or (max_width // 2 * 2, max_width * 3 // 4 // 2 * 2)
        """The idle frame's size: by default the live size of a 4:3 camera, so switching to live
        does not change the resolution (no encoder re-initialisation, no forced key frame)."""
        self.idle_period = idle_period
        self.max_failures = max_failures
        self.retry_delay = retry_delay
        self.view = FrameTap(max_width=max_width)
        """Live frames as the resident's page shows them (``/media/document-live.mjpeg``)."""
        self.fault: str | None = None
        """Why the last live view stopped by itself (the failing read's error type), else None."""
        self.starts = 0
        self._lock = threading.Lock()
        self._camera: LatestFrameCamera | None = None

    @property
    def live(self) -> bool:
        """Live frames are flowing (started, not stopped, the device not given up)."""
        camera = self._camera
        if camera is None:
            return False
        if camera.failed is not None:
            self.fault = camera.failed
            return False
        return camera.running

    def start(self, read: Callable[[], Frame]) -> None:
        """Go live over ``read`` (a device's blocking ``read_frame``), replacing a running capture.
        Worker thread (it joins the old capture thread)."""
        self.stop()
        camera = LatestFrameCamera(
            _scaled(read, self.max_width),
            name="kiosk-document-camera",
            retry_delay=self.retry_delay,
            max_failures=self.max_failures,
        )
        with self._lock:
            self._camera = camera
            self.fault = None
            self.starts += 1
        camera.start()
        logger.info("document camera live view on (%.0f fps, ≤%d px wide)", self.fps, self.max_width)

    def stop(self) -> bool:
        """Back to the idle frame; ends the capture thread (the device is free again). Worker thread:
        joins the thread (at most one frame time). True when a live view was running."""
        with self._lock:
            camera, self._camera = self._camera, None
        if camera is None:
            return False
        camera.stop()
        self.view.clear()
        logger.info("document camera live view off (%d frames)", camera.frames_captured)
        return True

    def latest(self) -> tuple[int, Frame | None]:
        """``(sequence, newest live frame)``; ``(0, None)`` when off."""
        camera = self._camera
        return (0, None) if camera is None else camera.latest()

    async def wait_newer(self, seq: int, within: float) -> tuple[int, Frame | None]:
        """Wait up to ``within`` seconds for a live frame newer than ``seq``; the newest either way."""
        camera = self._camera
        if camera is None:
            return 0, None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                return await camera.wait_newer(seq)
        return camera.latest()


class DocumentVideoTrack(MediaStreamTrack):
    """One peer connection's document track: live frames while the feed is live, else the idle frame.

    ``direction`` tells :class:`~kiosk.peer.CallPeer` to add it as its own ``sendonly`` transceiver.
    """

    kind = "video"
    direction: ClassVar[str] = DOCUMENT_TRACK_DIRECTION

    def __init__(self, feed: DocumentFeed, *, poll: float = 0.1) -> None:
        super().__init__()
        self.feed = feed
        self.poll = poll
        self.live_frames = 0
        self.idle_frames = 0
        self._start: float | None = None
        self._last_at = 0.0
        self._last_pts = -1
        self._seq = 0

    async def recv(self) -> av.VideoFrame:
        """The next frame: a new live frame within ``1/fps``, or the idle frame once per period."""
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            # The first idle frame goes out one idle period after the track starts, not at once:
            # its key frame (the live size, 960×720 by default) would otherwise be encoded just as
            # the call connects, beside the face video's first key frame, and delay the call's
            # first frames (bench_call_browser on a quiet machine: connected → first frame at the
            # kiosk 102 ms with the idle key frame sent at once, 47 ms with it deferred).
            self._start = self._last_at = now
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            if self.feed.live:
                wait = self._last_at + 1.0 / self.feed.fps - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                seq, image = await self.feed.wait_newer(self._seq, max(self.poll, 2.0 / self.feed.fps))
                if image is not None and seq != self._seq:
                    self._seq = seq
                    self.live_frames += 1
                    frame = self._frame(image)
                    self.feed.view.offer(frame)
                    return frame
                continue  # no new frame yet (or the device gave up): look again
            wait = self._last_at + self.feed.idle_period - time.monotonic()
            if wait <= 0:
                self.idle_frames += 1
                return self._frame(idle_frame(*self.feed.idle_size))
            await asyncio.sleep(min(wait, self.poll))  # wakes soon after the live view starts

    def _frame(self, image: Frame) -> av.VideoFrame:
        assert self._start is not None
        self._last_at = time.monotonic()
        pts = max(self._last_pts + 1, int((self._last_at - self._start) * 90_000))
        self._last_pts = pts
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts = pts
        frame.time_base = _TIME_BASE
        return frame
