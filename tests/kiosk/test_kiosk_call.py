"""Kiosk ⇄ headless agent over loopback through the test-local signaling relay (aiortc on both sides)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from types import SimpleNamespace
from typing import cast

import pytest
from aiortc import RTCIceServer

from agent_console.headless import HeadlessAgent
from hardware.idcard.fixtures import CARD_FIXTURES
from hardware.redact import mask_id_number
from kiosk import media_session
from kiosk.ice import IceConfig, IceServerCache
from kiosk.media import SyntheticVideoTrack, ToneAudioTrack
from kiosk.media_session import MediaSession
from kiosk.peer import CallPeer
from kiosk.runtime import KioskRuntime
from signaling.messages import CallCancel, CallState, CallStateName, Description, HwAction, HwOutcome, Role
from signaling.relay import Party
from tests.kiosk.conftest import headless_agent, kiosk_runtime
from tests.kiosk.relay import Relay

CallPair = tuple[Relay, KioskRuntime, HeadlessAgent]


async def _connected_call(pair: CallPair) -> None:
    relay, kiosk, agent = pair
    await relay.start_call()
    await agent.wait_for(lambda: agent.frames_received.get("video", 0) >= 10, within=10)
    await agent.wait_for(
        lambda: kiosk.call is not None and kiosk.call.frames_received.get("video", 0) >= 10, within=10
    )


async def test_frames_flow_both_ways_and_heartbeats(call_pair: CallPair) -> None:
    """A call: the kiosk accepts and offers, video and audio flow both ways, heartbeats both ways."""
    _relay, kiosk, agent = call_pair
    await _connected_call(call_pair)
    assert kiosk.call is not None and kiosk.call.peer is not None
    assert [i.call_id for i in agent.invites] == ["call-1"]
    assert kiosk.call.generation == 0
    await agent.wait_for(
        lambda: (
            agent.heartbeats_received >= 2
            and kiosk.call is not None
            and kiosk.call.peer is not None
            and kiosk.call.peer.counters.heartbeats >= 2
        ),
        within=5,
    )
    assert agent.frames_received.get("audio", 0) > 0
    assert kiosk.call.frames_received.get("audio", 0) > 0
    assert agent.call_state is CallStateName.NEGOTIATING


async def test_hang_up_closes_media_on_both_sides(call_pair: CallPair) -> None:
    """The agent hangs up (call.end): the kiosk closes its peer connection and forgets the call."""
    _relay, kiosk, agent = call_pair
    await _connected_call(call_pair)
    assert kiosk.call is not None
    peer = kiosk.call.peer
    assert peer is not None
    await agent.hang_up()
    await agent.wait_for(lambda: kiosk.call is None and kiosk.call_id is None, within=5)
    assert peer.closed and peer.pc.connectionState == "closed"
    assert agent.peer is None


async def test_media_failure_renegotiates_a_new_peer_connection(call_pair: CallPair) -> None:
    """The agent's peer connection vanishes: the kiosk offers generation 1 and frames resume."""
    _relay, kiosk, agent = call_pair
    await _connected_call(call_pair)
    assert kiosk.call is not None
    await agent.break_media()
    before = agent.frames_received.get("video", 0)
    await agent.wait_for(lambda: kiosk.call is not None and kiosk.call.generation >= 1, within=10)
    await agent.wait_for(lambda: agent.frames_received.get("video", 0) >= before + 10, within=10)
    assert kiosk.call.renegotiations >= 1
    assert agent.peer is not None and agent.peer.generation == kiosk.call.generation
    await agent.wait_for(
        lambda: (
            kiosk.call is not None
            and kiosk.call.peer is not None
            and kiosk.call.peer.healthy(time.monotonic())
        ),
        within=5,
    )


async def test_kiosk_transport_failure_renegotiates(call_pair: CallPair) -> None:
    """The kiosk's own ICE transport stops (network path broken): a new connection brings media back."""
    _relay, kiosk, agent = call_pair
    await _connected_call(call_pair)
    assert kiosk.call is not None and kiosk.call.peer is not None
    old = kiosk.call.peer
    ice = old.pc.getTransceivers()[0].sender.transport.transport
    await ice.stop()
    await agent.wait_for(lambda: kiosk.call is not None and kiosk.call.peer is not old, within=10)
    received = kiosk.call.frames_received.get("video", 0)
    await agent.wait_for(
        lambda: kiosk.call is not None and kiosk.call.frames_received.get("video", 0) >= received + 10,
        within=10,
    )
    assert old.closed


