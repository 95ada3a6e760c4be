"""The call-next claim (fixed SQL in office.queue.claim) on SQLite and PostgreSQL: it offers exactly
the ticket the reference ordering picks (office.queue.ordering.sql_order with
office.queue.calling.eligible_services_clause), across priorities, starving tickets, skills and
transfers to named agents; it refuses agents that are not available or of another office without
changing anything; it applies the office's stored ring timeout. A batch of presses
(office.queue.claim.claim_many) gets, press by press, what each would get alone in turn."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, or_, select, update

from office.audit import Actor
from office.errors import ApiError
from office.models import (
    AgentSkill,
    AgentState,
    AgentStatus,
    Office,
    Priority,
    QueueSettings,
    Role,
    Service,
    Ticket,
    TicketEvent,
)
from office.queue import actions, agents, calling, claim
from office.queue.actions import Caller
from office.queue.calling import eligible_services_clause
from office.queue.claim import BATCH_SLACK, Press
from office.queue.config import QueueConfig
from office.queue.lifecycle import QUEUED_STATES
from office.queue.numbering import business_date, format_number
from office.queue.ordering import sql_order
from tests.office import test_queue_support as support
from tests.office.test_queue_support import QueueHarness

qh, any_qh = support.qh, support.any_qh

BOUND_MIN = QueueConfig(office_id=0).max_wait_bound_min


def _reference_pick(q: QueueHarness, agent_id: int, taken: frozenset[int] = frozenset()) -> int | None:
    """The ticket the ORM-expressed rules put first for ``agent_id``, ``taken`` left out (no
    locking: tests only)."""
    now = q.h.clock.now()
    with q.h.ctx.read_db() as s:
        return s.scalar(
            select(Ticket.id)
            .where(
                Ticket.office_id == q.h.office_id,
                Ticket.state.in_(QUEUED_STATES),
                Ticket.id.not_in(taken),
                or_(Ticket.target_agent_id.is_(None), Ticket.target_agent_id == agent_id),
                eligible_services_clause(agent_id),
            )
            .order_by(*sql_order(now, BOUND_MIN))
            .limit(1)
        )


def _seed_tickets(
    q: QueueHarness, rng: random.Random, service_ids: list[int], targets: list[int], n: int
) -> None:
    """``n`` queued tickets with random services, priorities, ages, states and named targets."""
    now = q.h.clock.now()
    day = business_date(now, "Asia/Shanghai")
    with q.h.ctx.db() as s, s.begin():
        for i in range(1, n + 1):
            queued_at = now - timedelta(
                minutes=rng.choice([1, 5, 20, BOUND_MIN - 1, BOUND_MIN, BOUND_MIN + 30])
            )
            s.add(
                Ticket(
                    office_id=q.h.office_id,
                    station_id=q.h.station_id,
                    service_id=rng.choice(service_ids),
                    service_version=1,
                    queue_prefix="A",
                    business_date=day,
                    number=i,
                    display_number=format_number("A", i),
                    state=rng.choice(sorted(QUEUED_STATES)),
                    priority=rng.choice(
                        [
                            Priority.RECALLED,
                            Priority.APPOINTMENT,
                            Priority.STATUTORY,
                            Priority.NORMAL,
                            Priority.NORMAL,
                        ]
                    ),
                    # Ties in order_at are broken by id.
                    order_at=now - timedelta(minutes=rng.randrange(0, 90, 3)),
                    queued_at=queued_at,
                    issued_at=queued_at,
                    target_agent_id=rng.choice([None, None, None, *targets]),
                )
            )


@pytest.mark.parametrize("seed", [7, 2026])
def test_claim_offers_exactly_the_ticket_the_reference_ordering_picks(
    any_qh: QueueHarness, seed: int
) -> None:
    """Random queues: each press offers the reference pick, stamps one offer event, moves the agent."""
    rng = random.Random(seed)
    h = any_qh.h
    services = [any_qh.services[c] for c in sorted(any_qh.services)[:6]]
    with h.ctx.db() as s, s.begin():
        s.execute(update(Service).where(Service.id.in_(services[:2])).values(skill="social_security"))
        s.execute(update(Service).where(Service.id.in_(services[2:4])).values(skill="legal"))
        s.execute(update(Service).where(Service.id.in_(services[4:])).values(skill=""))
    generalist, social, legal = (any_qh.new_user(Role.AGENT) for _ in range(3))
    with h.ctx.db() as s, s.begin():
        s.add(AgentSkill(user_id=social, skill="social_security"))
        s.add(AgentSkill(user_id=legal, skill="legal"))
    team = [generalist, social, legal]
    _seed_tickets(any_qh, rng, services, team, 40)
    for uid in team:
        agents.set_state(h.ctx, uid, h.office_id, AgentStatus.AVAILABLE, window_no=uid % 90 + 1)
    presses = 0
    while True:
        uid = rng.choice(team)
        expected = _reference_pick(any_qh, uid)
        offered = calling.call_next(h.ctx, uid, h.office_id)
        assert (offered.id if offered else None) == expected
        if offered is None:
            team.remove(uid)
            if not team:
                break
            continue
        presses += 1
        assert offered.state == "offered" and offered.agent_id == uid and offered.target_agent_id is None
        assert offered.window_no == uid % 90 + 1
        assert offered.ring_deadline == h.clock.now() + timedelta(seconds=20)
        caller = Caller(Actor("user", uid), user_id=uid, office_id=h.office_id)
        with h.ctx.read_db() as s:
            assert s.scalar(select(AgentState.state).where(AgentState.user_id == uid)) == "ringing"
            assert (
                s.scalar(select(AgentState.current_ticket_id).where(AgentState.user_id == uid)) == offered.id
            )
        actions.agent_step(h.ctx, offered.id, "answer", caller)
        actions.agent_step(h.ctx, offered.id, "complete", caller)
        agents.set_state(h.ctx, uid, h.office_id, AgentStatus.AVAILABLE)
        h.clock.advance(seconds=rng.choice([5, 60, 600]))
    with h.ctx.read_db() as s:
        offers = s.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.event == "offer"))
        left = s.scalar(select(func.count()).select_from(Ticket).where(Ticket.state.in_(QUEUED_STATES)))
    assert offers == presses and presses > 0
    # Whatever stays queued is out of reach of these agents' skills (nobody may take it).
    assert left is not None and presses + left == 40


def test_refusals_change_nothing(any_qh: QueueHarness) -> None:
    """Not available → 409 naming the state; another office's agent → 403; empty queue → None."""
    h = any_qh.h
    _seed_tickets(any_qh, random.Random(1), [any_qh.services["GOV-SSC-APPLY"]], [], 2)
    uid = any_qh.new_user(Role.AGENT)
    with pytest.raises(ApiError) as err:  # never set a state: no agent row at all
        calling.call_next(h.ctx, uid, h.office_id)
    assert err.value.status == 409 and "offline" in err.value.message
    agents.set_state(h.ctx, uid, h.office_id, AgentStatus.PAUSED, reason="lunch")
    with pytest.raises(ApiError) as err:
        calling.call_next(h.ctx, uid, h.office_id)
    assert err.value.status == 409 and "paused" in err.value.message
    with h.ctx.db() as s, s.begin():
        other = Office(code="T2", name="别的街道", name_en="Other")
        s.add(other)
        s.flush()
        other_id = other.id
    stranger = any_qh.new_user(Role.AGENT, office_id=other_id)
    agents.set_state(h.ctx, stranger, other_id, AgentStatus.AVAILABLE)
    with pytest.raises(ApiError) as err:
        calling.call_next(h.ctx, stranger, h.office_id)
    assert err.value.status == 403
    with h.ctx.read_db() as s:
        assert s.scalar(select(func.count()).select_from(TicketEvent)) == 0
        assert set(s.scalars(select(Ticket.state))) <= {s.value for s in QUEUED_STATES}
        assert s.scalar(select(AgentState.state).where(AgentState.user_id == stranger)) == "available"


