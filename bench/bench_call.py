"""Kiosk call media: set-up time, kiosk→agent latency, and recovery after a 10 s media blackout.

A kiosk runtime (``kiosk.runtime``, 640×480@30 VP8 stamped synthetic video + tone) and a headless
agent (``agent_console.headless``) talk through a signaling relay (``SignalingHub`` over the
websockets server, in-process bus) on loopback. Figures (JSON lines):

- ``setup``: from the office's ``call.invite`` to the first video frame at the agent and at the
  kiosk (accept, offer with full gathering, answer, ICE, DTLS, first decoded frame), p50/max over
  ``RUNS`` calls. Baseline in the same run: two bare aiortc peer connections exchanging the
  offer/answer in memory, time to the first frame.
- ``latency``: latency from the in-frame stamps (capture stamp → decoded frame), p50/p95, between
  two kiosk ``CallPeer`` objects; plus the frame rates the agent and the kiosk receive in the call.
  Baseline: the same stamped track between bare aiortc peers.
- ``hw_requests``: ``read_id_card`` and ``capture_document`` (3264×2448 still + straightened page
  over the data channel) from ``hw.request`` to ``hw.result`` with the images received, p50.
  Baseline: the same device work through ``DeviceService.handle`` without signaling or transfer.
- ``blackout``: every ICE datagram dropped for ``BLACKOUT_S`` (10 s) mid-call; time from the end
  of the blackout until video frames flow again both ways (target ≤ 5 s), and how many peer
  connections were negotiated. Baseline: bare aiortc peers left alone (no renegotiation) through
  the same blackout.
"""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import time
from collections.abc import Callable
from typing import Any

import aioice.ice
from aiortc import RTCPeerConnection
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from agent_console.headless import HeadlessAgent
from kiosk.devices import DeviceService, auto_grant
from kiosk.media import FrameCounter, SyntheticVideoTrack, ToneAudioTrack, drain
from kiosk.peer import CallPeer, PeerSettings
from kiosk.runtime import KioskRuntime
from signaling.bus import InProcessBus
from signaling.client import SignalingClient
from signaling.hub import CallInfo, SignalingHub
from signaling.messages import CallInvite, CallState, CallStateName, HwAction, HwOutcome, HwRequest, Role
from signaling.presence import InMemoryPresence
from signaling.relay import CallParties, Party

RUNS = 5
BLACKOUT_S = 10.0
LATENCY_S = 5.0
WIDTH, HEIGHT, FPS = 640, 480, 30
DEVICES = {"idcard": "sim://idcard", "document_camera": "sim://document_camera"}
HW_RUNS = 5
KIOSK, AGENT = Party(Role.KIOSK, "k1"), Party(Role.AGENT, "a1")
TOKENS = {"Bearer k": KIOSK, "Bearer a": AGENT}


class _Blackout:
    on = False


_original = aioice.ice.StunProtocol.datagram_received


def _gated(protocol: aioice.ice.StunProtocol, data: Any, addr: Any) -> None:
    if not _Blackout.on:
        _original(protocol, data, addr)


aioice.ice.StunProtocol.datagram_received = _gated  # type: ignore[method-assign,assignment]


class Calls:
    def __init__(self) -> None:
        self.calls: dict[str, CallInfo] = {}

    async def lookup(self, call_id: str) -> CallInfo | None:
        return self.calls.get(call_id)


class Transport:
    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws

    async def send_text(self, text: str) -> None:
        await self.ws.send(text)

    async def close(self, code: int, reason: str) -> None:
        await self.ws.close(code, reason)


async def wait_until(predicate: Callable[[], bool], limit: float) -> float:
    """Seconds until ``predicate()`` holds (polled every 5 ms); raises TimeoutError after ``limit``."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > limit:
            raise TimeoutError
        await asyncio.sleep(0.005)
    return time.monotonic() - start


def _more_video(agent: HeadlessAgent, than: int) -> Callable[[], bool]:
    return lambda: agent.frames_received.get("video", 0) > than


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def emit(**fields: Any) -> None:
    print(json.dumps(fields, ensure_ascii=False), flush=True)


# --- baseline: bare aiortc ----------------------------------------------------------------------


async def bare_pair() -> tuple[RTCPeerConnection, RTCPeerConnection, FrameCounter, float]:
    """Two bare aiortc PCs, stamped video one way; returns them, the receiver's counter, first-frame time."""
    a, b = RTCPeerConnection(), RTCPeerConnection()
    a.addTrack(SyntheticVideoTrack(WIDTH, HEIGHT, FPS, stamped=True))
    counter = FrameCounter()
    tasks: list[asyncio.Task[None]] = []
    b.on("track", lambda track: tasks.append(asyncio.ensure_future(drain(track, counter, read_stamps=True))))
    start = time.monotonic()
    await a.setLocalDescription(await a.createOffer())
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    await wait_until(lambda: counter.frames > 0, 15)
    return a, b, counter, time.monotonic() - start


