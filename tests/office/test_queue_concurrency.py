"""Real concurrent connections on SQLite and PostgreSQL: unique numbers, one winner per call-next.

Each worker thread runs the office's own service functions with its own pooled connection, started
together behind a barrier; the invariants are checked in the database afterwards.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import func, select

from office.audit import Actor
from office.models import AgentState, AgentStatus, Priority, Role, Ticket, TicketEvent
from office.queue import actions, agents, calling
from office.queue.actions import Caller
from office.queue.claim import Press
from office.queue.issue import IssueRequest, issue_ticket
from office.queue.numbering import business_date, format_number
from tests.conftest import TIMEOUT
from tests.office import test_queue_support as support
from tests.office.test_queue_support import QueueHarness, id_number

qh, any_qh = support.qh, support.any_qh

T = TypeVar("T")


def _together(n: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(i)`` for i < n on n threads released at once; re-raise any worker error."""
    barrier = threading.Barrier(n, timeout=TIMEOUT * 3)

    def run(i: int) -> T:
        barrier.wait()
        return work(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n), timeout=TIMEOUT * 12))


def _bulk_waiting(q: QueueHarness, service_id: int, n: int) -> None:
    """``n`` waiting tickets inserted in one transaction (the subject here is call-next, not issue)."""
    now = q.h.clock.now()
    day = business_date(now, "Asia/Shanghai")
    with q.h.ctx.db() as s, s.begin():
        s.add_all(
            Ticket(
                office_id=q.h.office_id,
                station_id=q.h.station_id,
                service_id=service_id,
                service_version=1,
                queue_prefix="A",
                business_date=day,
                number=i,
                display_number=format_number("A", i),
                state="waiting",
                priority=Priority.NORMAL,
                order_at=now + timedelta(seconds=i),
                queued_at=now,
                issued_at=now,
            )
            for i in range(1, n + 1)
        )


def test_500_simultaneous_requests_from_10_kiosks_get_500_distinct_numbers(any_qh: QueueHarness) -> None:
    """50 threads × 10 requests across 10 kiosks: 500 tickets, 500 distinct numbers A001…A500, no gaps."""
    h = any_qh.h
    tokens = [any_qh.kiosk_token() for _ in range(10)]
    assert len(tokens) == 10
    from office.models import Kiosk

    with h.ctx.read_db() as s:
        kiosk_ids = list(s.scalars(select(Kiosk.id).order_by(Kiosk.id)))
    service_id = any_qh.services["GOV-SSC-APPLY"]

    def work(i: int) -> list[str]:
        kiosk = kiosk_ids[i % 10]
        numbers = []
        for _ in range(10):
            req = IssueRequest(
                office_id=h.office_id, station_id=h.station_id, kiosk_id=kiosk, service_id=service_id
            )
            numbers.append(issue_ticket(h.ctx, req, Actor("kiosk", kiosk)).ticket.display_number)
        return numbers

    numbers = [n for chunk in _together(50, work) for n in chunk]
    assert len(numbers) == 500 and len(set(numbers)) == 500
    assert sorted(numbers) == [f"A{i:03d}" for i in range(1, 501)]
    with h.ctx.read_db() as s:
        assert s.scalar(select(func.count(func.distinct(Ticket.number)))) == 500


def test_concurrent_retries_and_duplicate_residents_yield_one_ticket(any_qh: QueueHarness) -> None:
    """20 racing retries with one Idempotency-Key, and 20 racing requests for one resident: one ticket each."""
    h = any_qh.h
    service_id = any_qh.services["GOV-SSC-APPLY"]
    resident = id_number("19800101")

    def work(i: int) -> int:
        if i % 2:
            req = IssueRequest(
                office_id=h.office_id,
                user_id=None,
                kiosk_id=None,
                service_id=service_id,
                idempotency_key="retry-key-1",
            )
        else:
            req = IssueRequest(
                office_id=h.office_id, service_id=service_id, id_number=resident, idempotency_key=None
            )
        return issue_ticket(h.ctx, req, Actor("system", "test")).ticket.id

    ids = _together(40, work)
    assert len(set(ids[1::2])) == 1 and len(set(ids[0::2])) == 1
    with h.ctx.read_db() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 2
        assert s.scalar(select(func.max(Ticket.number))) == 2  # no number burnt by a lost race


