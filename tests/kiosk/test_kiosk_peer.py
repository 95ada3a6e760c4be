"""CallPeer on its own: codec preference in the offer, health rules at given instants, control messages."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from kiosk.media import SyntheticVideoTrack, ToneAudioTrack
from kiosk.peer import CallPeer, PeerSettings

SETTINGS = PeerSettings(heartbeat_interval=0.2, dead_after=3.0, connect_timeout=4.0, answer_timeout=10.0)


def _video_codecs(sdp: str) -> list[str]:
    payloads = re.search(r"m=video \d+ \S+ ([\d ]+)", sdp)
    assert payloads is not None
    names = dict(re.findall(r"a=rtpmap:(\d+) ([^/]+)/", sdp))
    return [names[p] for p in payloads.group(1).split() if names[p] != "rtx"]


@pytest.mark.parametrize(("codec", "first"), [("VP8", "VP8"), ("H264", "H264")])
async def test_offer_puts_the_preferred_codec_first(codec: str, first: str) -> None:
    """The offer lists the configured video codec first and keeps the other as fallback."""
    peer = CallPeer(0, [SyntheticVideoTrack(160, 120, 15), ToneAudioTrack()], PeerSettings(video_codec=codec))
    try:
        sdp = await peer.create_offer()
    finally:
        await peer.close()
    codecs = _video_codecs(sdp)
    assert codecs[0] == first and {"VP8", "H264"} <= set(codecs)
    assert "a=candidate:" in sdp  # aiortc gathered before returning (half-trickle)
    assert "webrtc-datachannel" in sdp


async def test_failure_rules_at_given_instants() -> None:
    """Unanswered → failed after answer_timeout; answered → after connect_timeout; up → after dead_after."""
    peer = CallPeer(0, [], SETTINGS)
    try:
        t0 = peer.started_at
        assert not peer.failed(t0 + 9.9) and peer.failed(t0 + 10.1)
        peer.negotiated_at = t0 + 1
        assert not peer.failed(t0 + 4.9) and peer.failed(t0 + 5.1)
        peer.counters.last_heartbeat_at = t0 + 2
        assert peer.healthy(t0 + 4.9) and not peer.failed(t0 + 4.9)
        assert peer.failed(t0 + 5.1) and not peer.healthy(t0 + 5.1)
    finally:
        await peer.close()
    assert not peer.failed(t0 + 100)  # a peer we closed ourselves is not a failure


async def test_control_messages_reach_the_handler_and_heartbeats_count() -> None:
    """Two peers in memory: heartbeats are counted, other JSON goes to on_control, junk is ignored."""
    received: list[dict[str, Any]] = []
    got = asyncio.Event()
    opened = asyncio.Event()

    def on_control(message: dict[str, Any]) -> None:
        received.append(message)
        got.set()

    a = CallPeer(0, [SyntheticVideoTrack(160, 120, 15)], SETTINGS, on_control=on_control)
    b = CallPeer(0, [SyntheticVideoTrack(160, 120, 15)], SETTINGS, on_change=opened.set)
    try:
        await a.accept_answer(await b.answer(await a.create_offer()))
        async with asyncio.timeout(10):
            while b.counters.heartbeats < 2:
                opened.clear()
                await opened.wait()
        assert b.channel is not None
        b.channel.send("not json")
        b.channel.send("[1, 2]")
        assert b.send_control({"type": "show", "screen": "consent"})
        await asyncio.wait_for(got.wait(), 5)
        assert received == [{"type": "show", "screen": "consent"}]
        assert a.frames_sent > 0
    finally:
        await a.close()
        await b.close()
    assert not a.send_control({"type": "late"})
