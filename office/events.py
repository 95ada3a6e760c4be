"""Live events for consoles and display boards (issued, called, ended, counts …).

Handlers publish after their transaction commits; WebSocket endpoints subscribe per office.
:meth:`EventHub.publish` is synchronous, thread-safe and never blocks (routes run in a thread
pool); each subscriber has a bounded queue and a subscriber that falls behind loses its oldest
events and is told so before the events that follow (``{"topic": "events.dropped"}``, and :attr:`Subscription.overflowed` is set)
rather than slowing publishers or the other subscribers.

Wire form (one JSON text frame per event)::

    {"office_id": 3, "topic": "queue.issued", "seq": 17, "ts": 1796640000123, "payload": {...}}

``ts`` is the publish time, wall-clock milliseconds since the Unix epoch, taken once by the
publishing instance (it crosses the bus unchanged); a receiver subtracts it from its own clock to
see the event's age. It was added after ``office_id``/``topic``/``seq``/``payload``; readers that
ignore unknown keys are unaffected.

Fan-out cost per event: the event is serialized once (:meth:`Event.to_json` caches the text), the
subscribers are indexed by office and by event loop, so a publication wakes each loop once
(one ``call_soon_threadsafe``, or none when published on that loop) and offers the event to that
loop's subscribers of the office (plus the all-office ones) without scanning the others.

The hub fans out within one process. Across office instances the hub is bridged to the signaling
bus (Redis pub/sub) by :meth:`EventHub.attach_bus`, so an event published on instance A reaches
subscribers on instance B.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Event", "EventHub", "Subscription"]

log = logging.getLogger("office.events")


def now_ms() -> int:
    """Wall-clock milliseconds since the Unix epoch (the envelope's ``ts``)."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Event:
    """One live event. ``payload`` carries identifiers, numbers and counts, never personal data.

    ``ts`` is the publish time (wall-clock ms, see the module docstring); 0 when unknown.
    """

    office_id: int
    topic: str
    payload: dict[str, Any]
    seq: int = 0
    ts: int = 0
    _wire: list[str] = field(default_factory=list, init=False, repr=False, compare=False)

    def to_json(self) -> str:
        """Wire form sent to consoles and boards, serialized once per event (cached)."""
        if not self._wire:
            self._wire.append(
                json.dumps(
                    {
                        "office_id": self.office_id,
                        "topic": self.topic,
                        "seq": self.seq,
                        "ts": self.ts,
                        "payload": self.payload,
                    },
                    ensure_ascii=False,
                    separators=(",", ":"),
                )
            )
        return self._wire[0]


@dataclass(eq=False)
class Subscription:
    """A subscriber's bounded queue on its own event loop.

    When an event finds the queue full, the queued (oldest) events are dropped and replaced by one
    ``events.dropped`` marker followed by the new event, and :attr:`overflowed` is set: the consumer
    reloads its state on the marker, or an endpoint closes the slow consumer instead.
    """

    office_id: int | None
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Event]
    hub: EventHub
    dropped: int = 0
    closed: bool = field(default=False)
    overflowed: asyncio.Event = field(default_factory=asyncio.Event)

    def _offer(self, event: Event) -> None:
        if self.closed:
            return
        if self.queue.full():
            # Whatever is queued is stale for a consumer that must reload anyway: drop it all and
            # put the marker first, so it is never itself dropped and precedes what follows.
            while not self.queue.empty():
                if self.queue.get_nowait().topic != "events.dropped":
                    self.dropped += 1
            self.overflowed.set()
            self.queue.put_nowait(Event(event.office_id, "events.dropped", {}, event.seq, event.ts))
        self.queue.put_nowait(event)

    async def get(self) -> Event:
        """The next event."""
        return await self.queue.get()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[Event]:
        while not self.closed:
            yield await self.queue.get()

    def close(self) -> None:
        """Stop receiving events."""
        self.closed = True
        self.hub._remove(self)


def _offer_all(subs: tuple[Subscription, ...], event: Event) -> None:
    for sub in subs:
        sub._offer(event)


# office id (None: every office) → event loop → that loop's subscribers. Rebuilt on (un)subscribe,
# read without copying on every publication.
_Routes = dict[int | None, dict[asyncio.AbstractEventLoop, tuple[Subscription, ...]]]


class EventHub:
    """In-process fan-out of live events, optionally bridged to a cross-instance bus."""

    def __init__(self, queue_size: int = 1000) -> None:
        self._queue_size = queue_size
        self._subs: list[Subscription] = []
        self._routes: _Routes = {}
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._remote: Callable[[Event], Coroutine[Any, Any, None]] | None = None
        self._remote_loop: asyncio.AbstractEventLoop | None = None

    def subscribe(self, office_id: int | None) -> Subscription:
        """Subscribe (from a coroutine) to one office's events, or all offices with ``None``."""
        sub = Subscription(office_id, asyncio.get_running_loop(), asyncio.Queue(self._queue_size), self)
        with self._lock:
            self._subs.append(sub)
            self._reroute()
        return sub

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)
                self._reroute()

    def _reroute(self) -> None:
        routes: dict[int | None, dict[asyncio.AbstractEventLoop, list[Subscription]]] = {}
        for s in self._subs:
            routes.setdefault(s.office_id, {}).setdefault(s.loop, []).append(s)
        self._routes = {
            office: {loop: tuple(subs) for loop, subs in loops.items()} for office, loops in routes.items()
        }

    def publish(self, office_id: int, topic: str, payload: dict[str, Any]) -> Event:
        """Publish from any thread; returns the event with its sequence number and publish time."""
        event = Event(office_id, topic, payload, next(self._seq), now_ms())
        if self._remote is not None and self._remote_loop is not None:
            asyncio.run_coroutine_threadsafe(self._remote(event), self._remote_loop)
        else:
            self.deliver_local(event)
        return event

    def deliver_local(self, event: Event) -> None:
        """Hand an event to this process's subscribers (called by the bus bridge too)."""
        routes = self._routes  # replaced, never mutated: safe to read without the lock
        by_loop: dict[asyncio.AbstractEventLoop, tuple[Subscription, ...]] = {}
        for key in (event.office_id, None):
            for loop, subs in routes.get(key, {}).items():
                by_loop[loop] = by_loop.get(loop, ()) + subs
        if not by_loop:
            return
        event.to_json()  # serialize once, here, rather than on each loop or connection
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        for loop, subs in by_loop.items():
            if loop is current:
                _offer_all(subs, event)
                continue
            try:
                loop.call_soon_threadsafe(_offer_all, subs, event)
            except RuntimeError:  # the subscribers' loop is closed
                for sub in subs:
                    self._remove(sub)

    def attach_bus(
        self, send: Callable[[Event], Coroutine[Any, Any, None]], loop: asyncio.AbstractEventLoop
    ) -> None:
        """Route publications through ``send`` (a bus publish) running on ``loop``.

        The bridge's receiving side calls :meth:`deliver_local` for events arriving from the bus,
        including this instance's own publications.
        """
        self._remote = send
        self._remote_loop = loop

    def detach_bus(self) -> None:
        """Back to in-process delivery only."""
        self._remote = None
        self._remote_loop = None

    @property
    def subscriber_count(self) -> int:
        """How many subscriptions are open."""
        with self._lock:
            return len(self._subs)
