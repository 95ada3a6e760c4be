"""Live events for consoles and display boards (issued, called, ended, counts …).

Handlers publish after their transaction commits; WebSocket endpoints subscribe per office.
:meth:`EventHub.publish` is synchronous, thread-safe and never blocks (routes run in a thread
pool); each subscriber has a bounded queue and a subscriber that falls behind loses its oldest
events and is told so (``{"topic": "events.dropped"}``) rather than slowing publishers.

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
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Event", "EventHub", "Subscription"]

log = logging.getLogger("office.events")


@dataclass(frozen=True, slots=True)
class Event:
    """One live event. ``payload`` carries identifiers, numbers and counts, never personal data."""

    office_id: int
    topic: str
    payload: dict[str, Any]
    seq: int = 0

    def to_json(self) -> str:
        """Wire form sent to consoles and boards."""
        return json.dumps(
            {"office_id": self.office_id, "topic": self.topic, "seq": self.seq, "payload": self.payload},
            ensure_ascii=False,
            separators=(",", ":"),
        )


@dataclass(eq=False)
class Subscription:
    """A subscriber's bounded queue on its own event loop."""

    office_id: int | None
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Event]
    hub: EventHub
    dropped: int = 0
    closed: bool = field(default=False)

    def _offer(self, event: Event) -> None:
        if self.closed:
            return
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
            if self.dropped == 1:
                self.queue.put_nowait(Event(event.office_id, "events.dropped", {}, event.seq))
                return
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


class EventHub:
    """In-process fan-out of live events, optionally bridged to a cross-instance bus."""

    def __init__(self, queue_size: int = 1000) -> None:
        self._queue_size = queue_size
        self._subs: list[Subscription] = []
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._remote: Callable[[Event], Coroutine[Any, Any, None]] | None = None
        self._remote_loop: asyncio.AbstractEventLoop | None = None

    def subscribe(self, office_id: int | None) -> Subscription:
        """Subscribe (from a coroutine) to one office's events, or all offices with ``None``."""
        sub = Subscription(office_id, asyncio.get_running_loop(), asyncio.Queue(self._queue_size), self)
        with self._lock:
            self._subs.append(sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def publish(self, office_id: int, topic: str, payload: dict[str, Any]) -> Event:
        """Publish from any thread; returns the event with its sequence number."""
        event = Event(office_id, topic, payload, next(self._seq))
        if self._remote is not None and self._remote_loop is not None:
            asyncio.run_coroutine_threadsafe(self._remote(event), self._remote_loop)
        else:
            self.deliver_local(event)
        return event

    def deliver_local(self, event: Event) -> None:
        """Hand an event to this process's subscribers (called by the bus bridge too)."""
        with self._lock:
            targets = [s for s in self._subs if s.office_id in (None, event.office_id)]
        for sub in targets:
            try:
                sub.loop.call_soon_threadsafe(sub._offer, event)
            except RuntimeError:  # the subscriber's loop is closed
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