async def test_signaling_drop_mid_call_keeps_media_and_resumes(call_pair: CallPair) -> None:
    """The office closes the kiosk's socket (1001): media keeps flowing, the client resumes the call."""
    relay, kiosk, agent = call_pair
    await _connected_call(call_pair)
    assert kiosk.call is not None
    peer = kiosk.call.peer
    connects = kiosk.signaling.connects
    assert await relay.drop(Party(Role.KIOSK, "k1")) == 1
    during = kiosk.call.frames_received.get("video", 0)
    await agent.wait_for(lambda: kiosk.signaling.connects > connects and kiosk.signaling.connected, within=10)
    await agent.wait_for(
        lambda: kiosk.call is not None and kiosk.call.frames_received.get("video", 0) >= during + 10,
        within=5,
    )
    assert kiosk.call.peer is peer and kiosk.call.generation == 0  # no renegotiation was needed
    assert kiosk.signaling.active_call == "call-1"
    result = await agent.request_hw(HwAction.READ_ID_CARD, within=10)  # the call works over the new socket
    assert result.outcome is HwOutcome.OK


async def test_read_id_card_result_and_masked_logs(
    call_pair: CallPair, caplog: pytest.LogCaptureFixture
) -> None:
    """hw.request read_id_card: progress stages, then hw.result with the masked card; logs masked too."""
    _relay, _kiosk, agent = call_pair
    await _connected_call(call_pair)
    caplog.set_level(logging.DEBUG)
    result = await agent.request_hw(HwAction.READ_ID_CARD, within=10)
    assert result.outcome is HwOutcome.OK and result.data is not None
    card = CARD_FIXTURES["resident-male"].values
    assert result.data["id_number"] == mask_id_number(card["id_number"])
    assert result.data["masked"] is True
    assert card["name"] not in json.dumps(result.data, ensure_ascii=False)
    assert card["address"] not in json.dumps(result.data, ensure_ascii=False)
    assert [p.stage for p in agent.progress] == ["awaiting_consent", "consent_given", "reading"]
    logged = caplog.text
    assert card["id_number"] not in logged and card["name"] not in logged and card["address"] not in logged
    assert mask_id_number(card["id_number"]) in logged


async def test_second_hw_request_while_busy_is_answered_busy(call_pair: CallPair) -> None:
    """Two read_id_card requests at once: one reads, the other is answered busy."""
    _relay, _kiosk, agent = call_pair
    await _connected_call(call_pair)
    first, second = await asyncio.gather(
        agent.request_hw(HwAction.READ_ID_CARD, within=10),
        agent.request_hw(HwAction.READ_ID_CARD, within=10),
    )
    assert sorted([first.outcome, second.outcome]) == sorted([HwOutcome.OK, HwOutcome.BUSY])


async def test_media_states_are_reported_and_ice_servers_fetched(relay: Relay) -> None:
    """The kiosk reports connected, then reconnecting and connected again around a renegotiation;
    connected only once the generation's heartbeats and the agent's video are in."""
    reports: list[tuple[str, str]] = []
    fetched: list[int] = []
    video_at_connected: list[int] = []

    async def report_call(call_id: str, state: str) -> None:
        reports.append((call_id, state))
        if state == "connected":
            peer = kiosk.call.peer if kiosk.call is not None else None
            assert peer is not None and peer.counters.heartbeats > 0
            video_at_connected.append(peer.frames_received.get("video", 0))

    async def ice_servers() -> tuple[RTCIceServer, ...]:
        fetched.append(1)
        return ()

    kiosk = kiosk_runtime(relay, report_call=report_call, ice_servers=ice_servers)
    agent = headless_agent(relay)
    async with kiosk, agent:
        await _connected_call((relay, kiosk, agent))
        await agent.wait_for(lambda: ("call-1", "connected") in reports, within=5)
        await agent.break_media()
        await agent.wait_for(lambda: len(reports) >= 3, within=10)
    assert reports[:3] == [("call-1", "connected"), ("call-1", "reconnecting"), ("call-1", "connected")]
    assert len(video_at_connected) >= 2 and min(video_at_connected) >= 1
    assert fetched == [1]


