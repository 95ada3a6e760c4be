"""What the aiortc side of ``bench_call_browser`` reports: a drain that writes JSON lines to a file.

Used by both measured processes (the kiosk, through ``callbench_kiosk.py``, and the bare aiortc
peer, ``callbench_bare.py``), so both do the same work per received frame. Lines:

- ``{"ev": "first", "kind": "video", "wall_ms": …}``: the first frame of a received track;
- ``{"ev": "lat", "ms": …, "n": …, "wall_ms": …}``: one stamped video frame (the browser's stamp,
  ``callbench_probe.js``, read back with :func:`read_scaled_stamp`); ``ms`` = this process's wall
  clock − the stamp (modulo 2**40);
- ``{"ev": "size", "width": …, "height": …, "wall_ms": …}``: the received video's size (first
  frame, and each change)
  (Chromium scales what it sends down when it runs short of CPU or bandwidth);
- ``{"ev": "end", "kind": …, "frames": …, "wall_ms": …}``: the track ended.

Wall clock = ``time.time_ns()`` (CLOCK_REALTIME), the clock Chromium's ``Date.now()`` reads.
"""

from __future__ import annotations

import json
import time
from typing import Any

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from kiosk.media import STAMP_BITS, FrameCounter

__all__ = ["Probe", "read_scaled_stamp"]

SENT_WIDTH, SENT_HEIGHT, SENT_BLOCK = 640, 480, 16
"""The browser draws its stamp on a 640×480 canvas in 16×16 blocks, 32 a row."""


def read_scaled_stamp(gray: np.ndarray[Any, np.dtype[np.uint8]]) -> tuple[int, int]:
    """``(counter, wall_ms mod 2**40)`` from a gray frame of the browser's video at any size."""
    height, width = gray.shape[:2]
    sx, sy = width / SENT_WIDTH, height / SENT_HEIGHT
    r = max(1, int(2 * sx))
    value = 0
    for bit in range(STAMP_BITS):
        cx = int(((bit % 32) * SENT_BLOCK + SENT_BLOCK / 2) * sx)
        cy = int(((bit // 32) * SENT_BLOCK + SENT_BLOCK / 2) * sy)
        value = (value << 1) | int(float(gray[cy - r : cy + r, cx - r : cx + r].mean()) > 127)
    return value >> 40, value & (2**40 - 1)


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class Probe:
    """A line-buffered JSON-lines writer and a :func:`kiosk.media.drain` replacement that feeds it."""

    def __init__(self, path: str) -> None:
        self._file = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - lives with the process

    def event(self, **fields: Any) -> None:
        self._file.write(json.dumps(fields, separators=(",", ":")) + "\n")

    async def drain(self, track: MediaStreamTrack, counter: FrameCounter, **_: Any) -> None:
        """Consume ``track`` like :func:`kiosk.media.drain`, reporting the first frame and stamps.

        The end is reported when the track ends and when the drain is cancelled (the kiosk's peer
        cancels its drains before closing the connection).
        """
        size: tuple[int, int] | None = None
        try:
            while True:
                try:
                    frame = await track.recv()
                except MediaStreamError:
                    return
                now = wall_ms()
                if counter.frames == 0:
                    self.event(ev="first", kind=track.kind, wall_ms=now)
                counter.frames += 1
                counter.last_at = time.monotonic()
                if isinstance(frame, av.VideoFrame):
                    if (frame.width, frame.height) != size:
                        size = (frame.width, frame.height)
                        self.event(ev="size", width=frame.width, height=frame.height, wall_ms=now)
                    gray = np.asarray(frame.to_ndarray(format="gray"), dtype=np.uint8)
                    count, sent_ms = read_scaled_stamp(gray)
                    self.event(ev="lat", ms=(now - sent_ms) % 2**40, n=count, wall_ms=now)
        finally:
            self.event(ev="end", kind=track.kind, frames=counter.frames, wall_ms=wall_ms())
