"""The kiosk's side of a call's media: one aiortc peer connection per attempt, renegotiated on failure.

aiortc has no ICE restart (webrtc-notes §2 pitfall 4), so a broken media path is repaired with a
**new** ``RTCPeerConnection`` negotiated through signaling under the same ``call_id`` with the next
``generation`` (docs/signaling.md, *WebRTC negotiation*).

Roles. The kiosk is the offerer: it gathers all its candidates (aiortc is half-trickle), sends a
``description`` offer for generation *g* and applies the agent's answer for *g*. The agent may
also force a renegotiation by sending an offer with a higher generation; the kiosk then drops its
own connection and answers. An offer for a generation the kiosk already uses is ignored (the
kiosk's own offer wins the glare). Descriptions and candidates of other generations are dropped.

Health. Both ends send ``{"type": "heartbeat"}`` on the ``control`` data channel every
``heartbeat_interval`` (1 s). The kiosk declares the media path dead when the connection state is
``failed``/``closed``, when no heartbeat arrived for ``dead_after`` seconds, when the agent did not
answer within ``answer_timeout``, or when an answered attempt produced no heartbeat within
``connect_timeout``; it then renegotiates with the next generation (after ``retry_delay`` when the
previous attempt never came up), until the call ends. During an outage this retries every
``connect_timeout + retry_delay`` seconds, so media returns within about that long after the
network does (aiortc's own ICE checks back off far longer, and it has no ICE restart).

:class:`CallPeer` is one connection (tracks, data channel, counters); :class:`MediaSession` is the
call (generations, supervision, signaling glue).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.exceptions import InvalidStateError
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import candidate_from_sdp

from kiosk.media import FrameCounter, drain
from signaling.errors import SignalingError
from signaling.messages import BaseMessage, Candidate, Description

__all__ = [
    "BLOB_CHUNK",
    "CONTROL_CHANNEL",
    "BlobNotSent",
    "CallPeer",
    "ControlHandler",
    "MediaSession",
    "MediaStateHook",
    "PeerSettings",
    "TrackFactory",
]

logger = logging.getLogger(__name__)

CONTROL_CHANNEL = "control"
"""Label of the data channel for heartbeats and control messages (JSON text)."""

BLOB_CHUNK = 64 * 1024
"""Binary chunk size on the control channel (under every peer's ``max-message-size``)."""
BLOB_HIGH_WATER = 1024 * 1024
"""Stop sending chunks while this much is buffered; resume at half (``bufferedamountlow``)."""

TrackFactory = Callable[[], list[MediaStreamTrack]]
"""Fresh outgoing tracks for one peer connection (a track is never shared by two connections)."""

ControlHandler = Callable[[dict[str, Any]], None]
"""Called with each non-heartbeat JSON object received on the control channel."""

MediaStateHook = Callable[[str], Awaitable[None]]
"""Told ``"connected"`` when a generation's first heartbeat arrives, ``"reconnecting"`` when it fails."""

Sender = Callable[[BaseMessage], Awaitable[None]]


class BlobNotSent(Exception):
    """The control channel closed (or was never open) before the whole blob went out."""


@dataclass(frozen=True)
class PeerSettings:
    """Timing and ICE configuration of the call's media."""

    heartbeat_interval: float = 1.0
    dead_after: float = 3.5
    """No heartbeat for this long on a connection that was up: the media path is broken."""
    connect_timeout: float = 4.0
    """From applying the remote description to the first heartbeat (loopback: ~0.1 s; LAN/TURN: ~1 s)."""
    answer_timeout: float = 10.0
    """From our offer to the agent's answer (covers a signaling reconnect)."""
    retry_delay: float = 0.5
    ice_servers: tuple[RTCIceServer, ...] = ()
    read_stamps: bool = False
    """Decode latency stamps on received video (see :func:`kiosk.media.read_stamp`)."""
    video_codec: str = "VP8"
    """Preferred video codec (``VP8`` or ``H264``; aiortc has no VP9/AV1): offered first, the other kept as fallback."""


@dataclass
class _Counters:
    received: dict[str, FrameCounter] = field(default_factory=dict)
    heartbeats: int = 0
    last_heartbeat_at: float | None = None


class CallPeer:
    """One ``RTCPeerConnection`` of a call: outgoing tracks, drained incoming tracks, a control channel."""

    def __init__(
        self,
        generation: int,
        tracks: list[MediaStreamTrack],
        settings: PeerSettings,
        *,
        on_control: ControlHandler | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.generation = generation
        self.settings = settings
        self.tracks = tracks
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=list(settings.ice_servers)))
        self.channel: RTCDataChannel | None = None
        self.counters = _Counters()
        self.started_at = time.monotonic()
        self.negotiated_at: float | None = None
        self.closed = False
        self._on_control = on_control
        self._on_change = on_change or (lambda: None)
        self._tasks: set[asyncio.Task[None]] = set()
        self._drained = asyncio.Event()
        for track in tracks:
            self.pc.addTrack(track)
        self._prefer_codec(settings.video_codec)
        self.pc.on("track", self._on_track)
        self.pc.on("datachannel", self._bind_channel)
        self.pc.on("connectionstatechange", self._on_change)

    # -- negotiation ----------------------------------------------------------------------------

    async def create_offer(self) -> str:
        """Open the control channel, create and apply an offer (waits for ICE gathering); its SDP."""
        self._bind_channel(self.pc.createDataChannel(CONTROL_CHANNEL))
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def accept_answer(self, sdp: str) -> None:
        """Apply the remote answer."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        self.negotiated_at = time.monotonic()

    async def answer(self, offer_sdp: str) -> str:
        """Apply a remote offer and return our answer's SDP (after gathering)."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        self.negotiated_at = time.monotonic()
        return self.pc.localDescription.sdp

    async def add_candidate(self, candidate: Candidate) -> None:
        """Add a trickled remote candidate (``None`` = end of candidates)."""
        if candidate.candidate is None:
            await self.pc.addIceCandidate(None)  # end of candidates (aiortc ≥ 1.13)
            return
        text = candidate.candidate.candidate
        parsed = candidate_from_sdp(text.removeprefix("candidate:"))
        parsed.sdpMid = candidate.candidate.sdp_mid
        parsed.sdpMLineIndex = candidate.candidate.sdp_m_line_index
        await self.pc.addIceCandidate(parsed)

    # -- state ----------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """aiortc's ``connectionState``."""
        return str(self.pc.connectionState)

    @property
    def frames_received(self) -> dict[str, int]:
        """Frames drained per kind (``video``, ``audio``)."""
        return {kind: c.frames for kind, c in self.counters.received.items()}

    @property
    def frames_sent(self) -> int:
        """Video frames handed to the encoder by our tracks."""
        return sum(int(getattr(t, "frames_sent", 0)) for t in self.tracks if t.kind == "video")

    def healthy(self, now: float) -> bool:
        """A heartbeat arrived within ``dead_after``."""
        last = self.counters.last_heartbeat_at
        return last is not None and now - last <= self.settings.dead_after

    def failed(self, now: float) -> bool:
        """The connection failed, closed under us, went silent, or never came up in time."""
        if self.closed:
            return False
        if self.state in ("failed", "closed"):
            return True
        last = self.counters.last_heartbeat_at
        if last is not None:
            return now - last > self.settings.dead_after
        if self.negotiated_at is None:
            return now - self.started_at > self.settings.answer_timeout
        return now - self.negotiated_at > self.settings.connect_timeout

    def send_control(self, message: dict[str, Any]) -> bool:
        """Send a JSON control message; False when the channel is not open."""
        channel = self.channel
        if channel is None or channel.readyState != "open":
            return False
        channel.send(json.dumps(message, separators=(",", ":")))
        return True

    async def send_blob(self, transfer_id: str, data: bytes, **meta: str | int) -> str:
        """Send ``data`` on the control channel; returns its SHA-256 (hex). Raises :class:`BlobNotSent`.

        Wire: a ``{"type": "blob.start", "transfer_id", "bytes", "sha256", ...meta}`` text message,
        the bytes as binary messages of at most :data:`BLOB_CHUNK` in order (the channel is
        ordered and reliable, and one transfer runs at a time), then ``{"type": "blob.end"}``.
        Back-pressure: waits while more than :data:`BLOB_HIGH_WATER` bytes are buffered.
        """
        channel = self.channel
        digest = hashlib.sha256(data).hexdigest()
        start = {
            "type": "blob.start",
            "transfer_id": transfer_id,
            "bytes": len(data),
            "sha256": digest,
            **meta,
        }
        if channel is None or not self.send_control(start):
            raise BlobNotSent(transfer_id)
        for offset in range(0, len(data), BLOB_CHUNK):
            while channel.bufferedAmount > BLOB_HIGH_WATER and channel.readyState == "open":
                self._drained.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._drained.wait(), 1.0)
            if channel.readyState != "open":
                raise BlobNotSent(transfer_id)
            channel.send(data[offset : offset + BLOB_CHUNK])
        if not self.send_control({"type": "blob.end", "transfer_id": transfer_id}):
            raise BlobNotSent(transfer_id)
        return digest

    async def close(self) -> None:
        """Close the connection, stop our tracks and drains. Idempotent."""
        if self.closed:
            return
        self.closed = True
        for task in list(self._tasks):
            task.cancel()
        await self.pc.close()
        for track in self.tracks:
            track.stop()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    # -- internals ------------------------------------------------------------------------------

    def _prefer_codec(self, codec: str) -> None:
        wanted = f"video/{codec}".lower()
        codecs = RTCRtpSender.getCapabilities("video").codecs
        ordered = sorted(codecs, key=lambda c: c.mimeType.lower() not in (wanted, "video/rtx"))
        for transceiver in self.pc.getTransceivers():
            if transceiver.kind == "video":
                transceiver.setCodecPreferences(ordered)

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_track(self, track: MediaStreamTrack) -> None:
        counter = self.counters.received.setdefault(track.kind, FrameCounter())
        stamps = self.settings.read_stamps and track.kind == "video"
        self._spawn(drain(track, counter, read_stamps=stamps), f"drain-{track.kind}-g{self.generation}")

    def _bind_channel(self, channel: RTCDataChannel) -> None:
        if channel.label != CONTROL_CHANNEL:
            return
        self.channel = channel
        channel.bufferedAmountLowThreshold = BLOB_HIGH_WATER // 2
        channel.on("bufferedamountlow", self._drained.set)
        channel.on("message", self._on_message)
        if channel.readyState == "open":
            self._spawn(self._heartbeat(), f"heartbeat-g{self.generation}")
        else:
            channel.on("open", lambda: self._spawn(self._heartbeat(), f"heartbeat-g{self.generation}"))

    def _on_message(self, data: str | bytes) -> None:
        if not isinstance(data, str) or len(data) > 65536:
            return
        try:
            message = json.loads(data)
        except ValueError:
            logger.warning("control channel: not JSON; ignored")
            return
        if not isinstance(message, dict):
            return
        if message.get("type") == "heartbeat":
            self.counters.heartbeats += 1
            self.counters.last_heartbeat_at = time.monotonic()
            self._on_change()
        elif self._on_control is not None:
            self._on_control(message)

    async def _heartbeat(self) -> None:
        n = 0
        while not self.closed and self.send_control({"type": "heartbeat", "n": n}):
            n += 1
            await asyncio.sleep(self.settings.heartbeat_interval)