async def baseline() -> dict[str, Any]:
    setups: list[float] = []
    for _ in range(RUNS):
        a, b, _, setup = await bare_pair()
        setups.append(setup * 1000)
        await a.close()
        await b.close()
    a, b, counter, _ = await bare_pair()
    await asyncio.sleep(LATENCY_S)
    latencies = [float(ms) for _, ms in counter.stamps[10:]]
    before = counter.frames
    _Blackout.on = True
    await asyncio.sleep(BLACKOUT_S)
    _Blackout.on = False
    try:
        recovery: float | None = await wait_until(lambda: counter.frames >= before + 5, 40) * 1000
    except TimeoutError:
        recovery = None
    await a.close()
    await b.close()
    return {"setups": setups, "latencies": latencies, "recovery": recovery}


async def peer_latency() -> list[float]:
    """Stamped video between two kiosk ``CallPeer`` objects (offer/answer in memory): latencies in ms."""
    settings = PeerSettings(read_stamps=True)
    a = CallPeer(0, [SyntheticVideoTrack(WIDTH, HEIGHT, FPS, stamped=True)], settings)
    b = CallPeer(0, [], settings)  # receive only, like the baseline
    try:
        await a.accept_answer(await b.answer(await a.create_offer()))
        await wait_until(lambda: b.frames_received.get("video", 0) > 0, 15)
        await asyncio.sleep(LATENCY_S)
        return [float(ms) for _, ms in b.counters.received["video"].stamps[10:]]
    finally:
        await a.close()
        await b.close()


def _actions(run: int) -> tuple[HwAction, ...]:
    # a card is read once: a real reader (and the simulator) finds it again only after it left the field
    return (HwAction.READ_ID_CARD, HwAction.CAPTURE_DOCUMENT) if run == 0 else (HwAction.CAPTURE_DOCUMENT,)


async def hw_round_trips(agent: HeadlessAgent) -> dict[str, list[float]]:
    """hw.request → hw.result (and, for documents, the images over the data channel), in ms."""
    times: dict[str, list[float]] = {"read_id_card": [], "capture_document": [], "document_bytes": []}
    for run in range(HW_RUNS):
        for action in _actions(run):
            start = time.monotonic()
            result = await agent.request_hw(action, {"require_quality": False}, within=30)
            times[action.value].append((time.monotonic() - start) * 1000)
            assert result.outcome is HwOutcome.OK, result.error
            if action is HwAction.CAPTURE_DOCUMENT and result.data is not None:
                transfers = result.data.get("transfers") or []
                assert isinstance(transfers, list)
                sizes = [t["bytes"] for t in transfers if isinstance(t, dict)]
                times["document_bytes"].append(float(sum(n for n in sizes if isinstance(n, int))))
    return times


async def hw_baseline() -> dict[str, list[float]]:
    """The same device work without signaling or data channel (DeviceService.handle directly)."""
    service = DeviceService(DEVICES, consent=auto_grant)

    async def progress(stage: str) -> None:
        return None

    times: dict[str, list[float]] = {"read_id_card": [], "capture_document": []}
    try:
        for run in range(HW_RUNS):
            for action in _actions(run):
                request = HwRequest(
                    call_id="c", request_id="r", action=action, params={"require_quality": False}
                )
                start = time.monotonic()
                result = await service.handle(request, progress)
                times[action.value].append((time.monotonic() - start) * 1000)
                assert result.outcome is HwOutcome.OK
    finally:
        await service.close()
    return times


# --- doorstep: runtime + headless agent over signaling ----------------------------------------