def test_empty_queue_leaves_the_agent_available(any_qh: QueueHarness) -> None:
    """Nothing waiting: None, and the agent is still available (nothing written)."""
    h = any_qh.h
    uid = any_qh.new_user(Role.AGENT)
    agents.set_state(h.ctx, uid, h.office_id, AgentStatus.AVAILABLE)
    assert calling.call_next(h.ctx, uid, h.office_id) is None
    with h.ctx.read_db() as s:
        assert s.scalar(select(AgentState.state).where(AgentState.user_id == uid)) == "available"


def test_stored_ring_timeout_and_first_call_are_kept(any_qh: QueueHarness) -> None:
    """The office's ring timeout sets the deadline; a re-offer keeps the first call time."""
    h = any_qh.h
    with h.ctx.db() as s, s.begin():
        s.add(QueueSettings(office_id=h.office_id, ring_timeout_s=45))
    _seed_tickets(any_qh, random.Random(3), [any_qh.services["GOV-SSC-APPLY"]], [], 1)
    uid = any_qh.new_user(Role.AGENT)
    agents.set_state(h.ctx, uid, h.office_id, AgentStatus.AVAILABLE)
    first = calling.call_next(h.ctx, uid, h.office_id)
    assert first is not None and first.ring_deadline == h.clock.now() + timedelta(seconds=45)
    caller = Caller(Actor("user", uid), user_id=uid, office_id=h.office_id)
    actions.agent_step(h.ctx, first.id, "decline", caller)
    agents.set_state(h.ctx, uid, h.office_id, AgentStatus.AVAILABLE)
    h.clock.advance(minutes=3)
    again = calling.call_next(h.ctx, uid, h.office_id)
    assert again is not None and again.id == first.id and again.version == first.version + 2
    assert again.first_called_at == first.called_at and again.called_at == h.clock.now()


