"""The media of one call on the kiosk: offers, supervises and renegotiates peer connections.

See :mod:`kiosk.peer` for the rules (the kiosk offers, a new ``generation`` replaces a broken
connection, heartbeats on the control channel decide health). :class:`MediaSession` owns the
call's current :class:`~kiosk.peer.CallPeer`, applies the agent's ``description``/``candidate``
messages, and runs the supervision loop that renegotiates until the call ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc.exceptions import InvalidStateError

from kiosk.peer import BlobNotSent, CallPeer, ControlHandler, PeerSettings, TrackFactory
from signaling.errors import SignalingError
from signaling.messages import BaseMessage, Candidate, Description

__all__ = ["REPORT_RETRY_DELAYS", "MediaSession", "MediaStateHook", "Sender"]

logger = logging.getLogger(__name__)

#: Seconds between attempts to report an unchanged media state the office refused or missed.
REPORT_RETRY_DELAYS = (0.1, 0.2, 0.4, 0.8, 1.6)
#: A generation whose heartbeats flow but whose agent sends no video (a console without a camera)
#: counts as connected this long after its first heartbeat.
CONNECTED_WITHOUT_VIDEO_S = 2.0

MediaStateHook = Callable[[str], Awaitable[None]]
"""Told ``"connected"`` when a generation's media flows (its heartbeats and the agent's first video
frame, or heartbeats for :data:`CONNECTED_WITHOUT_VIDEO_S`), ``"reconnecting"`` when it fails.

