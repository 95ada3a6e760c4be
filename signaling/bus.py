"""The message bus between office instances: an ABC, an in-process backend, channel names.

A kiosk connected to one office instance and an agent connected to another talk through the bus:
each instance subscribes to the channel of every party connected to it
(:func:`channel_for_party`) and publishes a relayed message on the recipient's channel. Delivery
is at-most-once (like Redis pub/sub): a message published while nobody listens is lost, which is
what ``resume`` and ``call.state`` recover from.

A subscriber that falls ``max_pending`` messages behind is cut off rather than slowing the
publisher or growing without bound: its iterator raises
:class:`~signaling.errors.SubscriptionOverflow` once the queued messages are consumed; the office
then closes that WebSocket and the client reconnects and resumes.

:func:`open_bus` picks the backend by URL: ``memory://`` or ``redis://host:port/db``.
"""

from __future__ import annotations

import abc
import asyncio
import collections
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self

from signaling.errors import BusClosed, SubscriptionOverflow
from signaling.messages import Role

__all__ = [
    "DEFAULT_MAX_PENDING",
    "Bus",
    "InProcessBus",
    "Subscription",
    "channel_for_instance",
    "channel_for_office_events",
    "channel_for_party",
    "open_bus",
]

DEFAULT_MAX_PENDING = 1000
"""Messages a subscriber may fall behind before it is cut off."""


def channel_for_party(role: Role | str, party_id: str) -> str:
    """The channel an office instance listens on for messages to one agent or kiosk."""
    role = Role(role)
    if role is Role.SERVER:
        raise ValueError("parties are agents or kiosks")
    return f"party.{role}.{party_id}"


def channel_for_office_events(office_id: str) -> str:
    """The channel of live events (queue, boards, presence) for one street office."""
    return f"office.{office_id}.events"


def channel_for_instance(instance_id: str) -> str:
    """The control channel of one office process (e.g. "close the connection you replaced")."""
    return f"instance.{instance_id}"


def _as_bytes(payload: bytes | str) -> bytes:
    return payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)