def test_a_generation_without_the_agents_video_counts_as_connected_after_a_while() -> None:
    """Heartbeats alone (a console without a camera) make ``connected`` after
    CONNECTED_WITHOUT_VIDEO_S; the agent's first video frame makes it at once; a failed one never."""
    counters = SimpleNamespace(first_heartbeat_at=None)
    fake = SimpleNamespace(counters=counters, frames_received={}, failed=lambda now: False)
    peer = cast(CallPeer, fake)
    assert not MediaSession._flowing(peer, 100.0)
    counters.first_heartbeat_at = 100.0
    assert not MediaSession._flowing(peer, 100.0 + media_session.CONNECTED_WITHOUT_VIDEO_S - 0.1)
    assert MediaSession._flowing(peer, 100.0 + media_session.CONNECTED_WITHOUT_VIDEO_S)
    fake.frames_received = {"audio": 40}
    assert not MediaSession._flowing(peer, 100.1)
    fake.frames_received = {"audio": 40, "video": 1}
    assert MediaSession._flowing(peer, 100.1)
    fake.failed = lambda now: True
    assert not MediaSession._flowing(peer, 100.1)


async def test_second_invite_during_a_call_is_declined_busy(call_pair: CallPair) -> None:
    """An invite for another call while one runs: the kiosk declines it busy and keeps its call."""
    relay, kiosk, agent = call_pair
    await _connected_call(call_pair)
    await relay.start_call("call-2", negotiate=False)
    await agent.wait_for(lambda: len(agent.declines) == 1, within=5)
    assert (agent.declines[0].call_id, agent.declines[0].reason) == ("call-2", "busy")
    assert kiosk.call_id == "call-1" and kiosk.call is not None
    assert kiosk.signaling.active_call == "call-1"


async def test_the_same_invite_again_is_accepted_again_and_keeps_the_call(call_pair: CallPair) -> None:
    """The office re-sends a ringing call's invite to a kiosk that (re)connects: the kiosk answers
    with its accept again (the first may have gone with the old connection) and keeps its call; the
    resident's screen is not told of a new call (it would go back to "ringing")."""
    relay, kiosk, agent = call_pair
    await _connected_call(call_pair)
    accepts, call = len(agent.accepts), kiosk.call
    told: list[str | None] = []
    kiosk.on_call = told.append
    await relay.start_call("call-1", negotiate=False)
    await agent.wait_for(lambda: len(agent.accepts) == accepts + 1, within=5)
    assert agent.accepts[-1].call_id == "call-1" and not agent.declines
    assert (
        kiosk.call is call
        and call is not None
        and call.attempts == 1
        and kiosk.call_id == "call-1"
        and told == []
    )
    frames = agent.frames_received.get("video", 0)
    await agent.wait_for(lambda: agent.frames_received.get("video", 0) >= frames + 5, within=5)


async def test_health_is_reported_periodically(relay: Relay) -> None:
    """The runtime sends a device-health report at start and then every interval."""
    reports: list[dict[str, object]] = []
    done = asyncio.Event()

    async def report(health: dict[str, object]) -> None:
        reports.append(health)
        if len(reports) == 2:
            done.set()

    kiosk = kiosk_runtime(relay, report_health=report, health_interval_s=0.05)
    async with kiosk:
        await asyncio.wait_for(done.wait(), 5)
    assert reports[0]["in_call"] is False
    devices = reports[0]["devices"]
    assert isinstance(devices, dict) and set(devices) == {"idcard", "document_camera"}


async def test_capture_document_sends_the_still_over_the_data_channel(call_pair: CallPair) -> None:
    """hw.request capture_document: metadata in hw.result, the JPEGs arrive intact over the data channel."""
    _, _, agent = call_pair
    await _connected_call(call_pair)
    result = await agent.request_hw(HwAction.CAPTURE_DOCUMENT, {"require_quality": False}, within=15)
    assert result.outcome is HwOutcome.OK and result.data is not None
    assert (result.data["width"], result.data["height"]) == (1600, 1200)
    transfers = [t for t in result.data["transfers"] or [] if isinstance(t, dict)]  # type: ignore[union-attr]
    assert transfers and transfers[0]["name"] == "still"
    for transfer in transfers:
        blob = agent.blobs[str(transfer["transfer_id"])]
        assert len(blob) == transfer["bytes"] and blob[:2] == b"\xff\xd8"
        assert hashlib.sha256(blob).hexdigest() == transfer["sha256"]
    assert len(agent.blobs[f"{result.request_id}.still"]) > 64 * 1024  # more than one chunk
    stages = [p.stage for p in agent.progress]
    assert stages[-len(transfers) :] == [f"sending_{t['name']}" for t in transfers]