The office's call record takes its set-up time from ``connected``; reporting it at the first frame
rather than the first heartbeat also keeps the office's work for the report (a transaction and two
``call.state`` messages) out of the moments when both ends decode their first frames."""

Sender = Callable[[BaseMessage], Awaitable[None]]
"""Sends a signaling message (normally ``SignalingClient.send``)."""


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
        self.reported_state: str | None = None
        """The last media state the office acknowledged."""
        self._reporting: asyncio.Task[None] | None = None
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
        self._retiring: set[asyncio.Task[None]] = set()
        self._network_back = False
        self._task: asyncio.Task[None] | None = None
        self._prepared: asyncio.Future[tuple[CallPeer, str]] | None = None
        self._closed = False

    def prepare(self) -> None:
        """Build generation 0's connection and offer now, before the call is put through, so that
        creating the peer connection and gathering overlap the office's work (set-up time);
        :meth:`start` then sends that offer. No-op once prepared or started."""
        if self._prepared is None and self._task is None and not self._closed:
            self._prepared = asyncio.create_task(self._prepare_offer(), name=f"prepare-{self.call_id}")

    def adopt(self, peer: CallPeer, sdp: str) -> None:
        """Use ``peer``, a generation-0 connection built before the call with its offer ``sdp``
        applied (:class:`kiosk.warm.WarmOffer`), as the prepared one: :meth:`start` sends it."""
        if self._prepared is not None or self._task is not None or self._closed or peer.generation != 0:
            raise RuntimeError("adopt() needs a fresh session and a generation-0 connection")
        peer.bind(on_control=self._on_control, on_change=self._wake.set)
        self.attempts += 1
        prepared: asyncio.Future[tuple[CallPeer, str]] = asyncio.get_running_loop().create_future()
        prepared.set_result((peer, sdp))
        self._prepared = prepared

    @property
    def offer_ready(self) -> bool:
        """A prepared offer is built and waits for :meth:`start`."""
        task = self._prepared
        return task is not None and task.done() and not task.cancelled() and task.exception() is None

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

    def network_back(self) -> None:
        """The network is usable again (signaling reconnected): don't wait out an attempt made
        while it was down; if media is not flowing, the supervisor offers a new generation now."""
        self._network_back = True
        self._wake.set()

    async def close(self) -> None:
        """Stop supervising and close the current connection. Idempotent."""
        self._closed = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._drop_prepared()
        async with self._lock:
            await self._retire()
        if self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)
        if self._reporting is not None:
            self._reporting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reporting

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

    async def _retire(self, *, wait: bool = True) -> None:
        """Drop the current connection. With ``wait=False`` it closes in the background: closing an
        aiortc connection whose network is gone can take seconds, and the next offer must not wait."""
        peer, self.peer = self.peer, None
        if peer is not None:
            for kind, n in peer.frames_received.items():
                self.frames_received_before[kind] = self.frames_received_before.get(kind, 0) + n
            if wait:
                await peer.close()
            else:
                task = asyncio.create_task(peer.close(), name=f"retire-g{peer.generation}")
                self._retiring.add(task)
                task.add_done_callback(self._retiring.discard)

    async def _prepare_offer(self) -> tuple[CallPeer, str]:
        peer = self._make_peer(self.generation + 1)
        try:
            return peer, await peer.create_offer()
        except BaseException:
            await peer.close()
            raise

    async def _take_prepared(self) -> tuple[CallPeer, str] | None:
        """The prepared connection and offer for the next generation, if it was built and is usable."""
        task, self._prepared = self._prepared, None
        if task is None:
            return None
        await asyncio.wait({task})
        if task.cancelled() or task.exception() is not None:
            logger.warning("call %s: prepared offer unusable; offering afresh", self.call_id)
            return None
        peer, sdp = task.result()
        if peer.generation != self.generation + 1:
            await peer.close()
            return None
        peer.started_at = time.monotonic()  # the answer timeout runs from the offer being sent
        return peer, sdp

    async def _drop_prepared(self) -> None:
        task, self._prepared = self._prepared, None
        if task is None:
            return
        task.cancel()
        await asyncio.wait({task})
        if not task.cancelled() and task.exception() is None:
            await task.result()[0].close()

    async def _offer(self) -> None:
        async with self._lock:
            await self._retire(wait=False)
            prepared = await self._take_prepared()
            self.generation += 1
            if prepared is not None:
                peer, sdp = prepared
                self.peer = peer
            else:
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
        """Note the media state and tell the office in the background (never blocks supervision).

        One reporter at a time sends the newest state until the office has it: reports never
        overtake each other, so a late "reconnecting" cannot land after "connected".
        """
        if state == self.media_state:
            return
        self.media_state = state
        if self._on_state is not None and (self._reporting is None or self._reporting.done()):
            self._reporting = asyncio.create_task(self._report_latest())

    async def _report_latest(self) -> None:
        assert self._on_state is not None
        failures = 0
        while self.reported_state != self.media_state and not self._closed:
            state = self.media_state
            if state is None:
                return
            try:
                await self._on_state(state)
            except Exception as err:  # reporting is best effort; the media goes on regardless
                logger.warning(
                    "call %s: media state %s not reported (%s)", self.call_id, state, type(err).__name__
                )
                if state == self.media_state:
                    # E.g. the office has not recorded the accept yet (it does so while the
                    # offer is relayed): retry a few times, then leave it to the next change.
                    if failures >= len(REPORT_RETRY_DELAYS):
                        return
                    await asyncio.sleep(REPORT_RETRY_DELAYS[failures])
                    failures += 1
                continue
            failures = 0
            self.reported_state = state

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

    @staticmethod
    def _flowing(peer: CallPeer, now: float) -> bool:
        since = peer.counters.first_heartbeat_at
        if since is None or peer.failed(now):
            return False
        return peer.frames_received.get("video", 0) > 0 or now - since >= CONNECTED_WITHOUT_VIDEO_S

    async def _supervise_once(self) -> None:
        if self.peer is None:
            await self._offer()
        while not self._closed:
            self._wake.clear()
            peer = self.peer
            now = time.monotonic()
            if peer is not None and self._flowing(peer, now):
                await self._report("connected")
            if self._network_back:
                self._network_back = False
                last = None if peer is None else peer.counters.last_heartbeat_at
                if last is None or now - last > 2 * self.settings.heartbeat_interval:
                    logger.info("call %s: network back without media; renegotiating now", self.call_id)
                    self.renegotiations += 1
                    await self._offer()
                    continue
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
            with contextlib.suppress(TimeoutError):  # not wait_for: see kiosk.warm.WarmOffer.run
                async with asyncio.timeout(0.25):
                    await self._wake.wait()