async def doorstep() -> dict[str, Any]:
    calls = Calls()
    hub = SignalingHub(
        InProcessBus(), InMemoryPresence(), calls, instance_id="bench", disconnect_errors=(ConnectionClosed,)
    )

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        party = TOKENS.get(ws.request.headers.get("Authorization", ""))
        if party is None:
            await ws.close(4401)
            return
        await hub.serve(party, Transport(ws), ws)

    server = await serve(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1] if server.sockets else 0
    url = f"ws://127.0.0.1:{port}"
    kiosk = KioskRuntime(
        SignalingClient(url, Role.KIOSK, headers={"Authorization": "Bearer k"}),
        DeviceService(DEVICES, consent=auto_grant),
        lambda: [SyntheticVideoTrack(WIDTH, HEIGHT, FPS, stamped=True), ToneAudioTrack()],
        peer_settings=PeerSettings(read_stamps=True),
    )
    agent = HeadlessAgent(SignalingClient(url, Role.AGENT, headers={"Authorization": "Bearer a"}))
    setups_agent: list[float] = []
    setups_kiosk: list[float] = []
    out: dict[str, Any] = {}
    try:
        await kiosk.start()
        await agent.start()
        for run in range(RUNS + 1):
            call_id = f"call-{run}"
            calls.calls[call_id] = CallInfo(CallParties("a1", "k1"), CallStateName.NEGOTIATING)
            agent_before = agent.frames_received.get("video", 0)
            start = time.monotonic()
            invite = CallInvite(call_id=call_id, agent_id="a1", kiosk_id="k1")
            for party in (KIOSK, AGENT):
                await hub.send_to(party, invite)
                await hub.send_to(party, CallState(call_id=call_id, state=CallStateName.NEGOTIATING))
            await wait_until(_more_video(agent, agent_before), 20)
            setups_agent.append((time.monotonic() - start) * 1000)
            await wait_until(
                lambda: kiosk.call is not None and kiosk.call.frames_received.get("video", 0) > 0, 20
            )
            setups_kiosk.append((time.monotonic() - start) * 1000)
            if run == RUNS:
                break  # keep the last call for the latency and blackout runs
            for party in (KIOSK, AGENT):
                await hub.send_to(
                    party, CallState(call_id=call_id, state=CallStateName.ENDED, reason="completed")
                )
            await wait_until(lambda: kiosk.call is None and agent.peer is None, 10)
            del calls.calls[call_id]
        assert kiosk.call is not None
        k0, a0 = kiosk.call.frames_received.get("video", 0), agent.frames_received.get("video", 0)
        await asyncio.sleep(LATENCY_S)
        out["fps_at_agent"] = (agent.frames_received.get("video", 0) - a0) / LATENCY_S
        out["fps_at_kiosk"] = (kiosk.call.frames_received.get("video", 0) - k0) / LATENCY_S
        out["hw"] = await hw_round_trips(agent)
        generations = kiosk.call.generation
        k1, a1 = kiosk.call.frames_received.get("video", 0), agent.frames_received.get("video", 0)
        _Blackout.on = True
        await asyncio.sleep(BLACKOUT_S)
        _Blackout.on = False
        k2, a2 = kiosk.call.frames_received.get("video", 0), agent.frames_received.get("video", 0)
        recovery = await wait_until(
            lambda: (
                kiosk.call is not None
                and kiosk.call.frames_received.get("video", 0) >= k2 + 5
                and agent.frames_received.get("video", 0) >= a2 + 5
            ),
            30,
        )
        out["recovery_ms"] = recovery * 1000
        out["frames_during_blackout"] = {"kiosk": k2 - k1, "agent": a2 - a1}
        out["new_generations"] = kiosk.call.generation - generations
    finally:
        await agent.close()
        await kiosk.close()
        server.close()
        await server.wait_closed()
    out["setups_agent"] = setups_agent[1:]  # the first call also pays imports and codec start-up
    out["setups_kiosk"] = setups_kiosk[1:]
    return out


async def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    base = await baseline()
    latencies = await peer_latency()
    hw_base = await hw_baseline()
    ours = await doorstep()
    emit(
        bench="call_setup",
        unit="ms",
        runs=RUNS,
        first_frame_at_agent_p50=round(statistics.median(ours["setups_agent"]), 1),
        first_frame_at_agent_max=round(max(ours["setups_agent"]), 1),
        first_frame_at_kiosk_p50=round(statistics.median(ours["setups_kiosk"]), 1),
        baseline_bare_aiortc_p50=round(statistics.median(base["setups"]), 1),
        baseline_bare_aiortc_max=round(max(base["setups"]), 1),
        size=f"{WIDTH}x{HEIGHT}@{FPS}",
    )
    emit(
        bench="call_latency",
        unit="ms",
        kiosk_peer_p50=round(pct(latencies, 0.5), 1),
        kiosk_peer_p95=round(pct(latencies, 0.95), 1),
        baseline_bare_aiortc_p50=round(pct(base["latencies"], 0.5), 1),
        baseline_bare_aiortc_p95=round(pct(base["latencies"], 0.95), 1),
        samples=len(base["latencies"]),
        fps_at_agent=round(ours["fps_at_agent"], 1),
        fps_at_kiosk=round(ours["fps_at_kiosk"], 1),
    )
    hw = ours["hw"]
    emit(
        bench="call_hw_requests",
        unit="ms",
        runs=HW_RUNS,
        read_id_card=round(hw["read_id_card"][0], 1),
        read_id_card_device_only=round(hw_base["read_id_card"][0], 1),
        capture_document_p50=round(statistics.median(hw["capture_document"]), 1),
        capture_document_device_only_p50=round(statistics.median(hw_base["capture_document"]), 1),
        document_bytes=int(statistics.median(hw["document_bytes"])),
        document_camera="3264x2448 sim",
    )
    emit(
        bench="call_blackout",
        unit="ms",
        blackout_s=BLACKOUT_S,
        recovery_ms=round(ours["recovery_ms"], 1),
        target_ms=5000,
        new_peer_connections=ours["new_generations"],
        frames_during_blackout=ours["frames_during_blackout"],
        baseline_bare_aiortc_recovery_ms=None if base["recovery"] is None else round(base["recovery"], 1),
    )


if __name__ == "__main__":
    asyncio.run(main())
