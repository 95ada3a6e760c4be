"""Media for the kiosk's call: camera and synthetic sources, a tone, and drains for received tracks.

- :class:`LatestFrameCamera` runs a blocking ``read()`` (a :class:`hardware.camera.device.FaceCamera`'s
  ``read_frame``, or any callable returning BGR frames) in one capture thread and keeps **only the
  newest frame**: a slow encoder never builds a queue and never sees stale pictures
  (webrtc-notes §2 pitfalls 2 and 17).
- :class:`CameraVideoTrack` sends the camera's newest frame, paced at the configured frame rate.
- :class:`SyntheticVideoTrack` is a moving pattern for kiosks without a camera (and for tests); it can
  stamp each frame with its counter and a wall-clock timestamp as black/white blocks
  (:func:`read_stamp` decodes them) so a receiver measures latency without a shared channel.
- :class:`ToneAudioTrack` is a quiet sine tone in 20 ms Opus-sized frames; :func:`open_microphone`
  gives a real microphone through PyAV (``alsa:default``, ``pulse:default``) for one peer
  connection, opened when the call's media starts (stopping the track releases the device, so
  nothing captures between calls).
- :func:`drain` consumes a received track until it ends (aiortc queues decoded frames without bound
  when nobody calls ``recv()``), counting frames in a :class:`FrameCounter`.

Every track counts what it handed to the encoder in ``frames_sent``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

__all__ = [
    "STAMP_BITS",
    "CameraVideoTrack",
    "FrameCounter",
    "LatestFrameCamera",
    "MicrophoneTrack",
    "SyntheticVideoTrack",
    "ToneAudioTrack",
    "drain",
    "open_microphone",
    "read_stamp",
    "stamp",
]

logger = logging.getLogger(__name__)

Frame = npt.NDArray[np.uint8]
VIDEO_CLOCK_RATE = 90_000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK_RATE)
AUDIO_RATE = 48_000
AUDIO_PTIME = 0.020
STAMP_BITS = 64
"""Stamp layout: 24 bits of frame counter then 40 bits of wall-clock milliseconds (mod 2**40)."""
_STAMP_BLOCK = 8


class _Pacer:
    """Real-time pacing for a live source: timestamps at ``rate`` Hz, never ahead of the wall clock."""

    def __init__(self, fps: float, clock_rate: int) -> None:
        self.period = 1.0 / fps
        self.clock_rate = clock_rate
        self._start: float | None = None
        self._count = 0

    async def next_pts(self) -> int:
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._count += 1
            wait = self._start + self._count * self.period - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            elif wait < -5 * self.period:
                # fell behind (slow encoder, suspended loop): restart the schedule, do not burst
                self._start = time.monotonic() - self._count * self.period
        return int(self._count * self.period * self.clock_rate)


def _video_frame(image: Frame, pts: int) -> av.VideoFrame:
    frame = av.VideoFrame.from_ndarray(image, format="bgr24")
    frame.pts = pts
    frame.time_base = VIDEO_TIME_BASE
    return frame


def stamp(image: Frame, counter: int, wall_ms: int) -> None:
    """Draw ``counter`` and ``wall_ms`` into the top rows of ``image`` as 8×8 black/white blocks."""
    value = ((counter & 0xFFFFFF) << 40) | (wall_ms & (2**40 - 1))
    for bit in range(STAMP_BITS):
        on = (value >> (STAMP_BITS - 1 - bit)) & 1
        x = (bit % 32) * _STAMP_BLOCK
        y = (bit // 32) * _STAMP_BLOCK
        image[y : y + _STAMP_BLOCK, x : x + _STAMP_BLOCK] = 255 if on else 0


def read_stamp(image: Frame) -> tuple[int, int] | None:
    """Decode ``(counter, wall_ms mod 2**40)`` from a stamped BGR or gray frame; None if too small."""
    height, width = image.shape[:2]
    if width < 32 * _STAMP_BLOCK or height < 2 * _STAMP_BLOCK:
        return None
    gray = image if image.ndim == 2 else image.mean(axis=2)
    value = 0
    half = _STAMP_BLOCK // 2
    for bit in range(STAMP_BITS):
        x = (bit % 32) * _STAMP_BLOCK + half
        y = (bit // 32) * _STAMP_BLOCK + half
        patch = gray[y - 2 : y + 2, x - 2 : x + 2]
        value = (value << 1) | int(float(patch.mean()) > 127)
    return value >> 40, value & (2**40 - 1)


class SyntheticVideoTrack(MediaStreamTrack):
    """A moving colour pattern at ``width``×``height`` and ``fps``; optionally stamped (see :func:`stamp`)."""

    kind = "video"

    def __init__(
        self,
        width: int = 640,
        height: int = 480,
        fps: float = 30.0,
        *,
        stamped: bool = False,
        wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        self.stamped = stamped
        self._wall_ms = wall_ms
        self._pacer = _Pacer(fps, VIDEO_CLOCK_RATE)
        x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
        y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
        self._base = np.stack(
            [np.broadcast_to(x, (height, width)), np.broadcast_to(y, (height, width)), (x + y) / 2], axis=2
        ).astype(np.uint8)
        self.frames_sent = 0

    def render(self, index: int) -> Frame:
        """The pattern for frame ``index``: the gradient scrolled plus a moving bar."""
        image = np.roll(self._base, (index * 4) % self.width, axis=1)
        bar = (index * 6) % max(1, self.width - 40)
        image[:, bar : bar + 40] = 255 - image[:, bar : bar + 40]
        return np.ascontiguousarray(image)

    async def recv(self) -> av.VideoFrame:
        """The next pattern frame, paced in real time."""
        if self.readyState != "live":
            raise MediaStreamError
        pts = await self._pacer.next_pts()
        image = self.render(self.frames_sent)
        if self.stamped:
            stamp(image, self.frames_sent, self._wall_ms())
        self.frames_sent += 1
        return _video_frame(image, pts)


class LatestFrameCamera:
    """A capture thread around a blocking ``read()`` that keeps only the newest frame.

    ``read`` returns one BGR frame per call (blocking at the camera's pace) and may raise when the
    camera fails; failures are counted and logged by type, and the thread retries after
    ``retry_delay`` — or, with ``max_failures``, gives up after that many failures in a row
    (:attr:`failed` then names the last error's type). :meth:`latest` never blocks;
    :meth:`wait_newer` waits (in a thread-safe way, from asyncio) for a frame newer than the one you have.
    """

    def __init__(
        self,
        read: Callable[[], Frame],
        *,
        name: str = "kiosk-camera",
        retry_delay: float = 0.5,
        max_failures: int | None = None,
    ) -> None:
        self._read = read
        self._name = name
        self._retry_delay = retry_delay
        self._lock = threading.Lock()
        self._frame: Frame | None = None
        self._seq = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self.frames_captured = 0
        self.failures = 0
        self.max_failures = max_failures
        self.failed: str | None = None
        """The error type that made the thread give up (``max_failures`` in a row), else None."""

    def start(self) -> None:
        """Start the capture thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop and join the capture thread (the ``read`` in progress finishes first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def latest(self) -> tuple[int, Frame | None]:
        """``(sequence number, newest frame)``; the number grows by one per captured frame."""
        with self._lock:
            return self._seq, self._frame

    async def wait_newer(self, seq: int) -> tuple[int, Frame]:
        """Wait until a frame newer than ``seq`` exists and return it."""
        while True:
            event = asyncio.Event()
            with self._lock:
                if self._seq > seq and self._frame is not None:
                    return self._seq, self._frame
                self._waiters.append((asyncio.get_running_loop(), event))
            await event.wait()

    @property
    def running(self) -> bool:
        """The capture thread runs (started, not stopped, not given up)."""
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def _run(self) -> None:
        in_a_row = 0
        while not self._stop.is_set():
            try:
                frame = self._read()
            except Exception as err:  # a camera fault must not kill capture; counted, type logged
                self.failures += 1
                in_a_row += 1
                if self.max_failures is not None and in_a_row >= self.max_failures:
                    logger.warning(
                        "%s: %d reads failed in a row (%s); giving up",
                        self._name,
                        in_a_row,
                        type(err).__name__,
                    )
                    self.failed = type(err).__name__
                    return
                logger.warning("camera read failed (%s); retrying", type(err).__name__)
                self._stop.wait(self._retry_delay)
                continue
            in_a_row = 0
            with self._lock:
                self._frame = frame
                self._seq += 1
                self.frames_captured += 1
                waiters, self._waiters = self._waiters, []
            for loop, event in waiters:
                with contextlib.suppress(RuntimeError):  # loop already closed
                    loop.call_soon_threadsafe(event.set)


class CameraVideoTrack(MediaStreamTrack):
    """Sends the newest frame of a :class:`LatestFrameCamera`, paced at ``fps`` (stale frames skipped)."""

    kind = "video"

    def __init__(self, camera: LatestFrameCamera, fps: float = 30.0) -> None:
        super().__init__()
        self.camera = camera
        self._pacer = _Pacer(fps, VIDEO_CLOCK_RATE)
        self._seq = 0
        self.frames_sent = 0

    async def recv(self) -> av.VideoFrame:
        """The newest camera frame (waits for the first one)."""
        if self.readyState != "live":
            raise MediaStreamError
        pts = await self._pacer.next_pts()
        seq, image = self.camera.latest()
        if image is None or (seq == self._seq and self.frames_sent == 0):
            seq, image = await self.camera.wait_newer(self._seq)
        self._seq = seq
        self.frames_sent += 1
        return _video_frame(image, pts)


class ToneAudioTrack(MediaStreamTrack):
    """A quiet sine tone (mono, 48 kHz, s16) in 20 ms frames, paced in real time."""

    kind = "audio"

    def __init__(self, frequency: float = 440.0, amplitude: float = 0.05) -> None:
        super().__init__()
        self.frequency = frequency
        self.amplitude = amplitude
        self._pacer = _Pacer(1 / AUDIO_PTIME, AUDIO_RATE)
        self._samples = int(AUDIO_RATE * AUDIO_PTIME)
        self.frames_sent = 0

    async def recv(self) -> av.AudioFrame:
        """The next 20 ms of tone."""
        if self.readyState != "live":
            raise MediaStreamError
        pts = await self._pacer.next_pts()
        t = (np.arange(self._samples) + pts) / AUDIO_RATE
        wave = (np.sin(2 * math.pi * self.frequency * t) * self.amplitude * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(wave.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = pts
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self.frames_sent += 1
        return frame


def open_microphone(spec: str) -> MediaStreamTrack:
    """A live audio track from ``spec`` = ``<PyAV input format>:<device>`` (``alsa:default``,
    ``pulse:default``) or ``file:<path>`` (a recording, for tests and demos).

    One call per peer connection. The device is opened on the track's first ``recv()``, when the
    call's media starts, not when the peer connection is built: the kiosk builds its next call's
    connection ahead of time (:mod:`kiosk.warm`) and must not hold the microphone open while idle.
    Stopping the track (:class:`~kiosk.peer.CallPeer` does on close) ends the capture thread and
    closes the device. Raises ``ValueError`` for a malformed spec; a device that cannot be opened
    is logged and ends the track (the call goes on without the kiosk's sound).
    """
    fmt, sep, device = spec.partition(":")
    if not sep or not device:
        raise ValueError(f"microphone spec {spec!r} is not <format>:<device>")
    return MicrophoneTrack(fmt, device)


class MicrophoneTrack(MediaStreamTrack):
    """Audio from a PyAV input (see :func:`open_microphone`), opened on the first ``recv()``."""

    kind = "audio"

    def __init__(self, fmt: str, device: str) -> None:
        super().__init__()
        self.fmt = fmt
        self.device = device
        self._source: MediaStreamTrack | None = None
        self._opening: asyncio.Lock = asyncio.Lock()
        self.frames_sent = 0

    @property
    def opened(self) -> bool:
        """Whether the device is open (a capture is running)."""
        return self._source is not None

    async def recv(self) -> Any:
        """The next audio frame from the device (opened now if it is not yet)."""
        if self.readyState != "live":
            raise MediaStreamError
        source = self._source or await self._open()
        frame = await source.recv()
        self.frames_sent += 1
        return frame

    def stop(self) -> None:
        """End the track and release the device."""
        super().stop()
        source, self._source = self._source, None
        if source is not None:
            source.stop()

    async def _open(self) -> MediaStreamTrack:
        from aiortc.contrib.media import MediaPlayer

        async with self._opening:
            if self._source is not None:
                return self._source
            try:
                player = await asyncio.to_thread(
                    MediaPlayer, self.device, format=None if self.fmt == "file" else self.fmt
                )
            except (av.FFmpegError, OSError) as err:
                logger.warning("microphone (%s) could not be opened (%s)", self.fmt, type(err).__name__)
                self.stop()
                raise MediaStreamError from err
            if player.audio is None:
                logger.warning("microphone (%s) has no audio stream", self.fmt)
                self.stop()
                raise MediaStreamError
            if self.readyState != "live":  # stopped while the device was opening
                player.audio.stop()
                raise MediaStreamError
            self._source = player.audio
            return player.audio


@dataclass
class FrameCounter:
    """What :func:`drain` saw on one received track."""

    frames: int = 0
    last_at: float | None = None
    stamps: list[tuple[int, int]] = field(default_factory=list)
    """``(counter, latency ms)`` of stamped video frames, when ``read_stamps`` is on (bounded)."""


async def drain(
    track: MediaStreamTrack,
    counter: FrameCounter,
    *,
    read_stamps: bool = False,
    max_stamps: int = 10_000,
    wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    on_first: Callable[[], None] | None = None,
) -> None:
    """Consume ``track`` until it ends, counting frames (and decoding latency stamps if asked);
    ``on_first()`` once the first frame is in."""
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        counter.frames += 1
        counter.last_at = time.monotonic()
        if counter.frames == 1 and on_first is not None:
            on_first()
        if read_stamps and isinstance(frame, av.VideoFrame) and len(counter.stamps) < max_stamps:
            decoded = read_stamp(np.asarray(frame.to_ndarray(format="gray"), dtype=np.uint8))
            if decoded is not None:
                count, sent_ms = decoded
                latency = (wall_ms() - sent_ms) % 2**40
                counter.stamps.append((count, latency))
