"""Kiosk media tracks: latest-frame capture, synthetic pattern and stamps, tone, drains."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.frame import Frame
from av.packet import Packet

from hardware import open_device
from hardware.camera import FaceCamera
from kiosk.media import (
    CameraVideoTrack,
    FrameCounter,
    LatestFrameCamera,
    SyntheticVideoTrack,
    ToneAudioTrack,
    drain,
    open_microphone,
    read_stamp,
    stamp,
)


class _FastCamera:
    """A camera that produces numbered frames as fast as it is read (each frame's pixels = its number)."""

    def __init__(self) -> None:
        self.produced = 0
        self.gate = threading.Semaphore(0)

    def read(self) -> np.ndarray:
        self.gate.acquire()
        self.produced += 1
        return np.full((8, 8, 3), self.produced % 256, dtype=np.uint8)


def test_latest_frame_camera_keeps_only_the_newest_frame() -> None:
    """A slow consumer never sees a queue: after 50 captures it gets frame 50, and only one is held."""
    source = _FastCamera()
    camera = LatestFrameCamera(source.read)
    camera.start()
    try:
        for _ in range(50):
            source.gate.release()

        async def newest() -> tuple[int, np.ndarray]:
            seq = 0
            while seq < 50:
                seq, frame = await camera.wait_newer(seq)
            return seq, frame

        seq, frame = asyncio.run(newest())
        assert seq == 50 and int(frame[0, 0, 0]) == 50
        assert camera.frames_captured == 50
        assert camera.latest()[0] == 50
    finally:
        source.gate.release()
        camera.stop()


def test_latest_frame_camera_survives_read_errors() -> None:
    """A failing read is counted and retried; capture goes on."""
    calls = {"n": 0}
    done = threading.Event()

    def read() -> np.ndarray:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("camera unplugged")
        if calls["n"] >= 3:
            done.set()
        done.wait(1)
        return np.zeros((4, 4, 3), dtype=np.uint8)

    camera = LatestFrameCamera(read, retry_delay=0.0)
    camera.start()
    done.wait(5)
    camera.stop()
    assert camera.failures == 1 and camera.frames_captured >= 1


async def test_camera_track_skips_stale_frames() -> None:
    """The camera track sends the newest frame each time: frames captured meanwhile are skipped."""
    source = _FastCamera()
    camera = LatestFrameCamera(source.read)
    camera.start()
    track = CameraVideoTrack(camera, fps=30)
    try:
        source.gate.release()
        first = await track.recv()
        for _ in range(20):
            source.gate.release()
        await camera.wait_newer(20)
        second = await track.recv()
        assert int(first.to_ndarray(format="bgr24")[0, 0, 0]) == 1
        assert abs(int(second.to_ndarray(format="bgr24")[0, 0, 0]) - 21) <= 2  # newest, not the next one
        assert track.frames_sent == 2
    finally:
        track.stop()
        source.gate.release()
        camera.stop()
    with pytest.raises(MediaStreamError):
        await track.recv()


def test_stamp_round_trip() -> None:
    """A stamped frame decodes to its counter and wall-clock milliseconds."""
    image = np.zeros((240, 320, 3), dtype=np.uint8)
    stamp(image, 12345, 1_763_780_000_123)
    assert read_stamp(image) == (12345, 1_763_780_000_123 % 2**40)
    assert read_stamp(np.zeros((4, 4), dtype=np.uint8)) is None


async def test_synthetic_track_moves_and_stamps() -> None:
    """The synthetic pattern changes from frame to frame, carries its stamp and paces timestamps."""
    track = SyntheticVideoTrack(320, 240, 30, stamped=True, wall_ms=lambda: 1000)
    frames = [await track.recv() for _ in range(3)]
    track.stop()
    images = [np.asarray(f.to_ndarray(format="bgr24"), dtype=np.uint8) for f in frames]
    assert (images[0][40:] != images[1][40:]).any()
    assert [read_stamp(i) for i in images] == [(0, 1000), (1, 1000), (2, 1000)]
    assert [f.pts for f in frames] == [0, 3000, 6000]
    assert (frames[0].width, frames[0].height) == (320, 240)


async def test_tone_track_frames_and_drain_counts() -> None:
    """The tone gives 20 ms mono 48 kHz frames; drain counts frames until the track ends."""
    tone = ToneAudioTrack()
    frame = await tone.recv()
    assert (frame.sample_rate, frame.samples) == (48000, 960)
    counter = FrameCounter()
    await asyncio.wait_for(drain(_Limited(tone, 3), counter), 2)
    assert counter.frames == 3 and counter.last_at is not None


async def test_drain_decodes_latency_stamps() -> None:
    """drain with read_stamps records (counter, latency) of stamped video frames."""
    track = SyntheticVideoTrack(320, 240, 30, stamped=True, wall_ms=lambda: 5000)
    counter = FrameCounter()
    await drain(_Limited(track, 3), counter, read_stamps=True, wall_ms=lambda: 5042)
    assert counter.stamps == [(0, 42), (1, 42), (2, 42)]


class _Limited(MediaStreamTrack):
    """Passes ``limit`` frames of ``inner`` through, then ends both tracks."""

    def __init__(self, inner: MediaStreamTrack, limit: int) -> None:
        super().__init__()
        self.kind = inner.kind
        self.inner = inner
        self.left = limit

    async def recv(self) -> Frame | Packet[Any]:
        if self.left == 0:
            self.inner.stop()
            self.stop()
            raise MediaStreamError
        self.left -= 1
        return await self.inner.recv()


async def test_microphone_track_reads_through_pyav_and_releases_the_device(tmp_path: Path) -> None:
    """open_microphone (PyAV) yields audio frames; stopping the track ends its capture thread."""
    wav = tmp_path / "voice.wav"
    with av.open(str(wav), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=48000, layout="mono")
        for i in range(20):
            samples = (np.sin(np.arange(960) / 10) * 8000).astype(np.int16).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
            frame.sample_rate = 48000
            frame.pts = i * 960
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    track = open_microphone(f"file:{wav}")
    frames = [await track.recv() for _ in range(3)]
    assert all(isinstance(f, av.AudioFrame) for f in frames)
    track.stop()
    assert not [t for t in threading.enumerate() if t.name == "media-player"]
    with pytest.raises(ValueError):
        open_microphone("nonsense")


async def test_camera_track_over_the_simulated_face_camera() -> None:
    """The capture thread reads the hardware layer's face camera (simulator backend) into video frames."""
    device = open_device("face_camera", "sim://face_camera?width=640&height=480")
    assert isinstance(device, FaceCamera)
    device.open()
    device.claim()
    device.enable()
    camera = LatestFrameCamera(device.read_frame)
    camera.start()
    track = CameraVideoTrack(camera, fps=15)
    try:
        frames = [await track.recv() for _ in range(3)]
    finally:
        track.stop()
        camera.stop()
        device.close()
    assert [(f.width, f.height) for f in frames] == [(640, 480)] * 3
    assert camera.frames_captured >= 1 and camera.failures == 0