def _skilled_team(q: QueueHarness) -> tuple[list[int], list[int]]:
    """Six services in three skills, and agents: two generalists, one per skill; returns (services, team)."""
    services = [q.services[c] for c in sorted(q.services)[:6]]
    with q.h.ctx.db() as s, s.begin():
        s.execute(update(Service).where(Service.id.in_(services[:2])).values(skill="social_security"))
        s.execute(update(Service).where(Service.id.in_(services[2:4])).values(skill="legal"))
        s.execute(update(Service).where(Service.id.in_(services[4:])).values(skill=""))
    team = [q.new_user(Role.AGENT) for _ in range(4)]
    with q.h.ctx.db() as s, s.begin():
        s.add(AgentSkill(user_id=team[2], skill="social_security"))
        s.add(AgentSkill(user_id=team[3], skill="legal"))
    return services, team


@pytest.mark.parametrize("seed", [11, 2027])
def test_a_batch_of_presses_gets_what_each_press_would_get_in_turn(any_qh: QueueHarness, seed: int) -> None:
    """Batches of presses (agents with and without skills, named targets, a paused agent, an agent
    pressing twice): press k gets the reference pick with the batch's earlier picks left out, or the
    refusal it would get alone; every offer is stamped once and moves its agent."""
    rng = random.Random(seed)
    h = any_qh.h
    services, team = _skilled_team(any_qh)
    paused = any_qh.new_user(Role.AGENT)
    _seed_tickets(any_qh, rng, services, team, 60)
    for uid in team:
        agents.set_state(h.ctx, uid, h.office_id, AgentStatus.AVAILABLE, window_no=uid % 90 + 1)
    agents.set_state(h.ctx, paused, h.office_id, AgentStatus.PAUSED, reason="lunch")
    offered_total = 0
    for _ in range(40):
        batch = [uid for uid in team if rng.random() < 0.8] + [paused]
        batch.append(rng.choice(batch))  # one agent presses twice
        rng.shuffle(batch)
        expected: list[int | str | None] = []
        taken: set[int] = set()
        state = dict.fromkeys(team, "available") | {paused: "paused"}
        for uid in batch:
            if state[uid] != "available":
                expected.append("agent_not_available")
                continue
            pick = _reference_pick(any_qh, uid, frozenset(taken))
            expected.append(pick)
            if pick is not None:
                taken.add(pick)
                state[uid] = "ringing"
        got = calling.call_next_many(h.ctx, [Press(uid, h.office_id) for uid in batch])
        assert [g.code if isinstance(g, ApiError) else (g.id if g else None) for g in got] == expected
        for uid, g in zip(batch, got, strict=True):
            if isinstance(g, Ticket):
                assert g.state == "offered" and g.agent_id == uid and g.window_no == uid % 90 + 1
                assert g.ring_deadline == h.clock.now() + timedelta(seconds=20)
                caller = Caller(Actor("user", uid), user_id=uid, office_id=h.office_id)
                actions.agent_step(h.ctx, g.id, "answer", caller)
                actions.agent_step(h.ctx, g.id, "complete", caller)
                agents.set_state(h.ctx, uid, h.office_id, AgentStatus.AVAILABLE)
        offered_total += len(taken)
        h.clock.advance(seconds=rng.choice([5, 60, 600]))
        if not taken:
            break
    with h.ctx.read_db() as s:
        offers = s.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.event == "offer"))
        left = s.scalar(select(func.count()).select_from(Ticket).where(Ticket.state.in_(QUEUED_STATES)))
        assert s.scalar(select(AgentState.state).where(AgentState.user_id == paused)) == "paused"
    assert offers == offered_total and offered_total > 0
    assert left is not None and offered_total + left == 60


