"""The baseline of ``bench_call_browser``: a bare aiortc peer for a plain Chromium page.

One process: a tiny HTTP endpoint on loopback (uvicorn + Starlette, both already dependencies)
serving ``callbench_bare.html``/``.js`` and four POSTs — ``/offer`` (new ``RTCPeerConnection`` with
the same sources the kiosk sends: 640×480@30 stamped synthetic video + tone, default codecs, no
ICE servers; returns the offer after full gathering), ``/answer``, ``/candidate`` (the page
trickles), ``/hangup``. Received tracks go to :class:`callbench_probe.Probe` (``CALLBENCH_PROBE``),
exactly as in the measured kiosk. No data channel, no signaling protocol, no office, no
supervision: what is left is aiortc and the media sources.

``python bench/callbench_bare.py PORT``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp
from callbench_probe import Probe
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from kiosk.media import FrameCounter, SyntheticVideoTrack, ToneAudioTrack

HERE = Path(__file__).parent


class BarePeer:
    def __init__(self, probe: Probe) -> None:
        self.probe = probe
        self.pc: RTCPeerConnection | None = None
        self.answered = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()

    async def offer(self, request: Request) -> Response:
        await self.close()
        pc = self.pc = RTCPeerConnection()
        self.answered = asyncio.Event()
        pc.addTrack(SyntheticVideoTrack(640, 480, 30, stamped=True))
        pc.addTrack(ToneAudioTrack())

        def on_track(track: Any) -> None:
            task = asyncio.ensure_future(self.probe.drain(track, FrameCounter()))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

        pc.on("track", on_track)
        await pc.setLocalDescription(await pc.createOffer())
        return JSONResponse({"type": "offer", "sdp": pc.localDescription.sdp})

    async def answer(self, request: Request) -> Response:
        body = await request.json()
        if self.pc is None:
            return JSONResponse({"error": "no call"}, status_code=409)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=body["sdp"], type="answer"))
        self.answered.set()
        return JSONResponse({})

    async def candidate(self, request: Request) -> Response:
        body = await request.json()
        pc = self.pc
        if pc is None:
            return JSONResponse({"error": "no call"}, status_code=409)
        await self.answered.wait()
        if not body.get("candidate"):
            await pc.addIceCandidate(None)
            return JSONResponse({})
        parsed = candidate_from_sdp(str(body["candidate"]).removeprefix("candidate:"))
        parsed.sdpMid = body.get("sdpMid")
        parsed.sdpMLineIndex = body.get("sdpMLineIndex")
        await pc.addIceCandidate(parsed)
        return JSONResponse({})

    async def hangup(self, request: Request) -> Response:
        await self.close()
        return JSONResponse({})

    async def close(self) -> None:
        pc, self.pc = self.pc, None
        if pc is not None:
            for sender in pc.getSenders():
                if sender.track is not None:
                    sender.track.stop()
            await asyncio.shield(pc.close())
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    port = int(sys.argv[1])
    probe = Probe(os.environ["CALLBENCH_PROBE"])
    probe.hook_aiortc()
    peer = BarePeer(probe)

    def static(name: str, media: str) -> Route:
        async def serve(request: Request) -> Response:
            return FileResponse(HERE / name, media_type=media)

        return Route("/" if name.endswith(".html") else "/bare.js", serve)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await peer.close()

    app = Starlette(
        routes=[
            static("callbench_bare.html", "text/html"),
            static("callbench_bare.js", "text/javascript"),
            Route("/offer", peer.offer, methods=["POST"]),
            Route("/answer", peer.answer, methods=["POST"]),
            Route("/candidate", peer.candidate, methods=["POST"]),
            Route("/hangup", peer.hangup, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