class MediaSession:
    """The media of one call on the kiosk: offers, supervises and renegotiates peer connections."""

    def __init__(
        self,
        call_id: str,
        send: Sender,
        make_tracks: TrackFactory,
        settings: PeerSettings | None = None,
        *,
        on_control: ControlHandler | None = None,
        on_state: MediaStateHook | None = None,
    ) -> None:
        self.call_id = call_id
        self._on_state = on_state
        self.media_state: str | None = None
        self.settings = settings or PeerSettings()
        self._send = send
        self._make_tracks = make_tracks
        self._on_control = on_control
        self.peer: CallPeer | None = None
        self.generation = -1
        self.attempts = 0
        self.renegotiations = 0
        self.frames_received_before: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def start(self) -> None:
        """Offer generation 0 and supervise the call's media in the background (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name=f"media-{self.call_id}")

    @property
    def frames_received(self) -> dict[str, int]:
        """Frames received per kind over all generations of the call."""
        totals = dict(self.frames_received_before)
        if self.peer is not None:
            for kind, n in self.peer.frames_received.items():
                totals[kind] = totals.get(kind, 0) + n
        return totals

    def send_control(self, message: dict[str, Any]) -> bool:
        """Send a control message on the current connection's data channel."""
        return self.peer is not None and self.peer.send_control(message)

    async def send_blob(self, transfer_id: str, data: bytes, **meta: str | int) -> str:
        """Send a blob on the current connection (see :meth:`CallPeer.send_blob`); its SHA-256."""
        if self.peer is None:
            raise BlobNotSent(transfer_id)
        return await self.peer.send_blob(transfer_id, data, **meta)

    async def handle(self, message: BaseMessage) -> None:
        """Apply a ``description`` or ``candidate`` of this call from the agent."""
        if isinstance(message, Description):
            async with self._lock:
                await self._on_description(message)
        elif isinstance(message, Candidate):
            peer = self.peer
            if peer is not None and message.generation == peer.generation:
                try:
                    await peer.add_candidate(message)
                except ValueError:
                    logger.warning("call %s: unusable remote candidate ignored", self.call_id)

    async def close(self) -> None:
        """Stop supervising and close the current connection. Idempotent."""
        self._closed = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        async with self._lock:
            await self._retire()

    # -- internals ------------------------------------------------------------------------------

    async def _on_description(self, message: Description) -> None:
        peer = self.peer
        if message.sdp_type == "answer":
            if peer is None or message.generation != peer.generation or peer.pc.remoteDescription is not None:
                logger.info("call %s: answer for generation %s dropped", self.call_id, message.generation)
                return
            try:
                await peer.accept_answer(message.sdp)
            except (ValueError, InvalidStateError) as err:  # the attempt times out and is replaced
                logger.warning(
                    "call %s: answer for generation %s unusable (%s)", self.call_id, peer.generation, err
                )
            return
        if message.generation <= self.generation:
            logger.info("call %s: offer for old generation %s ignored", self.call_id, message.generation)
            return
        # the agent renegotiates: answer with a new connection at its generation, but keep the
        # current one unless the offer is usable
        candidate = self._make_peer(message.generation)
        try:
            sdp = await candidate.answer(message.sdp)
        except (ValueError, InvalidStateError) as err:
            logger.warning(
                "call %s: offer for generation %s unusable (%s)", self.call_id, message.generation, err
            )
            await candidate.close()
            return
        await self._retire()
        self.generation = message.generation
        self.peer = peer = candidate
        await self._send(
            Description(call_id=self.call_id, generation=peer.generation, sdp_type="answer", sdp=sdp)
        )
        self._wake.set()

    def _make_peer(self, generation: int) -> CallPeer:
        self.attempts += 1
        return CallPeer(
            generation,
            self._make_tracks(),
            self.settings,
            on_control=self._on_control,
            on_change=self._wake.set,
        )

    def _new_peer(self) -> CallPeer:
        self.peer = self._make_peer(self.generation)
        return self.peer

    async def _retire(self) -> None:
        peer, self.peer = self.peer, None
        if peer is not None:
            for kind, n in peer.frames_received.items():
                self.frames_received_before[kind] = self.frames_received_before.get(kind, 0) + n
            await peer.close()

    async def _offer(self) -> None:
        async with self._lock:
            await self._retire()
            self.generation += 1
            peer = self._new_peer()
            sdp = await peer.create_offer()
            logger.info("call %s: offering generation %s", self.call_id, peer.generation)
            try:
                await self._send(
                    Description(call_id=self.call_id, generation=peer.generation, sdp_type="offer", sdp=sdp)
                )
            except SignalingError as err:  # the attempt times out and the next one retries
                logger.warning("call %s: offer not sent (%s)", self.call_id, type(err).__name__)

    async def _report(self, state: str) -> None:
        if state == self.media_state:
            return
        self.media_state = state
        if self._on_state is not None:
            try:
                await self._on_state(state)
            except Exception as err:  # reporting is best effort; the media goes on regardless
                logger.warning(
                    "call %s: media state %s not reported (%s)", self.call_id, state, type(err).__name__
                )

    async def _supervise(self) -> None:
        while not self._closed:
            try:
                await self._supervise_once()
            except (ValueError, InvalidStateError, OSError) as err:  # aiortc/aioice trouble: retry afresh
                logger.error(
                    "call %s: media supervision error (%s); new attempt", self.call_id, type(err).__name__
                )
                await asyncio.sleep(self.settings.retry_delay)
                with contextlib.suppress(ValueError, InvalidStateError, OSError):
                    async with self._lock:
                        await self._retire()

    async def _supervise_once(self) -> None:
        if self.peer is None:
            await self._offer()
        while not self._closed:
            self._wake.clear()
            peer = self.peer
            now = time.monotonic()
            if peer is not None and peer.counters.heartbeats > 0 and not peer.failed(now):
                await self._report("connected")
            if peer is not None and peer.failed(now):
                came_up = peer.counters.heartbeats > 0
                logger.warning(
                    "call %s: media generation %s %s; renegotiating",
                    self.call_id,
                    peer.generation,
                    "failed" if came_up else "did not come up",
                )
                self.renegotiations += 1
                if came_up:
                    await self._report("reconnecting")
                if not came_up:
                    await asyncio.sleep(self.settings.retry_delay)
                await self._offer()
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.25)
