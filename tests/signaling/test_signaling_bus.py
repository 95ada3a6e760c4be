"""Bus semantics (in-process and Redis) and presence (in-memory and Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from signaling.bus import (
    Bus,
    InProcessBus,
    channel_for_instance,
    channel_for_office_events,
    channel_for_party,
    open_bus,
)
from signaling.errors import BusClosed, SubscriptionOverflow
from signaling.messages import Role
from signaling.presence import InMemoryPresence, Presence, RedisPresence, open_presence
from signaling.redis_bus import RedisBus


def test_channel_names() -> None:
    """Channel helpers produce stable, distinct names and refuse the server role."""
    assert channel_for_party(Role.KIOSK, "k1") == "party.kiosk.k1"
    assert channel_for_party("agent", "k1") == "party.agent.k1"
    assert channel_for_office_events("o1") == "office.o1.events"
    assert channel_for_instance("i1") == "instance.i1"
    with pytest.raises(ValueError, match="agents or kiosks"):
        channel_for_party(Role.SERVER, "x")


def test_open_bus_rejects_unknown_scheme() -> None:
    """open_bus only knows memory:// and redis:// URLs."""
    with pytest.raises(ValueError, match="unsupported"):
        open_bus("amqp://localhost")
    assert isinstance(open_bus("memory://"), InProcessBus)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def bus_factory(
    request: pytest.FixtureRequest, unique_prefix: str
) -> AsyncIterator[Callable[..., Bus]]:
    """Makes buses of one backend sharing one namespace (two Redis buses = two instances)."""
    made: list[Bus] = []
    shared: InProcessBus | None = None
    if request.param == "redis":
        url: str = request.getfixturevalue("redis_url")

    def make(max_pending: int = 1000) -> Bus:
        nonlocal shared
        if request.param == "memory":
            if shared is None:
                shared = InProcessBus(max_pending=max_pending)
                made.append(shared)
            return shared
        bus = RedisBus.from_url(url, prefix=unique_prefix, max_pending=max_pending)
        made.append(bus)
        return bus

    yield make
    for bus in made:
        await bus.close()


async def _next(sub: AsyncIterator[bytes]) -> bytes:
    return await asyncio.wait_for(sub.__anext__(), 5.0)


async def test_publish_reaches_every_subscriber_across_instances(bus_factory: Callable[..., Bus]) -> None:
    """A message published on one bus instance reaches subscribers on both instances."""
    bus_a, bus_b = bus_factory(), bus_factory()
    sub_a = await bus_a.subscribe("party.kiosk.k1")
    sub_b = await bus_b.subscribe("party.kiosk.k1")
    await bus_b.publish("party.kiosk.k1", "你好")
    await bus_a.publish("party.kiosk.k1", b"\x00raw")
    assert [await _next(sub_a), await _next(sub_a)] == ["你好".encode(), b"\x00raw"]
    assert [await _next(sub_b), await _next(sub_b)] == ["你好".encode(), b"\x00raw"]
    await sub_a.close()
    await sub_b.close()


async def test_channels_are_isolated(bus_factory: Callable[..., Bus]) -> None:
    """A subscriber receives only its channel's messages, in publish order."""
    bus = bus_factory()
    kiosk = await bus.subscribe("party.kiosk.k1")
    agent = await bus.subscribe("party.agent.a1")
    for i in range(20):
        await bus.publish("party.kiosk.k1" if i % 2 else "party.agent.a1", str(i))
    assert [int(await _next(kiosk)) for _ in range(10)] == list(range(1, 20, 2))
    assert [int(await _next(agent)) for _ in range(10)] == list(range(0, 20, 2))
    await kiosk.close()
    await agent.close()


async def test_closed_subscription_ends_iteration(bus_factory: Callable[..., Bus]) -> None:
    """Closing a subscription ends its iterator and stops delivery to it."""
    bus = bus_factory()
    sub = await bus.subscribe("c")
    received: list[bytes] = []
    first = asyncio.Event()

    async def reader() -> None:
        async for item in sub:
            received.append(item)
            first.set()

    task = asyncio.create_task(reader())
    await bus.publish("c", "1")
    await asyncio.wait_for(first.wait(), 5.0)
    await sub.close()
    await asyncio.wait_for(task, 5.0)
    await bus.publish("c", "2")
    assert received == [b"1"]
    with pytest.raises(BusClosed):
        await sub.get()


