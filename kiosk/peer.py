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

:class:`CallPeer` (here) is one connection (tracks, data channel, counters);
:class:`kiosk.media_session.MediaSession` is the call (generations, supervision, signaling glue).
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
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import candidate_from_sdp

from kiosk.media import FrameCounter, drain
from signaling.messages import Candidate

__all__ = [
    "BLOB_CHUNK",
    "CONTROL_CHANNEL",
    "BlobNotSent",
    "CallPeer",
    "ControlHandler",
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
    tap: Callable[[MediaStreamTrack], MediaStreamTrack] | None = None
    """Wraps each received track before it is drained (the resident UI shows the agent's video from it)."""


@dataclass
class _Counters:
    received: dict[str, FrameCounter] = field(default_factory=dict)
    heartbeats: int = 0
    first_heartbeat_at: float | None = None
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
        # A track with a ``direction`` (the live document view) gets its own m-line, in our offers
        # only: aiortc cannot answer an offer that lacks an m-line for a transceiver added before it.
        self._own_mlines = [t for t in tracks if getattr(t, "direction", None) is not None]
        for track in tracks:
            if track not in self._own_mlines:
                self.pc.addTrack(track)
        self._prefer_codec(settings.video_codec)
        self.pc.on("track", self._on_track)
        self.pc.on("datachannel", self._bind_channel)
        self.pc.on("connectionstatechange", lambda: self._on_change())

    def bind(self, *, on_control: ControlHandler | None, on_change: Callable[[], None]) -> None:
        """Route control messages and state changes to a new owner (a connection built ahead of its
        call is bound to the call's :class:`~kiosk.media_session.MediaSession` when it is taken)."""
        self._on_control = on_control
        self._on_change = on_change

    # -- negotiation ----------------------------------------------------------------------------

    async def create_offer(self) -> str:
        """Open the control channel, create and apply an offer (waits for ICE gathering); its SDP."""
        for track in self._own_mlines:
            self.pc.addTransceiver(track, direction=track.direction)  # type: ignore[attr-defined]
        self._prefer_codec(self.settings.video_codec)
        self._bind_channel(self.pc.createDataChannel(CONTROL_CHANNEL))
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def accept_answer(self, sdp: str) -> None:
        """Apply the remote answer."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        self.negotiated_at = time.monotonic()

    async def answer(self, offer_sdp: str) -> str:
        """Apply a remote offer and return our answer's SDP (after gathering). Tracks of their own
        m-line (the live document view) are not sent on a connection the agent offered."""
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
                    async with asyncio.timeout(1.0):
                        await self._drained.wait()
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
        # shielded: cancelling a task that awaits aiortc's close would cancel aiortc's own closing
        # future and make its close task fail with InvalidStateError
        await asyncio.shield(self.pc.close())
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
        if self.settings.tap is not None:
            track = self.settings.tap(track)
        counter = self.counters.received.setdefault(track.kind, FrameCounter())
        stamps = self.settings.read_stamps and track.kind == "video"
        self._spawn(
            drain(track, counter, read_stamps=stamps, on_first=lambda: self._on_change()),
            f"drain-{track.kind}-g{self.generation}",
        )

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
            if self.counters.first_heartbeat_at is None:
                self.counters.first_heartbeat_at = self.counters.last_heartbeat_at
            self._on_change()
        elif self._on_control is not None:
            self._on_control(message)

    async def _heartbeat(self) -> None:
        n = 0
        while not self.closed and self.send_control({"type": "heartbeat", "n": n}):
            n += 1
            await asyncio.sleep(self.settings.heartbeat_interval)
