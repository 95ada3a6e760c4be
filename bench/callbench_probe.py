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
- ``{"ev": "end", "kind": …, "frames": …, "wall_ms": …}``: the track ended;
- ``{"ev": "mark", "what": …, "wall_ms": …}``: a set-up milestone of this process's newest peer
  connection, once each (:meth:`Probe.hook_aiortc`): ``offer made``, ``answer applying``
  (``setRemoteDescription`` called), ``answer applied``,
  ``ice completed``, ``connected``, ``first video encoded``, ``first video packet in``,
  ``picture loss sent`` (a video receiver asked the sender for a key frame).

Wall clock = ``time.time_ns()`` (CLOCK_REALTIME), the clock Chromium's ``Date.now()`` reads.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
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

    def hook_aiortc(self) -> None:
        """Report set-up milestones (``mark`` lines) of every peer connection aiortc makes from
        now on, by wrapping a few of its methods (the measured code is not changed)."""
        import aiortc
        from aiortc.rtcrtpreceiver import RTCRtpReceiver
        from aiortc.rtcrtpsender import RTCRtpSender

        probe = self
        init = aiortc.RTCPeerConnection.__init__
        set_local = aiortc.RTCPeerConnection.setLocalDescription
        set_remote = aiortc.RTCPeerConnection.setRemoteDescription
        next_frame = RTCRtpSender._next_encoded_frame
        handle_rtp = RTCRtpReceiver._handle_rtp_packet
        send_pli = RTCRtpReceiver._send_rtcp_pli

        def mark(owner: Any, what: str) -> None:
            seen = owner.__dict__.setdefault("_probe_marks", set())
            if what not in seen:
                seen.add(what)
                probe.event(ev="mark", what=what, wall_ms=wall_ms())

        def hooked_init(pc: Any, *args: Any, **kwargs: Any) -> None:
            init(pc, *args, **kwargs)

            def ice() -> None:
                if pc.iceConnectionState == "completed":
                    mark(pc, "ice completed")

            def state() -> None:
                if pc.connectionState == "connected":
                    mark(pc, "connected")

            pc.on("iceconnectionstatechange", ice)
            pc.on("connectionstatechange", state)

        async def hooked_local(pc: Any, description: Any = None) -> None:
            await set_local(pc, description)
            if description is not None and description.type == "offer":
                mark(pc, "offer made")

        async def hooked_remote(pc: Any, description: Any) -> None:
            if description.type == "answer":
                mark(pc, "answer applying")
            await set_remote(pc, description)
            if description.type == "answer":
                mark(pc, "answer applied")

        async def hooked_next(sender: Any, codec: Any) -> Any:
            frame = await next_frame(sender, codec)
            if frame is not None and sender.kind == "video":
                mark(sender, "first video encoded")
            return frame

        async def hooked_rtp(receiver: Any, packet: Any, arrival_time_ms: int) -> None:
            if receiver._RTCRtpReceiver__kind == "video":
                mark(receiver, "first video packet in")
            await handle_rtp(receiver, packet, arrival_time_ms)

        async def hooked_pli(receiver: Any, media_ssrc: int) -> None:
            mark(receiver, "picture loss sent")
            await send_pli(receiver, media_ssrc)

        RTCRtpReceiver._handle_rtp_packet = hooked_rtp  # type: ignore[method-assign,assignment]
        RTCRtpReceiver._send_rtcp_pli = hooked_pli  # type: ignore[method-assign,assignment]
        aiortc.RTCPeerConnection.__init__ = hooked_init  # type: ignore[method-assign,assignment]
        aiortc.RTCPeerConnection.setLocalDescription = hooked_local  # type: ignore[method-assign,assignment]
        aiortc.RTCPeerConnection.setRemoteDescription = hooked_remote  # type: ignore[method-assign,assignment]
        RTCRtpSender._next_encoded_frame = hooked_next  # type: ignore[method-assign,assignment]

    async def drain(
        self,
        track: MediaStreamTrack,
        counter: FrameCounter,
        *,
        on_first: Callable[[], None] | None = None,
        **_: Any,
    ) -> None:
        """Consume ``track`` like :func:`kiosk.media.drain` (``on_first`` included), reporting the
        first frame and stamps.

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
                if counter.frames == 1 and on_first is not None:
                    on_first()
                if isinstance(frame, av.VideoFrame):
                    if (frame.width, frame.height) != size:
                        size = (frame.width, frame.height)
                        self.event(ev="size", width=frame.width, height=frame.height, wall_ms=now)
                    gray = np.asarray(frame.to_ndarray(format="gray"), dtype=np.uint8)
                    count, sent_ms = read_scaled_stamp(gray)
                    self.event(ev="lat", ms=(now - sent_ms) % 2**40, n=count, wall_ms=now)
        finally:
            self.event(ev="end", kind=track.kind, frames=counter.frames, wall_ms=wall_ms())