async def test_slow_subscriber_is_cut_off_without_blocking(bus_factory: Callable[..., Bus]) -> None:
    """A subscriber over max_pending overflows; publishers and other subscribers carry on."""
    bus = bus_factory(max_pending=5)
    slow = await bus.subscribe("c")
    fast = await bus.subscribe("c")
    got: list[bytes] = []
    for i in range(12):
        await bus.publish("c", str(i))
        got.append(await _next(fast))
    assert got == [str(i).encode() for i in range(12)]
    assert [await slow.get() for _ in range(5)] == [str(i).encode() for i in range(5)]
    with pytest.raises(SubscriptionOverflow) as info:
        await slow.get()
    assert info.value.limit == 5
    await slow.close()
    await fast.close()


async def test_bus_close_ends_subscriptions_and_refuses_use(bus_factory: Callable[..., Bus]) -> None:
    """After close, iterators end and publish/subscribe raise BusClosed."""
    bus = bus_factory()
    sub = await bus.subscribe("c")
    await bus.close()
    assert [item async for item in sub] == []
    with pytest.raises(BusClosed):
        await bus.publish("c", "x")
    with pytest.raises(BusClosed):
        await bus.subscribe("c")


async def test_replay_log_sequences_and_tail(bus_factory: Callable[..., Bus]) -> None:
    """Counters are shared by instances; the log keeps the last entries in order; forget drops both."""
    bus_a, bus_b = bus_factory(), bus_factory()
    seqs = [await (bus_a if i % 2 else bus_b).next_seq("kiosk.k1.c1") for i in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    for seq in seqs:
        await bus_a.log_append("kiosk.k1.c1", seq, f"m{seq}", keep=3)
    assert await bus_b.log_since("kiosk.k1.c1", 0) == ["m3", "m4", "m5"]
    assert await bus_b.log_since("kiosk.k1.c1", 4) == ["m5"]
    await bus_b.bump_seq("kiosk.k1.c1", 3)
    assert await bus_a.next_seq("kiosk.k1.c1") == 6
    await bus_b.bump_seq("kiosk.k1.c1", 40)
    assert await bus_a.next_seq("kiosk.k1.c1") == 41
    await bus_a.log_forget("kiosk.k1.c1")
    assert await bus_b.log_since("kiosk.k1.c1", 0) == []
    assert await bus_b.next_seq("kiosk.k1.c1") == 1


async def test_in_process_unsubscribe_forgets_channel() -> None:
    """The in-process bus drops a channel's entry when its last subscriber closes."""
    bus = InProcessBus()
    async with await bus.subscribe("c") as sub:
        assert bus.subscriber_count("c") == 1
        assert sub.pending == 0
    assert bus.subscriber_count("c") == 0
    await bus.close()


@pytest.mark.redis
async def test_redis_bus_reconnects_after_connection_kill(redis_url: str, unique_prefix: str) -> None:
    """After Redis kills the pub/sub connection, the bus resubscribes and delivery resumes."""
    bus = RedisBus.from_url(redis_url, prefix=unique_prefix)
    admin = aioredis.Redis.from_url(redis_url)
    try:
        sub = await bus.subscribe("party.kiosk.k9")
        name = f"{unique_prefix}pubsub"
        await bus._pubsub.execute_command("CLIENT", "SETNAME", name)
        clients = await admin.client_list()
        victims = [c["id"] for c in clients if c.get("name") == name]
        assert victims
        for client_id in victims:
            await admin.client_kill_filter(_id=client_id)
        deadline = asyncio.get_running_loop().time() + 10
        delivered = False
        while not delivered and asyncio.get_running_loop().time() < deadline:
            await bus.publish("party.kiosk.k9", "after")
            try:
                delivered = await asyncio.wait_for(sub.get(), 0.3) == b"after"
            except TimeoutError:
                continue
        assert delivered
        await sub.close()
    finally:
        await bus.close()
        await admin.aclose()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def presence_pair(
    request: pytest.FixtureRequest, unique_prefix: str
) -> AsyncIterator[tuple[Presence, Presence]]:
    """Two presence views of one store (for Redis: two clients, as two office instances would)."""
    if request.param == "memory":
        store = InMemoryPresence(ttl=10.0)
        yield store, store
        return
    url: str = request.getfixturevalue("redis_url")
    a = RedisPresence.from_url(url, prefix=unique_prefix)
    b = RedisPresence.from_url(url, prefix=unique_prefix)
    yield a, b
    admin = aioredis.Redis.from_url(url)
    keys = [k async for k in admin.scan_iter(match=f"{unique_prefix}*")]
    if keys:
        await admin.delete(*keys)
    await admin.aclose()
    await a.close()
    await b.close()


async def test_presence_online_offline(
    presence_pair: tuple[Presence, Presence],
) -> None:
    """A party set online on one view is seen on the other, with its instance; offline removes it."""
    a, b = presence_pair
    await a.set_online(Role.KIOSK, "k1", "inst-a")
    await a.set_online(Role.AGENT, "a1", "inst-a")
    assert await b.is_online(Role.KIOSK, "k1")
    assert await b.where("kiosk", "k1") == "inst-a"
    assert await b.online(Role.KIOSK) == {"k1"}
    assert await b.online(Role.AGENT) == {"a1"}
    await b.set_offline(Role.KIOSK, "k1", "inst-a")
    assert not await a.is_online(Role.KIOSK, "k1")
    assert await a.online(Role.KIOSK) == set()


async def test_presence_offline_from_stale_instance_is_ignored(
    presence_pair: tuple[Presence, Presence],
) -> None:
    """A late set_offline from a replaced instance does not hide the newer connection."""
    a, b = presence_pair
    await a.set_online(Role.KIOSK, "k1", "inst-a")
    await b.set_online(Role.KIOSK, "k1", "inst-b")
    await a.set_offline(Role.KIOSK, "k1", "inst-a")
    assert await a.where(Role.KIOSK, "k1") == "inst-b"
    assert await a.online(Role.KIOSK) == {"k1"}


async def test_in_memory_presence_expires_without_refresh() -> None:
    """An entry not refreshed within ttl drops out; a refresh keeps it."""
    now = [0.0]
    presence = InMemoryPresence(ttl=10.0, clock=lambda: now[0])
    await presence.set_online(Role.KIOSK, "k1", "i")
    await presence.set_online(Role.KIOSK, "k2", "i")
    now[0] = 8.0
    await presence.set_online(Role.KIOSK, "k2", "i")
    now[0] = 12.0
    assert await presence.online(Role.KIOSK) == {"k2"}
    assert not await presence.is_online(Role.KIOSK, "k1")


@pytest.mark.redis
async def test_redis_presence_expires_on_server_clock(redis_url: str, unique_prefix: str) -> None:
    """Redis entries expire after ttl without refresh (TTL keys and the pruned index)."""
    presence = RedisPresence.from_url(redis_url, prefix=unique_prefix, ttl=0.2)
    try:
        await presence.set_online(Role.AGENT, "a1", "i")
        assert await presence.online(Role.AGENT) == {"a1"}
        await asyncio.sleep(0.3)  # Redis expires keys on its own clock; no fake clock reaches it
        assert await presence.where(Role.AGENT, "a1") is None
        assert await presence.online(Role.AGENT) == set()
    finally:
        await presence.close()


def test_open_presence_schemes() -> None:
    """open_presence builds the in-memory backend and refuses unknown schemes."""
    assert isinstance(open_presence("memory://"), InMemoryPresence)
    with pytest.raises(ValueError, match="unsupported"):
        open_presence("etcd://x")


async def test_in_process_replay_logs_are_bounded() -> None:
    """The in-process bus keeps at most max_logs replay logs, dropping the least recently used."""
    bus = InProcessBus(max_logs=2)
    for key in ("a", "b"):
        await bus.log_append(key, await bus.next_seq(key), f"{key}1", keep=4)
    await bus.next_seq("a")  # "a" is now the most recently used
    await bus.log_append("c", await bus.next_seq("c"), "c1", keep=4)
    assert await bus.log_since("b", 0) == []
    assert await bus.log_since("a", 0) == ["a1"]
    assert await bus.log_since("c", 0) == ["c1"]
    await bus.close()