def test_50_agents_calling_at_once_over_200_tickets_never_share_one_and_leave_none_stuck(
    any_qh: QueueHarness,
) -> None:
    """50 agents loop call-next → answer → complete → available until the queue is empty.

    Every ticket is offered exactly once, ends done, and every agent ends available.
    """
    h = any_qh.h
    service_id = any_qh.services["GOV-SSC-APPLY"]
    _bulk_waiting(any_qh, service_id, 200)
    agent_ids = [any_qh.new_user(Role.AGENT) for _ in range(50)]
    for uid in agent_ids:
        agents.set_state(h.ctx, uid, h.office_id, AgentStatus.AVAILABLE)

    def work(i: int) -> list[int]:
        uid = agent_ids[i]
        caller = Caller(Actor("user", uid), user_id=uid, office_id=h.office_id)
        served: list[int] = []
        while True:
            t = calling.call_next(h.ctx, uid, h.office_id)
            if t is None:
                return served
            actions.agent_step(h.ctx, t.id, "answer", caller)
            actions.agent_step(h.ctx, t.id, "complete", caller)
            agents.set_state(h.ctx, uid, h.office_id, AgentStatus.AVAILABLE)
            served.append(t.id)

    served = [tid for chunk in _together(50, work) for tid in chunk]
    assert len(served) == 200 and len(set(served)) == 200
    with h.ctx.read_db() as s:
        offers = Counter(s.scalars(select(TicketEvent.ticket_id).where(TicketEvent.event == "offer")))
        states = Counter(s.scalars(select(Ticket.state)))
        agent_states = Counter(s.scalars(select(AgentState.state)))
    assert len(offers) == 200 and set(offers.values()) == {1}
    assert states == {"done": 200}
    assert agent_states == {"available": 50}


def test_one_agent_pressing_twice_gets_one_ticket(any_qh: QueueHarness) -> None:
    """Two racing call-next requests from the same agent: one offer, the other refused with 409."""
    h = any_qh.h
    service_id = any_qh.services["GOV-SSC-APPLY"]
    for _ in range(3):
        issue_ticket(h.ctx, IssueRequest(office_id=h.office_id, service_id=service_id), Actor("system", "t"))
    uid = any_qh.new_user(Role.AGENT)
    agents.set_state(h.ctx, uid, h.office_id, AgentStatus.AVAILABLE)

    def work(_: int) -> str:
        try:
            t = calling.call_next(h.ctx, uid, h.office_id)
        except Exception as err:  # the loser's ApiError
            return getattr(err, "code", type(err).__name__)
        return "offered" if t is not None else "none"

    assert sorted(_together(2, work)) == ["agent_not_available", "offered"]
    with h.ctx.read_db() as s:
        assert s.scalar(select(func.count()).select_from(Ticket).where(Ticket.state == "offered")) == 1


def test_batches_and_single_presses_racing_never_share_a_ticket_and_leave_none_stuck(
    any_qh: QueueHarness,
) -> None:
    """5 threads each claim for a batch of 6 agents (as 5 office processes batching their presses)
    while 20 agents press alone, all looping until 200 tickets are served: every ticket is offered
    exactly once and ends done; every agent ends available."""
    h = any_qh.h
    _bulk_waiting(any_qh, any_qh.services["GOV-SSC-APPLY"], 200)
    agent_ids = [any_qh.new_user(Role.AGENT) for _ in range(50)]
    for uid in agent_ids:
        agents.set_state(h.ctx, uid, h.office_id, AgentStatus.AVAILABLE)

    def serve(uid: int, t: Ticket) -> None:
        caller = Caller(Actor("user", uid), user_id=uid, office_id=h.office_id)
        actions.agent_step(h.ctx, t.id, "answer", caller)
        actions.agent_step(h.ctx, t.id, "complete", caller)
        agents.set_state(h.ctx, uid, h.office_id, AgentStatus.AVAILABLE)

    def work(i: int) -> list[int]:
        served: list[int] = []
        if i < 5:
            team = agent_ids[30 + 4 * i : 30 + 4 * i + 4] + agent_ids[20 + 2 * i : 20 + 2 * i + 2]
            while True:
                got = calling.call_next_many(h.ctx, [Press(uid, h.office_id) for uid in team])
                tickets = [(uid, t) for uid, t in zip(team, got, strict=True) if isinstance(t, Ticket)]
                assert not [t for t in got if isinstance(t, Exception)]
                if not tickets:
                    return served
                for uid, t in tickets:
                    serve(uid, t)
                    served.append(t.id)
        uid = agent_ids[i - 5]
        while True:
            single = calling.call_next(h.ctx, uid, h.office_id)
            if single is None:
                return served
            serve(uid, single)
            served.append(single.id)

    served = [tid for chunk in _together(25, work) for tid in chunk]
    assert len(served) == 200 and len(set(served)) == 200
    with h.ctx.read_db() as s:
        offers = Counter(s.scalars(select(TicketEvent.ticket_id).where(TicketEvent.event == "offer")))
        states = Counter(s.scalars(select(Ticket.state)))
        agent_states = Counter(s.scalars(select(AgentState.state)))
    assert len(offers) == 200 and set(offers.values()) == {1}
    assert states == {"done": 200}
    assert agent_states == {"available": 50}
