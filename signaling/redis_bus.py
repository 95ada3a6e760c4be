"""The Redis pub/sub backend of :class:`~signaling.bus.Bus`, for several office instances.

One ``redis.asyncio`` client publishes; one pub/sub connection per bus carries every channel this
instance subscribes to, and a reader task fans messages out to local
:class:`~signaling.bus.Subscription` queues. The replay log uses ``INCR`` counters and sorted
sets keyed by sequence, expiring after a day without use. When Redis goes away the reader reconnects with
capped exponential backoff and subscribes again to every channel; messages published meanwhile
are lost (pub/sub is at-most-once), which ``resume`` covers. Channel names get ``prefix``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from signaling.backoff import Backoff
from signaling.bus import DEFAULT_MAX_PENDING, Bus, Subscription, _as_bytes
from signaling.errors import BusClosed, BusError

__all__ = ["RedisBus"]

logger = logging.getLogger(__name__)

_FAILURES = (RedisError, OSError, asyncio.TimeoutError)
_LOG_TTL = 24 * 3600
_BUMP = """
local v = tonumber(redis.call('GET', KEYS[1]) or '0')
if v < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return 1
"""


class RedisBus(Bus):
    """A bus over Redis pub/sub.

    ``client`` is owned by the bus (closed by :meth:`close`). ``subscribe_timeout`` bounds how
    long :meth:`subscribe` waits for Redis to confirm, so a message published right after it
    returns is delivered.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "doorstep:",
        max_pending: int = DEFAULT_MAX_PENDING,
        subscribe_timeout: float = 5.0,
        backoff: Backoff | None = None,
    ) -> None:
        self._client = client
        self.prefix = prefix
        self.max_pending = max_pending
        self.subscribe_timeout = subscribe_timeout
        self._backoff = backoff or Backoff(initial=0.1, maximum=2.0)
        self._pubsub: Any = client.pubsub()
        self._bump: Any = client.register_script(_BUMP)
        self._subs: dict[str, set[Subscription]] = {}
        self._confirmations: dict[str, asyncio.Future[None]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        self.reconnects = 0

    async def next_seq(self, key: str) -> int:
        """``INCR`` on a key that expires after a day without use."""
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.incr(self.prefix + "seq:" + key)
                pipe.expire(self.prefix + "seq:" + key, _LOG_TTL)
                value, _ = await pipe.execute()
        except _FAILURES as err:
            raise BusError(f"sequence failed: {type(err).__name__}") from err
        return int(value)

    async def bump_seq(self, key: str, at_least: int) -> None:
        """Raise the counter atomically (Lua)."""
        try:
            await self._bump(keys=[self.prefix + "seq:" + key], args=[at_least, _LOG_TTL])
        except _FAILURES as err:
            raise BusError(f"sequence failed: {type(err).__name__}") from err

    async def log_append(self, key: str, seq: int, payload: str, keep: int) -> None:
        """``ZADD`` by sequence, trimmed to ``keep`` entries, expiring after a day."""
        name = self.prefix + "log:" + key
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.zadd(name, {payload: seq})
                pipe.zremrangebyrank(name, 0, -(keep + 1))
                pipe.expire(name, _LOG_TTL)
                await pipe.execute()
        except _FAILURES as err:
            raise BusError(f"log append failed: {type(err).__name__}") from err

    async def log_since(self, key: str, after: int) -> list[str]:
        """``ZRANGEBYSCORE (after +inf``."""
        try:
            items = await self._client.zrangebyscore(self.prefix + "log:" + key, f"({after}", "+inf")
        except _FAILURES as err:
            raise BusError(f"log read failed: {type(err).__name__}") from err
        return [i.decode("utf-8") if isinstance(i, bytes) else str(i) for i in items]

    async def log_forget(self, key: str) -> None:
        """Delete the counter and the log."""
        try:
            await self._client.delete(self.prefix + "seq:" + key, self.prefix + "log:" + key)
        except _FAILURES as err:
            raise BusError(f"log forget failed: {type(err).__name__}") from err

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisBus:
        """A bus on a new client for ``url`` (``redis://host:port/db``)."""
        return cls(aioredis.Redis.from_url(url), **kwargs)

    async def publish(self, channel: str, payload: bytes | str) -> None:
        """Publish on Redis; raises :class:`~signaling.errors.BusError` if Redis is unreachable."""
        if self._closed:
            raise BusClosed("bus is closed")
        try:
            await self._client.publish(self.prefix + channel, _as_bytes(payload))
        except _FAILURES as err:
            raise BusError(f"publish failed: {type(err).__name__}") from err

    async def subscribe(self, channel: str) -> Subscription:
        """Subscribe; returns once Redis confirmed (or raises ``BusError`` after the timeout)."""
        if self._closed:
            raise BusClosed("bus is closed")
        key = self.prefix + channel
        sub = Subscription(channel, self.max_pending, self._unsubscribe)
        async with self._lock:
            local = self._subs.setdefault(key, set())
            local.add(sub)
            if len(local) == 1:
                confirmed = asyncio.get_running_loop().create_future()
                self._confirmations[key] = confirmed
                try:
                    await self._pubsub.subscribe(key)
                    self._start_reader()
                    async with asyncio.timeout(self.subscribe_timeout):
                        await asyncio.shield(confirmed)
                except _FAILURES as err:
                    self._drop(key, sub)
                    raise BusError(f"subscribe failed: {type(err).__name__}") from err
                finally:
                    self._confirmations.pop(key, None)
        return sub

    def _drop(self, key: str, sub: Subscription) -> None:
        local = self._subs.get(key)
        if local is not None:
            local.discard(sub)
            if not local:
                del self._subs[key]

    async def _unsubscribe(self, sub: Subscription) -> None:
        key = self.prefix + sub.channel
        async with self._lock:
            self._drop(key, sub)
            if key not in self._subs and not self._closed:
                with contextlib.suppress(*_FAILURES):
                    await self._pubsub.unsubscribe(key)

    def _start_reader(self) -> None:
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_loop(), name="signaling-redis-bus-reader")

    async def _read_loop(self) -> None:
        delays = self._backoff.delays()
        while not self._closed:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except _FAILURES as err:
                logger.warning("redis bus connection lost (%s); reconnecting", type(err).__name__)
                await asyncio.sleep(next(delays))
                if await self._reconnect():
                    delays = self._backoff.delays()
                continue
            if message is not None:
                self._dispatch(message)

    async def _reconnect(self) -> bool:
        async with self._lock:
            with contextlib.suppress(*_FAILURES):
                await self._pubsub.aclose()
            self._pubsub = self._client.pubsub()
            try:
                if self._subs:
                    await self._pubsub.subscribe(*self._subs)
                else:
                    await self._pubsub.ping()
            except _FAILURES:
                return False
        self.reconnects += 1
        return True

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        channel = message.get("channel")
        key = channel.decode("utf-8", "replace") if isinstance(channel, bytes) else str(channel)
        if kind == "subscribe":
            confirmed = self._confirmations.get(key)
            if confirmed is not None and not confirmed.done():
                confirmed.set_result(None)
            return
        if kind != "message":
            return
        data = message.get("data")
        payload = data if isinstance(data, bytes) else str(data).encode("utf-8")
        for sub in list(self._subs.get(key, ())):
            if not sub.deliver(payload) and sub.overflowed:
                self._drop(key, sub)

    async def close(self) -> None:
        """Stop the reader, end subscriptions, close the Redis connections."""
        if self._closed:
            return
        self._closed = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        for local in self._subs.values():
            for sub in local:
                sub.detach()
        self._subs.clear()
        with contextlib.suppress(*_FAILURES):
            await self._pubsub.aclose()
        with contextlib.suppress(*_FAILURES):
            await self._client.aclose()
