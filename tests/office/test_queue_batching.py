"""Call-next presses arriving together are claimed together (office.batching): the combiner's
batching, per-press outcomes, failures and cancellations; and 30 agents pressing at once through
the HTTP API on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Sequence

import httpx
import pytest

from office.auth import SESSION_COOKIE
from office.batching import Combiner
from office.events import Event
from tests.conftest import TIMEOUT
from tests.office import test_queue_support as support
from tests.office.test_queue_support import QueueHarness

qh, any_qh = support.qh, support.any_qh


class Work:
    """A batch function that records its batches; the first batch blocks until released."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, presses: Sequence[int]) -> list[int | BaseException]:
        self.batches.append(list(presses))
        if len(self.batches) == 1:
            self.started.set()
            assert self.release.wait(TIMEOUT)
        return [ValueError(p) if p < 0 else p * 10 for p in presses]


async def _until_started(work: Work) -> None:
    assert await asyncio.to_thread(work.started.wait, TIMEOUT)


async def test_presses_arriving_during_a_batch_go_together_in_the_next() -> None:
    """The first press runs alone at once; the five that arrive meanwhile form the next batch, in
    arrival order, and each gets its own outcome (an exception for the one that failed)."""
    work = Work()
    combiner: Combiner[int, int] = Combiner(work)
    first = asyncio.create_task(combiner.submit(1))
    await _until_started(work)
    later = [asyncio.create_task(combiner.submit(p)) for p in (2, 3, -4, 5, 6)]
    await asyncio.sleep(0)
    work.release.set()
    assert await first == 10
    outcomes = await asyncio.gather(*later, return_exceptions=True)
    assert work.batches == [[1], [2, 3, -4, 5, 6]]
    assert outcomes[:2] == [20, 30] and outcomes[3:] == [50, 60]
    assert isinstance(outcomes[2], ValueError) and outcomes[2].args == (-4,)
    assert await combiner.submit(7) == 70 and work.batches[-1] == [7]  # idle again: runs at once


async def test_a_failed_batch_fails_its_presses_only() -> None:
    """An error from the batch function reaches every press of that batch; the next batch runs."""
    calls: list[list[int]] = []

    def flaky(presses: Sequence[int]) -> list[int | BaseException]:
        calls.append(list(presses))
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return list(presses)

    combiner: Combiner[int, int] = Combiner(flaky)
    with pytest.raises(RuntimeError, match="database went away"):
        await combiner.submit(1)
    assert await combiner.submit(2) == 2
    assert calls == [[1], [2]]


async def test_a_press_cancelled_before_its_batch_is_left_out_and_nobody_stalls() -> None:
    """Cancelling a queued press (the one due to lead the next batch) drops it; the others still
    get their outcomes from the next batch."""
    work = Work()
    combiner: Combiner[int, int] = Combiner(work)
    first = asyncio.create_task(combiner.submit(1))
    await _until_started(work)
    gone = asyncio.create_task(combiner.submit(2))
    kept = asyncio.create_task(combiner.submit(3))
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.sleep(0)
    work.release.set()
    assert await first == 10
    assert await asyncio.wait_for(kept, TIMEOUT) == 30
    assert gone.cancelled()
    assert work.batches == [[1], [3]]


async def test_thirty_agents_pressing_at_once_through_the_api_get_thirty_tickets(
    any_qh: QueueHarness,
) -> None:
    """30 agents press call-next at the same instant over 30 waiting tickets (plus one agent who is
    not available): 30 distinct offers, one 409, one ``queue.called`` event per ticket, and the
    last counts show nobody waiting."""
    h = any_qh.h
    kiosk = any_qh.kiosk()
    waiting = {any_qh.take(kiosk)["id"] for _ in range(30)}
    sessions = []
    for i in range(31):
        c = any_qh.agent(available=i < 30)
        sessions.append((c.cookies[SESSION_COOKIE], c.headers["X-CSRF-Token"]))
    sub = h.ctx.events.subscribe(h.office_id)
    transport = httpx.ASGITransport(app=h.app)
    http = [
        httpx.AsyncClient(
            transport=transport,
            base_url="http://office",
            cookies={SESSION_COOKIE: cookie},
            headers={"X-CSRF-Token": csrf},
        )
        for cookie, csrf in sessions
    ]
    try:
        replies = await asyncio.wait_for(
            asyncio.gather(*(c.post("/api/queue/call-next") for c in http)), TIMEOUT * 3
        )
        events: list[Event] = []  # delivered from the batch's worker thread: wait for them
        while len({e.payload["ticket_id"] for e in events if e.topic == "queue.called"}) < 30 or not [
            e for e in events if e.topic == "queue.counts" and e.payload["waiting"] == 0
        ]:
            events.append(await asyncio.wait_for(sub.queue.get(), TIMEOUT))
        await asyncio.sleep(0)
        while not sub.queue.empty():
            events.append(sub.queue.get_nowait())
    finally:
        for client in http:
            await client.aclose()
        sub.close()
    assert [r.status_code for r in replies] == [200] * 30 + [409]
    offered = [r.json()["ticket"]["id"] for r in replies[:30]]
    assert set(offered) == waiting
    assert replies[30].json()["error"]["code"] == "agent_not_available"
    called = Counter(e.payload["ticket_id"] for e in events if e.topic == "queue.called")
    assert set(called) == waiting and set(called.values()) == {1}
    counts = [e.payload for e in events if e.topic == "queue.counts"]
    assert counts and counts[-1]["waiting"] == 0
