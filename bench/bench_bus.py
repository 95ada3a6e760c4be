"""Signaling throughput and latency: parse/serialize, in-process bus, Redis bus.

Prints one JSON line per figure. Each figure comes with a baseline measured in the same run on the
same machine (plain ``json``, a bare ``asyncio.Queue``, raw redis-py pub/sub), so the overhead of the
signaling layer is visible regardless of machine speed. Redis figures are skipped (with a line
saying so) when ``OFFICE_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``) does not answer.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
import uuid
from typing import Any, cast

import redis.asyncio as aioredis

from signaling.bus import InProcessBus
from signaling.messages import Candidate, IceCandidate, parse, serialize
from signaling.redis_bus import RedisBus

N_PARSE = 20_000
N_BUS = 20_000
N_LATENCY = 500
REDIS_URL = os.environ.get("OFFICE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

FRAME = serialize(
    Candidate(
        call_id="call-20261122-0001",
        seq=12,
        candidate=IceCandidate(
            candidate="candidate:1 1 udp 2122260223 192.168.1.20 54321 typ host",
            sdp_mid="0",
            sdp_m_line_index=0,
        ),
    )
)


def emit(name: str, **figures: object) -> None:
    print(json.dumps({"bench": "bus", "name": name, **figures}, ensure_ascii=False), flush=True)


def bench_parse() -> None:
    start = time.perf_counter()
    for _ in range(N_PARSE):
        serialize(parse(FRAME))
    ours = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(N_PARSE):
        json.dumps(json.loads(FRAME))
    base = time.perf_counter() - start
    emit(
        "parse+serialize candidate",
        per_s=round(N_PARSE / ours),
        baseline_json_per_s=round(N_PARSE / base),
        overhead_x=round(ours / base, 1),
        us_per_msg=round(ours / N_PARSE * 1e6, 1),
    )


async def bench_inprocess() -> None:
    bus = InProcessBus(max_pending=N_BUS + 1)
    sub = await bus.subscribe("c")
    payload = FRAME.encode()
    start = time.perf_counter()
    for _ in range(N_BUS):
        await bus.publish("c", payload)
    for _ in range(N_BUS):
        await sub.get()
    ours = time.perf_counter() - start
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    start = time.perf_counter()
    for _ in range(N_BUS):
        queue.put_nowait(payload)
    for _ in range(N_BUS):
        await queue.get()
    base = time.perf_counter() - start
    await bus.close()
    emit(
        "in-process bus publish+receive",
        per_s=round(N_BUS / ours),
        baseline_queue_per_s=round(N_BUS / base),
        overhead_x=round(ours / base, 1),
    )


async def _latencies(publish, receive) -> list[float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(N_LATENCY):
        start = time.perf_counter()
        await publish()
        await receive()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def _pcts(samples: list[float]) -> dict[str, float]:
    qs = statistics.quantiles(samples, n=100)
    return {"p50_ms": round(qs[49], 3), "p95_ms": round(qs[94], 3), "p99_ms": round(qs[98], 3)}


async def bench_redis() -> None:
    probe = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await probe.ping()
    except Exception as err:  # unreachable: say so and stop
        emit("redis bus", skipped=f"Redis unreachable at {REDIS_URL} ({type(err).__name__})")
        await probe.aclose()
        return
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    a, b = RedisBus.from_url(REDIS_URL, prefix=prefix), RedisBus.from_url(REDIS_URL, prefix=prefix)
    sub = await b.subscribe("party.kiosk.k1")
    ours = await _latencies(lambda: a.publish("party.kiosk.k1", FRAME), sub.get)
    raw = probe.pubsub()
    await raw.subscribe(prefix + "raw")
    await raw.get_message(timeout=1.0)

    async def raw_receive() -> None:
        while await raw.get_message(ignore_subscribe_messages=True, timeout=1.0) is None:
            pass

    base = await _latencies(lambda: probe.publish(prefix + "raw", FRAME), raw_receive)
    emit("redis bus round trip (instance A → instance B)", n=N_LATENCY, **_pcts(ours))
    emit("redis raw pub/sub round trip (baseline)", n=N_LATENCY, **_pcts(base))
    await sub.close()
    await cast(Any, raw).aclose()  # untyped in some redis-py releases, typed in others
    await a.close()
    await b.close()
    await probe.aclose()


async def main() -> None:
    bench_parse()
    await bench_inprocess()
    await bench_redis()


if __name__ == "__main__":
    asyncio.run(main())
