"""The next call's first connection and offer, built while the kiosk is idle.

Building a peer connection and its offer (face video, audio and the document view's m-lines, the
control channel, ICE gathering, and with STUN/TURN a round trip to each server) takes about 30 ms
on loopback and far longer with TURN. Built when the invite arrives, it sits on the call's set-up
path; built ahead, the offer goes right behind the kiosk's ``call.accept``. :class:`WarmOffer`
keeps one such connection (generation 0) ready while no call runs:

- built when the kiosk starts, and again after each call;
- rebuilt when the ICE servers a call would use change (the office's TURN credentials are
  refreshed before half their lifetime), when it is older than ``max_age`` (host candidates of a
  network that changed under it) or, gathered with STUN/TURN servers, than ``reflexive_max_age``
  (its server-reflexive candidates name a NAT binding that an idle socket loses after 30 s on
  many routers), and when :meth:`WarmOffer.invalidate` is called (the kiosk does when signaling
  reconnects: the network may have changed);
- never built while a call runs (the kiosk declines other invites then), and
  :meth:`WarmOffer.take` hands it out only if it was built with the servers the call would use
  now and is not too old; otherwise the call builds its own, as before.

The connection holds no personal data and opens no device: its tracks start their sources on the
first ``recv()``, when the call's media flows (the microphone too, :func:`kiosk.media.open_microphone`).
An idle connection sends nothing; with TURN it keeps one allocation, which aioice refreshes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiortc import RTCIceServer
from aiortc.exceptions import InvalidStateError

from kiosk.ice import retry_delay
from kiosk.peer import CallPeer

__all__ = ["Spare", "WarmOffer"]

logger = logging.getLogger(__name__)

Servers = tuple[RTCIceServer, ...]


@dataclass
class Spare:
    """A generation-0 connection with its offer applied, and the ICE servers it gathered with."""

    peer: CallPeer
    sdp: str
    servers: Servers
    built_at: float


class WarmOffer:
    """Keeps one :class:`Spare` ready while the kiosk is idle (see the module docstring).

    ``build(servers)`` makes a generation-0 :class:`~kiosk.peer.CallPeer` with fresh tracks;
    ``servers()`` gives the ICE servers a call would use now, or ``None`` while they are not known
    (then ``prefetch()`` is called); ``busy()`` is true while a call runs.
    """

    def __init__(
        self,
        build: Callable[[Servers], CallPeer],
        servers: Callable[[], Servers | None],
        busy: Callable[[], bool],
        *,
        prefetch: Callable[[], None] | None = None,
        max_age: float = 120.0,
        reflexive_max_age: float = 25.0,
        check_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._build = build
        self._servers = servers
        self._busy = busy
        self._prefetch = prefetch
        self.max_age = max_age
        self.reflexive_max_age = reflexive_max_age
        self.check_interval = check_interval
        self.clock = clock
        self.spare: Spare | None = None
        self.built = 0
        """Connections built so far (for tests and diagnostics)."""
        self.taken = 0
        self._wake = asyncio.Event()
        self._retry_at = 0.0
        self._failures = 0
        self._closing: set[asyncio.Task[None]] = set()

    def usable(self, spare: Spare, servers: Servers) -> bool:
        """Whether ``spare`` may serve a call that would use ``servers`` now."""
        limit = min(self.max_age, self.reflexive_max_age) if spare.servers else self.max_age
        return (
            spare.servers == servers
            and self.clock() - spare.built_at <= limit
            and not spare.peer.closed
            and spare.peer.state == "new"
        )

    def take(self, servers: Servers) -> Spare | None:
        """The spare for a call starting now with ``servers``, or ``None`` (none ready, or stale)."""
        spare = self.spare
        if spare is None or not self.usable(spare, servers):
            return None
        self.spare = None
        self.taken += 1
        return spare

    def wake(self) -> None:
        """Check now (the call ended: build the next spare without waiting for the next check)."""
        self._wake.set()

    def invalidate(self) -> None:
        """Drop the spare (the network may have changed); a new one is built when idle."""
        self._discard()
        self._wake.set()

    async def run(self) -> None:
        """Keep a spare ready until cancelled."""
        try:
            while True:
                await self.maintain()
                # asyncio.timeout, not wait_for: on 3.11 wait_for loses a cancellation that
                # arrives as the event is set (the kiosk wakes and cancels this on shutdown)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.check_interval):
                        await self._wake.wait()
                self._wake.clear()
        finally:
            await self.close()

    async def maintain(self) -> None:
        """One check: drop a stale spare, build one if none is ready and the kiosk is idle."""
        if self._busy():
            return
        servers = self._servers()
        if servers is None:
            if self._prefetch is not None:
                self._prefetch()
            return
        if self.spare is not None and not self.usable(self.spare, servers):
            self._discard()
        if self.spare is not None or self.clock() < self._retry_at:
            return
        try:
            peer = self._build(servers)
        except Exception as err:  # e.g. the track factory could not open a source: later
            self._failed(err)
            return
        self.built += 1
        try:
            sdp = await peer.create_offer()
        except (ValueError, InvalidStateError, OSError) as err:  # aioice/aiortc trouble: later
            await peer.close()
            self._failed(err)
            return
        except BaseException:
            await peer.close()
            raise
        self._failures = 0
        if self._busy() or self._servers() != servers:  # a call started, or the servers changed
            await peer.close()
            return
        self.spare = Spare(peer, sdp, servers, self.clock())

    async def close(self) -> None:
        """Close the spare and wait for connections being closed. Idempotent."""
        self._discard()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    def _failed(self, err: Exception) -> None:
        delay = retry_delay(self._failures)
        self._failures += 1
        self._retry_at = self.clock() + delay
        logger.warning("spare connection not built (%s); retry in %.0f s", type(err).__name__, delay)

    def _discard(self) -> None:
        spare, self.spare = self.spare, None
        if spare is not None:
            task = asyncio.ensure_future(spare.peer.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
