"""Media for the resident's page: the agent's video as MJPEG from the latest frame, audio to the speaker.

Why MJPEG from the latest received frame, not a loopback WebRTC hop: the kiosk process already
decodes the agent's video (aiortc), so the page needs only the newest picture. Re-encoding it for a
second, loopback peer connection would cost a VP8 encode *and* a decode on a two-core station PC
and add the browser's jitter buffer (≥ 1–2 frames). A multipart ``image/jpeg`` stream of the latest
frame drops frames instead of queueing them when the page is slow, so its latency is one JPEG
encode (≈ 3 ms at 640×480) plus loopback delivery; :mod:`bench.bench_kiosk_ui` measures it.

:class:`FrameTap` wraps a track (``PeerSettings.tap`` for received tracks, the track factory for the
outgoing camera) and keeps its latest video frame; :meth:`FrameTap.mjpeg` streams it.
:class:`Speaker` plays received audio through a sink command (``aplay`` on ALSA, or a raw PCM
file for tests and benchmarks); deployments use an echo-cancelling speakerphone (docs/deploy.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
import subprocess
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import IO, Any

import av
import cv2
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

__all__ = ["BOUNDARY", "FrameTap", "Speaker", "TappedTrack"]

logger = logging.getLogger(__name__)

BOUNDARY = "doorstepframe"
"""The multipart boundary of the MJPEG stream."""


class TappedTrack(MediaStreamTrack):
    """Passes ``inner``'s frames through unchanged, showing each to ``tap`` on the way."""

    def __init__(self, inner: MediaStreamTrack, tap: FrameTap | Speaker) -> None:
        super().__init__()
        self.kind = inner.kind
        self._inner = inner
        self._tap = tap

    async def recv(self) -> Any:
        try:
            frame = await self._inner.recv()
        except MediaStreamError:
            self.stop()
            raise
        self._tap.offer(frame)
        return frame

    def stop(self) -> None:
        super().stop()
        self._inner.stop()


class FrameTap:
    """The latest video frame of whatever tracks it wraps, as JPEG on demand."""

    def __init__(self, *, quality: int = 80, max_width: int = 1280) -> None:
        self.quality = quality
        self.max_width = max_width
        self.seq = 0
        self._frame: av.VideoFrame | None = None
        self._jpeg: tuple[int, bytes] | None = None
        self._changed = asyncio.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None

    def wrap(self, track: MediaStreamTrack) -> MediaStreamTrack:
        """``track`` with this tap on it (audio tracks pass through untapped)."""
        return TappedTrack(track, self) if track.kind == "video" else track

    def offer(self, frame: Any) -> None:
        """Keep ``frame`` as the latest (called on the event loop by :class:`TappedTrack`)."""
        if not isinstance(frame, av.VideoFrame):
            return
        self._frame = frame
        self.seq += 1
        self._loop = asyncio.get_running_loop()
        self._loop.create_task(self._notify())

    def clear(self) -> None:
        """Forget the picture (the call ended: nothing of it stays in memory)."""
        self._frame = None
        self._jpeg = None
        self.seq += 1

    @property
    def has_frame(self) -> bool:
        """Whether a picture is held."""
        return self._frame is not None

    def jpeg(self) -> bytes | None:
        """The latest frame as JPEG (encoded once per frame), or None."""
        frame, seq = self._frame, self.seq
        if frame is None:
            return None
        if self._jpeg is not None and self._jpeg[0] == seq:
            return self._jpeg[1]
        image = np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)
        if image.shape[1] > self.max_width:
            scale = self.max_width / image.shape[1]
            image = np.asarray(
                cv2.resize(image, (self.max_width, int(image.shape[0] * scale))), dtype=np.uint8
            )
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            return None
        data = buf.tobytes()
        self._jpeg = (seq, data)
        return data

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_newer(self, seq: int, within: float) -> int:
        """Wait until a frame newer than ``seq`` arrives (or ``within`` seconds); the current sequence."""
        if self.seq == seq:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(within), self._changed:
                    await self._changed.wait_for(lambda: self.seq != seq)
        return self.seq

    async def mjpeg(self, *, idle_timeout: float = 1.0) -> AsyncGenerator[bytes, None]:
        """``multipart/x-mixed-replace`` parts: each new frame once; when no frame comes, the last
        again every ``idle_timeout`` seconds (so a stalled stream is still a live connection)."""
        seq = -1
        while True:
            seq = await self.wait_newer(seq, idle_timeout)
            data = await asyncio.to_thread(self.jpeg)
            if data is None:
                continue
            yield (
                f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n".encode()
                + data
                + b"\r\n"
            )


class Speaker:
    """Plays received audio through ``spec``: ``aplay:<ALSA device>``, ``file:<path>`` (raw s16le
    48 kHz stereo, for tests and benchmarks) or ``""`` (discard)."""

    RATE = 48_000

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.bytes_played = 0
        self._resampler = av.AudioResampler(format="s16", layout="stereo", rate=self.RATE)
        self._sink: IO[bytes] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._broken = False

    def wrap(self, track: MediaStreamTrack) -> MediaStreamTrack:
        """``track`` with this speaker on it (video passes through)."""
        return TappedTrack(track, self) if track.kind == "audio" and self.spec else track

    def offer(self, frame: Any) -> None:
        """Play one received audio frame (never raises: a broken speaker must not stop the call)."""
        if self._broken or not isinstance(frame, av.AudioFrame):
            return
        try:
            sink = self._sink or self._open()
            for out in self._resampler.resample(frame):
                data = bytes(out.planes[0])[: out.samples * 4]
                sink.write(data)
                self.bytes_played += len(data)
        except (OSError, ValueError) as err:
            logger.warning("speaker failed (%s); call audio muted", type(err).__name__)
            self._broken = True

    def _open(self) -> IO[bytes]:
        kind, _, target = self.spec.partition(":")
        if kind == "file":
            self._sink = Path(target).open("ab")  # noqa: SIM115 - closed in close()
        elif kind == "aplay":
            cmd = ["aplay", "-q", "-t", "raw", "-f", "S16_LE", "-r", str(self.RATE), "-c", "2"]
            if target:
                cmd += ["-D", target]
            self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)  # noqa: S603 - fixed argv
            assert self._proc.stdin is not None
            self._sink = self._proc.stdin
        else:
            raise ValueError(f"unknown speaker {shlex.quote(self.spec)}")
        return self._sink

    def close(self) -> None:
        """Stop playing (the call ended)."""
        sink, self._sink = self._sink, None
        if sink is not None:
            with contextlib.suppress(OSError):
                sink.close()
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=2)
        self._broken = False
