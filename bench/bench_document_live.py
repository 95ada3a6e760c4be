"""The live document-camera view's cost and switch time (kiosk.document_live).

One process holds a kiosk :class:`~kiosk.peer.CallPeer` and an aiortc agent that decodes what it
receives, over loopback. Three modes, interleaved round by round so load drifts hit all of them:

- ``baseline``: face video (640×480, 15 fps) + audio, no document track (the call before this change);
- ``idle``: the same plus the document track idling (one dark frame a second);
- ``live``: the document track live from the simulated document camera (``sim://document_camera``
  at 1600×1200, scaled to ``--width``, ``--fps``).

Per mode: process CPU seconds per wall second over each window (both ends: encode and decode), p50
and p95 over the rounds. Per round: the switch time from ``document_live_start`` (through
:class:`~kiosk.devices.DeviceService`, consent granted) to the first live frame decoded at the agent,
without renegotiation. Prints one JSON line per figure, with the 1-minute load average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from typing import Any

import av
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from kiosk.devices import DeviceService, auto_grant
from kiosk.document_live import DocumentFeed, DocumentVideoTrack
from kiosk.media import SyntheticVideoTrack, ToneAudioTrack
from kiosk.peer import CallPeer, PeerSettings
from signaling.messages import HwAction, HwRequest

DOC_URL = "sim://document_camera?width=1600&height=1200"


def _request(action: HwAction) -> HwRequest:
    return HwRequest(call_id="b", request_id=action.value, action=action)


async def _progress(_: str) -> None:
    return None


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Call:
    """A kiosk peer and a decoding agent peer, connected; frames counted per video mid."""

    def __init__(self, with_document: bool, feed: DocumentFeed) -> None:
        tracks: list[MediaStreamTrack] = [SyntheticVideoTrack(640, 480, 15), ToneAudioTrack()]
        if with_document:
            tracks.append(DocumentVideoTrack(feed))
        self.kiosk = CallPeer(0, tracks, PeerSettings())
        self.agent = RTCPeerConnection()
        self.frames: dict[str, int] = {}
        self.doc_frames: list[tuple[float, int]] = []
        """(arrival, is live) of each decoded document frame."""
        self._tasks: list[asyncio.Task[None]] = []
        self.agent.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        mid = next((str(t.mid) for t in self.agent.getTransceivers() if t.receiver.track is track), "?")
        self._tasks.append(asyncio.ensure_future(self._consume(track, mid)))

    async def _consume(self, track: MediaStreamTrack, mid: str) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            self.frames[mid] = self.frames.get(mid, 0) + 1
            if mid == "2" and isinstance(frame, av.VideoFrame):  # live pages are bright, idle is dark
                level = float(frame.to_ndarray(format="gray")[::8, ::8].mean())
                self.doc_frames.append((time.monotonic(), level > 70))

    async def first_frame(self, after: float, live: bool) -> float:
        """When the first live (``live``) or idle document frame arrived after ``after``."""
        deadline = time.monotonic() + 20
        while True:
            for at, is_live in self.doc_frames:
                if at > after and is_live is live:
                    return at
            if time.monotonic() > deadline:
                raise TimeoutError("no document frame of the kind expected")
            await asyncio.sleep(0.005)

    async def connect(self) -> None:
        offer = await self.kiosk.create_offer()
        await self.agent.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await self.agent.setLocalDescription(await self.agent.createAnswer())
        await self.kiosk.accept_answer(self.agent.localDescription.sdp)
        deadline = time.monotonic() + 20
        while self.frames.get("0", 0) < 5:
            if time.monotonic() > deadline:
                raise TimeoutError("no face frames")
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.kiosk.close()
        await self.agent.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def _window(seconds: float) -> float:
    cpu, wall = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    return (time.process_time() - cpu) / (time.monotonic() - wall)


async def run(rounds: int, window: float, width: int, fps: float) -> list[dict[str, Any]]:
    cpu: dict[str, list[float]] = {"baseline": [], "idle": [], "live": []}
    switch_ms: dict[str, list[float]] = {"cold": [], "warm": []}
    start_ms: dict[str, list[float]] = {"cold": [], "warm": []}
    live_fps: list[float] = []
    for _ in range(rounds):
        for mode in ("baseline", "idle", "live"):
            feed = DocumentFeed(fps=fps, max_width=width)
            devices = DeviceService({"document_camera": DOC_URL}, consent=auto_grant, document=feed)
            call = Call(mode != "baseline", feed)
            try:
                async with asyncio.timeout(120):  # a stuck mode fails the bench instead of hanging it
                    await _measure(mode, call, devices, cpu, switch_ms, start_ms, live_fps, window)
            finally:
                await asyncio.wait_for(call.close(), 30)
                await asyncio.wait_for(devices.close(), 30)
    return _lines(cpu, switch_ms, start_ms, live_fps, width, fps)


async def _measure(
    mode: str,
    call: Call,
    devices: DeviceService,
    cpu: dict[str, list[float]],
    switch_ms: dict[str, list[float]],
    start_ms: dict[str, list[float]],
    live_fps: list[float],
    window: float,
) -> None:
    await call.connect()
    if mode == "live":
        for attempt in ("cold", "warm"):
            if attempt == "warm":  # back to idle, then on again: the camera is open now
                await devices.handle(_request(HwAction.DOCUMENT_LIVE_STOP), _progress)
                await call.first_frame(time.monotonic(), live=False)
            asked = time.monotonic()
            result = await devices.handle(_request(HwAction.DOCUMENT_LIVE_START), _progress)
            assert result.outcome.value == "ok", result
            start_ms[attempt].append((time.monotonic() - asked) * 1000)
            switch_ms[attempt].append((await call.first_frame(asked, live=True) - asked) * 1000)
    await asyncio.sleep(1.0)  # settle (encoder ramp-up)
    before = call.frames.get("2", 0)
    cpu[mode].append(await _window(window))
    if mode == "live":
        live_fps.append((call.frames.get("2", 0) - before) / window)


def _lines(
    cpu: dict[str, list[float]],
    switch_ms: dict[str, list[float]],
    start_ms: dict[str, list[float]],
    live_fps: list[float],
    width: int,
    fps: float,
) -> list[dict[str, Any]]:
    load = os.getloadavg()[0]
    lines: list[dict[str, Any]] = []
    for mode, values in cpu.items():
        lines.append(
            {
                "bench": "document_live",
                "metric": f"cpu_per_wall_s.{mode}",
                "p50": round(statistics.median(values), 3),
                "p95": round(_pct(values, 0.95), 3),
                "n": len(values),
                "baseline": "cpu_per_wall_s.baseline",
                "load1": round(load, 2),
            }
        )
    for attempt in ("cold", "warm"):
        for metric, values, note in (
            (
                "switch_to_first_live_frame_ms",
                switch_ms[attempt],
                "document_live_start to the first live frame decoded; no renegotiation",
            ),
            (
                "device_start_ms",
                start_ms[attempt],
                "part of the switch: until hw.result (camera opened on cold, first read)",
            ),
        ):
            lines.append(
                {
                    "bench": "document_live",
                    "metric": f"{metric}.{attempt}",
                    "p50": round(statistics.median(values), 1),
                    "p95": round(_pct(values, 0.95), 1),
                    "n": len(values),
                    "note": note,
                    "load1": round(load, 2),
                }
            )
    lines.append(
        {
            "bench": "document_live",
            "metric": "live_fps_received",
            "p50": round(statistics.median(live_fps), 1),
            "target": fps,
            "width": width,
            "n": len(live_fps),
            "load1": round(load, 2),
        }
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--window", type=float, default=3.0, help="seconds of CPU measurement per mode")
    parser.add_argument("--width", type=int, default=960)
    parser.add_argument("--fps", type=float, default=12.0)
    args = parser.parse_args()
    for line in asyncio.run(run(args.rounds, args.window, args.width, args.fps)):
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