def test_a_press_whose_ticket_lies_beyond_the_batch_head_still_gets_it(any_qh: QueueHarness) -> None:
    """A legal specialist whose only ticket sits behind more social-security tickets than the batch
    reads at the head gets it (the single claim looks further); the generalist gets the first."""
    h = any_qh.h
    services, team = _skilled_team(any_qh)
    generalist, legal = team[0], team[3]
    behind = BATCH_SLACK + 10
    now = h.clock.now()
    with h.ctx.db() as s, s.begin():
        for i in range(1, behind + 2):
            s.add(
                Ticket(
                    office_id=h.office_id,
                    station_id=h.station_id,
                    service_id=services[2] if i == behind + 1 else services[0],
                    service_version=1,
                    queue_prefix="A",
                    business_date=business_date(now, "Asia/Shanghai"),
                    number=i,
                    display_number=format_number("A", i),
                    state="waiting",
                    priority=Priority.NORMAL,
                    order_at=now + timedelta(seconds=i),
                    queued_at=now,
                    issued_at=now,
                )
            )
    for uid in (generalist, legal):
        agents.set_state(h.ctx, uid, h.office_id, AgentStatus.AVAILABLE)
    first, last = _reference_pick(any_qh, generalist), _reference_pick(any_qh, legal)
    got = calling.call_next_many(h.ctx, [Press(legal, h.office_id), Press(generalist, h.office_id)])
    assert [g.id if isinstance(g, Ticket) else g for g in got] == [last, first]
    with h.ctx.read_db() as s:
        assert s.scalar(select(Ticket.number).where(Ticket.id == last)) == behind + 1


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_a_batch_write_that_cannot_complete_keeps_nothing(
    any_qh: QueueHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL batch: one pairing made stale (its version no longer matches) makes the write's
    guard fail the statement; the transaction rolls back (no ticket, agent or event changed) and
    the pooled connection serves the next batch."""
    h = any_qh.h
    _seed_tickets(any_qh, random.Random(5), [any_qh.services["GOV-SSC-APPLY"]], [], 3)
    team = [any_qh.new_user(Role.AGENT) for _ in range(2)]
    for uid in team:
        agents.set_state(h.ctx, uid, h.office_id, AgentStatus.AVAILABLE)
    real_pair = claim._pair

    def stale_last(*args: Any) -> list[tuple[int, int, dict[str, Any]]]:
        pairs = real_pair(*args)
        i, agent, row = pairs[-1]
        pairs[-1] = (i, agent, {**row, "version": row["version"] + 7})
        return pairs

    monkeypatch.setattr(claim, "_pair", stale_last)
    presses = [Press(uid, h.office_id) for uid in team]
    with pytest.raises(psycopg.errors.DivisionByZero):
        claim.claim_many(h.ctx, presses, h.clock.now())
    with h.ctx.read_db() as s:
        assert s.scalar(select(func.count()).select_from(TicketEvent)) == 0
        assert set(s.scalars(select(Ticket.state))) <= {s.value for s in QUEUED_STATES}
        assert set(s.scalars(select(AgentState.state))) == {"available"}
    monkeypatch.undo()
    got = claim.claim_many(h.ctx, presses, h.clock.now())
    assert all(isinstance(g, claim.Claimed) and g.ticket is not None for g in got)