class Subscription:
    """Messages published on one channel, as an async iterator of ``bytes``; close it when done.

    Created by :meth:`Bus.subscribe`; iteration ends after :meth:`close` (or the bus closing)
    and raises :class:`~signaling.errors.SubscriptionOverflow` if the subscriber was cut off.
    """

    def __init__(
        self,
        channel: str,
        max_pending: int,
        on_close: Callable[[Subscription], Awaitable[None]],
    ) -> None:
        self.channel = channel
        self.max_pending = max_pending
        self._items: collections.deque[bytes] = collections.deque()
        self._wakeup = asyncio.Event()
        self._on_close = on_close
        self.closed = False
        self.overflowed = False

    def deliver(self, payload: bytes) -> bool:
        """Queue one message without blocking; ``False`` if the subscriber cannot take it."""
        if self.closed or self.overflowed:
            return False
        if len(self._items) >= self.max_pending:
            self.overflowed = True
            self._wakeup.set()
            return False
        self._items.append(payload)
        self._wakeup.set()
        return True

    @property
    def pending(self) -> int:
        """Messages queued and not yet read."""
        return len(self._items)

    async def get(self) -> bytes:
        """The next message; raises ``BusClosed`` after close, ``SubscriptionOverflow`` if cut off."""
        while True:
            if self._items:
                return self._items.popleft()
            if self.overflowed:
                raise SubscriptionOverflow(self.channel, self.max_pending)
            if self.closed:
                raise BusClosed(f"subscription to {self.channel!r} is closed")
            self._wakeup.clear()
            await self._wakeup.wait()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self.get()
        except BusClosed:
            raise StopAsyncIteration from None

    def detach(self) -> None:
        """Mark closed and wake the reader, without telling the bus (used by the bus itself)."""
        self.closed = True
        self._items.clear()
        self._wakeup.set()

    async def close(self) -> None:
        """Stop receiving; pending messages are discarded. Idempotent."""
        if self.closed:
            return
        self.detach()
        await self._on_close(self)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class Bus(abc.ABC):
    """Publish/subscribe between office instances (at-most-once, per-channel fan-out), plus a
    small replay log: per-key sequence counters and a bounded tail of payloads by sequence,
    shared by all instances, so a party that reconnects anywhere can ``resume``."""

    @abc.abstractmethod
    async def next_seq(self, key: str) -> int:
        """Increment and return the counter ``key`` (starts at 1)."""

    @abc.abstractmethod
    async def bump_seq(self, key: str, at_least: int) -> None:
        """Raise the counter ``key`` to ``at_least`` if it is lower (after state was lost)."""

    @abc.abstractmethod
    async def log_append(self, key: str, seq: int, payload: str, keep: int) -> None:
        """Add ``payload`` under ``seq`` to the log ``key``, keeping the last ``keep`` entries."""

    @abc.abstractmethod
    async def log_since(self, key: str, after: int) -> list[str]:
        """Payloads of the log ``key`` with a sequence above ``after``, oldest first."""

    @abc.abstractmethod
    async def log_forget(self, key: str) -> None:
        """Drop the counter and log ``key``."""

    @abc.abstractmethod
    async def publish(self, channel: str, payload: bytes | str) -> None:
        """Send ``payload`` to every current subscriber of ``channel`` (on any instance)."""

    @abc.abstractmethod
    async def subscribe(self, channel: str) -> Subscription:
        """Start receiving ``channel``; messages published after this returns are delivered."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release resources and end every subscription. Idempotent."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class InProcessBus(Bus):
    """A bus inside one process (the single-machine default).

    Replay logs of at most ``max_logs`` (party, call) keys are kept; the least recently used go
    first, so calls that never announced their end cannot grow memory without bound.
    """

    def __init__(self, *, max_pending: int = DEFAULT_MAX_PENDING, max_logs: int = 10_000) -> None:
        self.max_pending = max_pending
        self._channels: dict[str, set[Subscription]] = {}
        self._closed = False
        self.max_logs = max_logs
        self._seqs: collections.OrderedDict[str, int] = collections.OrderedDict()
        self._logs: dict[str, collections.deque[tuple[int, str]]] = {}

    def _touch(self, key: str) -> None:
        self._seqs.move_to_end(key)
        while len(self._seqs) > self.max_logs:
            old, _ = self._seqs.popitem(last=False)
            self._logs.pop(old, None)

    async def next_seq(self, key: str) -> int:
        """Increment the in-memory counter."""
        self._seqs[key] = self._seqs.get(key, 0) + 1
        self._touch(key)
        return self._seqs[key]

    async def bump_seq(self, key: str, at_least: int) -> None:
        """Raise the in-memory counter."""
        self._seqs[key] = max(self._seqs.get(key, 0), at_least)
        self._touch(key)

    async def log_append(self, key: str, seq: int, payload: str, keep: int) -> None:
        """Append to a bounded in-memory tail."""
        log = self._logs.setdefault(key, collections.deque())
        log.append((seq, payload))
        while len(log) > keep:
            log.popleft()

    async def log_since(self, key: str, after: int) -> list[str]:
        """Entries above ``after`` in sequence order."""
        return [payload for seq, payload in sorted(self._logs.get(key, ())) if seq > after]

    async def log_forget(self, key: str) -> None:
        """Drop the counter and the tail."""
        self._seqs.pop(key, None)
        self._logs.pop(key, None)

    async def publish(self, channel: str, payload: bytes | str) -> None:
        """Deliver to local subscribers without waiting for any of them."""
        if self._closed:
            raise BusClosed("bus is closed")
        data = _as_bytes(payload)
        for sub in list(self._channels.get(channel, ())):
            if not sub.deliver(data) and sub.overflowed:
                self._forget(sub)

    async def subscribe(self, channel: str) -> Subscription:
        """Subscribe to ``channel``."""
        if self._closed:
            raise BusClosed("bus is closed")
        sub = Subscription(channel, self.max_pending, self._unsubscribe)
        self._channels.setdefault(channel, set()).add(sub)
        return sub

    def subscriber_count(self, channel: str) -> int:
        """How many live subscriptions ``channel`` has."""
        return len(self._channels.get(channel, ()))

    def _forget(self, sub: Subscription) -> None:
        subs = self._channels.get(sub.channel)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._channels[sub.channel]

    async def _unsubscribe(self, sub: Subscription) -> None:
        self._forget(sub)

    async def close(self) -> None:
        """End every subscription."""
        self._closed = True
        for subs in list(self._channels.values()):
            for sub in subs:
                sub.detach()
        self._channels.clear()


def open_bus(url: str, *, prefix: str = "doorstep:", max_pending: int = DEFAULT_MAX_PENDING) -> Bus:
    """A bus for ``url``: ``memory://`` (in-process) or ``redis://`` / ``rediss://`` (Redis pub/sub)."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "memory":
        return InProcessBus(max_pending=max_pending)
    if scheme in ("redis", "rediss", "unix"):
        from signaling.redis_bus import RedisBus

        return RedisBus.from_url(url, prefix=prefix, max_pending=max_pending)
    raise ValueError(f"unsupported bus URL scheme {scheme!r}")