async def test_unusable_offer_from_the_agent_keeps_the_working_connection(call_pair: CallPair) -> None:
    """A garbled renegotiation offer is refused locally: the current connection and media carry on."""
    _, kiosk, agent = call_pair
    await _connected_call(call_pair)
    assert kiosk.call is not None
    peer = kiosk.call.peer
    await agent.signaling.send(
        Description(call_id="call-1", generation=7, sdp_type="offer", sdp="v=0\r\nnonsense\r\n")
    )
    received = kiosk.call.frames_received.get("video", 0)
    await agent.wait_for(
        lambda: kiosk.call is not None and kiosk.call.frames_received.get("video", 0) >= received + 10,
        within=5,
    )
    assert kiosk.call.peer is peer and kiosk.call.generation == 0
    result = await agent.request_hw(HwAction.READ_ID_CARD, within=10)  # the kiosk's loop is alive
    assert result.outcome is HwOutcome.OK


async def _negotiating(relay: Relay, call_id: str = "call-1") -> None:
    """Play the office recording the kiosk's accept: both parties go negotiating."""
    for party in (Party(Role.KIOSK, "k1"), Party(Role.AGENT, "a1")):
        await relay.hub.send_to(party, CallState(call_id=call_id, state=CallStateName.NEGOTIATING))


async def test_offer_goes_right_behind_the_accept(relay: Relay) -> None:
    """Invited, the kiosk accepts, builds its offer and sends it as soon as it is built, without
    waiting for the office's ``call.state``: the accept has put both ends in the call. That
    prepared connection is the one the call uses (no second one is built)."""
    kiosk = kiosk_runtime(relay)
    agent = headless_agent(relay)
    async with kiosk, agent:
        await relay.start_call(negotiate=False)
        await _connected_call_media(kiosk, agent)
        assert kiosk.call is not None
        assert kiosk.call.attempts == 1 and kiosk.call.generation == 0 and not kiosk.call.offer_ready
        assert agent.call_state is None  # no call.state was ever sent: the accept sufficed
        await _negotiating(relay)  # the office's state, arriving late, changes nothing
        await agent.wait_for(lambda: agent.call_state is CallStateName.NEGOTIATING, within=5)
        assert kiosk.call.attempts == 1 and kiosk.call.generation == 0


async def _connected_call_media(kiosk: KioskRuntime, agent: HeadlessAgent) -> None:
    await agent.wait_for(lambda: agent.frames_received.get("video", 0) >= 10, within=10)
    await agent.wait_for(
        lambda: kiosk.call is not None and kiosk.call.frames_received.get("video", 0) >= 10, within=10
    )


@pytest.mark.parametrize("warm", [True, False], ids=["spare", "built-on-invite"])
async def test_call_cancelled_while_ringing_closes_the_prepared_connection(relay: Relay, warm: bool) -> None:
    """The agent cancels before the office put the call through (the kiosk has accepted and
    offered): the connection is closed and its tracks stopped; the kiosk is free for the next call
    (and, with the spare, has built the next one with fresh tracks)."""
    kiosk = kiosk_runtime(relay, warm_offer=warm)
    made: list[list[object]] = []

    def make_tracks() -> list[object]:
        tracks: list[object] = [SyntheticVideoTrack(320, 240, 15), ToneAudioTrack()]
        made.append(tracks)
        return tracks

    kiosk.make_tracks = make_tracks  # type: ignore[assignment]
    agent = headless_agent(relay)
    async with kiosk, agent:
        if kiosk.warm is not None:
            await agent.wait_for(lambda: kiosk.warm is not None and kiosk.warm.spare is not None, within=10)
        await relay.start_call(negotiate=False)
        await agent.wait_for(lambda: kiosk.call is not None and kiosk.call.peer is not None, within=10)
        assert kiosk.call is not None and kiosk.call.peer is not None
        call_tracks = kiosk.call.peer.tracks
        assert call_tracks is made[0] and kiosk.call.attempts == 1
        await agent.signaling.send(CallCancel(call_id="call-1", reason="cancelled"))
        await agent.wait_for(lambda: kiosk.call is None and kiosk.call_id is None, within=5)
        assert all(getattr(track, "readyState", None) == "ended" for track in call_tracks)
        if kiosk.warm is not None:
            await agent.wait_for(lambda: kiosk.warm is not None and kiosk.warm.spare is not None, within=10)
            assert len(made) == 2 and kiosk.warm.spare.peer.tracks is made[1]  # type: ignore[union-attr]
            assert all(getattr(track, "readyState", None) == "live" for track in made[1])
        else:
            assert len(made) == 1
        relay.calls.pop("call-1")
        await relay.start_call("call-2")
        await _connected_call_media(kiosk, agent)


