"""Presence: which agents and kiosks are online, and on which office instance.

``instance_id`` is an opaque holder id naming where the party is connected (the hub uses
``<instance>/<connection id>``). A connection calls :meth:`Presence.set_online` when it is welcomed and again on every heartbeat
(the entry expires after ``ttl`` seconds without a refresh, so a crashed instance's parties
drop out by themselves) and :meth:`Presence.set_offline` when it closes. ``set_offline`` only
removes the entry if it still names the same instance, so an old connection closing late cannot
hide the newer connection that replaced it.

:class:`InMemoryPresence` serves one process (clock injected); :class:`RedisPresence` shares the
view between instances using keys with a TTL plus a sorted set per role, with expiry computed on
the Redis server's clock.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from signaling.messages import Role

__all__ = ["InMemoryPresence", "Presence", "RedisPresence", "open_presence"]

DEFAULT_TTL = 10.0


def _check_role(role: Role | str) -> Role:
    checked = Role(role)
    if checked is Role.SERVER:
        raise ValueError("presence is for agents and kiosks")
    return checked


class Presence(abc.ABC):
    """Online state of agents and kiosks."""

    @abc.abstractmethod
    async def set_online(self, role: Role | str, party_id: str, instance_id: str) -> None:
        """Mark online on ``instance_id`` (or refresh the entry's TTL)."""

    @abc.abstractmethod
    async def set_offline(self, role: Role | str, party_id: str, instance_id: str) -> None:
        """Mark offline, unless a newer entry names another instance."""

    @abc.abstractmethod
    async def where(self, role: Role | str, party_id: str) -> str | None:
        """The instance the party is connected to, or ``None`` when offline."""

    @abc.abstractmethod
    async def online(self, role: Role | str) -> set[str]:
        """Ids of every online party of ``role``."""

    async def is_online(self, role: Role | str, party_id: str) -> bool:
        """Whether the party is online."""
        return await self.where(role, party_id) is not None

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""


class InMemoryPresence(Presence):
    """Presence inside one process; ``clock`` returns seconds (monotonic)."""

    def __init__(self, *, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[tuple[Role, str], tuple[str, float]] = {}

    async def set_online(self, role: Role | str, party_id: str, instance_id: str) -> None:
        """Mark online until ``now + ttl``."""
        self._entries[(_check_role(role), party_id)] = (instance_id, self._clock() + self.ttl)

    async def set_offline(self, role: Role | str, party_id: str, instance_id: str) -> None:
        """Remove the entry if it names ``instance_id``."""
        key = (_check_role(role), party_id)
        entry = self._entries.get(key)
        if entry is not None and entry[0] == instance_id:
            del self._entries[key]

    async def where(self, role: Role | str, party_id: str) -> str | None:
        """The instance, if the entry has not expired."""
        entry = self._entries.get((_check_role(role), party_id))
        if entry is None or entry[1] <= self._clock():
            return None
        return entry[0]

    async def online(self, role: Role | str) -> set[str]:
        """Unexpired ids of ``role``; expired entries are pruned."""
        checked, now = _check_role(role), self._clock()
        for key in [k for k, (_, expiry) in self._entries.items() if expiry <= now]:
            del self._entries[key]
        return {pid for (r, pid) in self._entries if r is checked}


_SET_ONLINE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[3])
return 1
"""

_SET_OFFLINE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
  return 1
end
return 0
"""

_ONLINE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""


class RedisPresence(Presence):
    """Presence shared through Redis; ``client`` is owned (closed by :meth:`close`)."""

    def __init__(
        self, client: aioredis.Redis, *, prefix: str = "doorstep:", ttl: float = DEFAULT_TTL
    ) -> None:
        self._client = client
        self.prefix = prefix
        self.ttl = ttl
        self._set_online: Any = client.register_script(_SET_ONLINE)
        self._set_offline: Any = client.register_script(_SET_OFFLINE)
        self._online: Any = client.register_script(_ONLINE)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisPresence:
        """Presence on a new client for ``url``."""
        return cls(aioredis.Redis.from_url(url), **kwargs)

    def _key(self, role: Role, party_id: str) -> str:
        return f"{self.prefix}presence:{role}:{party_id}"

    def _index(self, role: Role) -> str:
        return f"{self.prefix}presence:{role}"

    async def set_online(self, role: Role | str, party_id: str, instance_id: str) -> None:
        """Set the key with a TTL and the index entry, atomically."""
        checked = _check_role(role)
        keys = [self._key(checked, party_id), self._index(checked)]
        await self._set_online(keys=keys, args=[instance_id, int(self.ttl * 1000), party_id])

    async def set_offline(self, role: Role | str, party_id: str, instance_id: str) -> None:
        """Delete the key and index entry if they still name ``instance_id``, atomically."""
        checked = _check_role(role)
        keys = [self._key(checked, party_id), self._index(checked)]
        await self._set_offline(keys=keys, args=[instance_id, party_id])

    async def where(self, role: Role | str, party_id: str) -> str | None:
        """The instance named by the key, if it has not expired."""
        value = await self._client.get(self._key(_check_role(role), party_id))
        if value is None:
            return None
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)

    async def online(self, role: Role | str) -> set[str]:
        """Ids in the role's index that have not expired (expired ones are pruned)."""
        members = await self._online(keys=[self._index(_check_role(role))])
        return {m.decode("utf-8") if isinstance(m, bytes) else str(m) for m in members}

    async def close(self) -> None:
        """Close the Redis client."""
        await self._client.aclose()


def open_presence(url: str, *, prefix: str = "doorstep:", ttl: float = DEFAULT_TTL) -> Presence:
    """Presence for ``url``: ``memory://`` or ``redis://host:port/db``."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "memory":
        return InMemoryPresence(ttl=ttl)
    if scheme in ("redis", "rediss", "unix"):
        return RedisPresence.from_url(url, prefix=prefix, ttl=ttl)
    raise ValueError(f"unsupported presence URL scheme {scheme!r}")