async def test_ice_servers_with_a_lifetime_serve_many_calls(relay: Relay) -> None:
    """Servers fetched with their TURN lifetime at start are reused by the next calls: no call fetches."""
    fetched: list[int] = []

    async def ice_servers() -> IceConfig:
        fetched.append(1)
        return IceConfig((), 3600)

    kiosk = kiosk_runtime(relay, ice_servers=ice_servers)
    agent = headless_agent(relay)
    async with kiosk, agent:
        await agent.wait_for(lambda: len(fetched) == 1, within=5)
        for call_id in ("call-1", "call-2"):
            await relay.start_call(call_id)
            await _connected_call_media(kiosk, agent)
            await relay.end_call(call_id)
            await agent.wait_for(lambda: kiosk.call is None, within=5)
    assert fetched == [1]


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_ice_cache_hands_out_servers_for_half_their_lifetime() -> None:
    """Cached servers are reused until half their lifetime has passed, then fetched again; concurrent
    calls share one fetch."""
    clock, fetches = _Clock(), []
    servers = (RTCIceServer(urls="stun:stun.example:3478"),)

    async def source() -> IceConfig:
        fetches.append(clock.now)
        await asyncio.sleep(0)
        return IceConfig(servers, 100)

    cache = IceServerCache(source, clock=clock)
    assert cache.fresh() is None
    both = await asyncio.gather(cache.get(), cache.get())
    assert list(both) == [servers, servers]
    assert fetches == [1000.0]
    clock.now += 49
    assert await cache.get() == servers and len(fetches) == 1
    clock.now += 2
    assert cache.fresh() is None
    assert await cache.get() == servers and fetches == [1000.0, 1051.0]


async def test_ice_cache_without_a_lifetime_serves_one_call_per_fetch() -> None:
    """A source without a lifetime (a plain tuple, or ttl 0): each fetch serves one call."""
    results: list[tuple[RTCIceServer, ...] | IceConfig] = [(), IceConfig((), 0), ()]
    fetches: list[int] = []

    async def source() -> tuple[RTCIceServer, ...] | IceConfig:
        fetches.append(1)
        return results[len(fetches) - 1]

    cache = IceServerCache(source)
    cache.prefetch()
    assert await cache.get() == () and len(fetches) == 1  # the prefetched servers
    assert cache.fresh() is None
    assert await cache.get() == () and len(fetches) == 2
    assert await cache.get() == () and len(fetches) == 3


async def test_ice_cache_goes_on_without_servers_when_the_office_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failing or hanging fetch gives no servers (host candidates still work) instead of no call."""
    hang = asyncio.Event()

    async def failing() -> IceConfig:
        raise ConnectionError("office down")

    async def hanging() -> IceConfig:
        await hang.wait()
        return IceConfig((), 60)

    assert await IceServerCache(failing).get() == ()
    slow = IceServerCache(hanging, timeout_s=0.05)
    assert await slow.get() == ()
    assert "ICE servers unavailable (ConnectionError)" in caplog.text
    assert "ICE servers unavailable (TimeoutError)" in caplog.text
    hang.set()  # the fetch that outlived the call's wait still fills the cache for the next call
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert slow.fresh() == ()
    slow.close()


async def test_refused_media_state_report_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    """The office refuses ``connected`` while it has not recorded the accept yet (it records it
    while the offer is relayed): the session retries the unchanged state, a bounded number of times."""
    monkeypatch.setattr(media_session, "REPORT_RETRY_DELAYS", (0.01, 0.01, 0.01))
    calls: list[str] = []
    refusals = 2

    async def on_state(state: str) -> None:
        calls.append(state)
        if len(calls) <= refusals:
            raise RuntimeError("409 illegal_transition")

    async def send(_: object) -> None:
        return None

    session = MediaSession("call-1", send, lambda: [], on_state=on_state)
    await session._report("connected")
    for _ in range(200):
        if session.reported_state == "connected":
            break
        await asyncio.sleep(0.01)
    assert session.reported_state == "connected" and calls == ["connected"] * 3

    refusals = 100  # never accepted: gives up after the last delay, leaving it to the next change
    calls.clear()
    await session._report("reconnecting")
    for _ in range(200):
        if session._reporting is not None and session._reporting.done():
            break
        await asyncio.sleep(0.01)
    assert calls == ["reconnecting"] * 4 and session.reported_state == "connected"
    await session.close()
