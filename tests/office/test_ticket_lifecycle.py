"""The ticket lifecycle: the transition table as whole sequences, and property-based runs against
the database (every step either follows the table or is refused with nothing changed)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from office.audit import Actor
from office.errors import ApiError
from office.models import AgentStatus, Role, Ticket, TicketEvent, TicketState
from office.queue import actions, agents, calling
from office.queue.actions import Caller, Placement
from office.queue.issue import IssueRequest, issue_ticket
from office.queue.lifecycle import (
    ACTIVE_STATES,
    AGENT_TRANSITIONS,
    QUEUED_STATES,
    TERMINAL_STATES,
    TICKET_EVENTS,
    TICKET_TRANSITIONS,
    IllegalTransition,
    agent_next,
    run,
    ticket_next,
)
from tests.office import test_queue_support as support
from tests.office.test_queue_support import QueueHarness

qh = support.qh
S = TicketState


def test_happy_path_sequence() -> None:
    """waiting → offered → ringing → serving → done."""
    assert run(["offer", "ring", "answer", "complete"]) == [
        S.WAITING,
        S.OFFERED,
        S.RINGING,
        S.SERVING,
        S.DONE,
    ]


def test_recall_then_no_show_then_rejoin_sequence() -> None:
    """Two ring timeouts recall the ticket to the queue; the third gives up; the resident rejoins."""
    events = ["offer", "ring", "timeout", "offer", "ring", "timeout", "offer", "ring", "give_up", "rejoin"]
    assert run(events) == [
        S.WAITING,
        S.OFFERED,
        S.RINGING,
        S.RECALLED,
        S.OFFERED,
        S.RINGING,
        S.RECALLED,
        S.OFFERED,
        S.RINGING,
        S.NO_SHOW,
        S.WAITING,
    ]


def test_transfer_and_hold_sequences() -> None:
    """Serving can be held, resumed, transferred and taken by the next agent."""
    assert run(["offer", "answer", "hold", "resume", "transfer", "offer", "answer", "complete"])[-4:] == [
        S.TRANSFERRED,
        S.OFFERED,
        S.SERVING,
        S.DONE,
    ]


def test_every_state_is_reachable_and_terminal_states_are_final() -> None:
    """From waiting every state can be reached; done and left accept nothing; no_show only rejoin."""
    reached = {S.WAITING}
    frontier = [S.WAITING]
    while frontier:
        state = frontier.pop()
        for (src, _event), dst in TICKET_TRANSITIONS.items():
            if src == state and dst not in reached:
                reached.add(dst)
                frontier.append(dst)
    assert reached == set(TicketState)
    for state in TERMINAL_STATES:
        allowed = {e for (src, e) in TICKET_TRANSITIONS if src == state}
        assert allowed == ({"rejoin"} if state == S.NO_SHOW else set())
    assert ACTIVE_STATES.isdisjoint(TERMINAL_STATES) and set(TicketState) == ACTIVE_STATES | TERMINAL_STATES


@given(st.lists(st.sampled_from(sorted(TICKET_EVENTS)), max_size=25))
@settings(max_examples=300)
def test_random_event_sequences_follow_the_table_or_raise(events: list[str]) -> None:
    """Any event sequence: each step is the table's entry, or IllegalTransition and the state stays."""
    state = S.WAITING
    for event in events:
        expected = TICKET_TRANSITIONS.get((state, event))
        if expected is None:
            with pytest.raises(IllegalTransition) as err:
                ticket_next(state, event)
            assert err.value.state == state and err.value.event == event
        else:
            state = ticket_next(state, event)
            assert state == expected


def test_agent_table_only_offers_to_available_agents() -> None:
    """Only an available agent can be offered a ticket; serving agents cannot go offline."""
    offer_from = {src for (src, e) in AGENT_TRANSITIONS if e == "offer"}
    assert offer_from == {AgentStatus.AVAILABLE}
    for state in (AgentStatus.RINGING, AgentStatus.SERVING):
        with pytest.raises(IllegalTransition):
            agent_next(state, "go_offline")


# --- against the database -------------------------------------------------------------------------

ACTIONS = [
    "call",
    "ring",
    "answer",
    "decline",
    "recall",
    "no_show",
    "complete",
    "leave",
    "transfer",
    "hold",
    "resume",
    "rejoin",
    "timeout",
]


def _apply(q: QueueHarness, ticket_id: int, agent_id: int, action: str) -> None:
    ctx = q.h.ctx
    caller = Caller(Actor("user", agent_id), user_id=agent_id, supervisor=True, office_id=q.h.office_id)
    if action == "call":
        agents.set_state(ctx, agent_id, q.h.office_id, AgentStatus.AVAILABLE)
        calling.call_ticket(ctx, agent_id, ticket_id, "property test", caller.actor)
    elif action in ("ring", "answer", "decline", "complete"):
        actions.agent_step(ctx, ticket_id, action, caller)
    elif action == "no_show":
        actions.agent_step(ctx, ticket_id, "mark_no_show", caller)
    elif action == "recall":
        actions.recall(ctx, ticket_id, caller)
    elif action == "leave":
        actions.leave(ctx, ticket_id, caller)
    elif action == "transfer":
        actions.transfer(ctx, ticket_id, caller, service_id=None, agent_id=agent_id, placement=Placement.END)
    elif action == "hold":
        actions.hold(ctx, ticket_id, caller)
    elif action == "resume":
        agents.set_state(ctx, agent_id, q.h.office_id, AgentStatus.AVAILABLE)
        actions.resume(ctx, ticket_id, caller)
    elif action == "rejoin":
        actions.rejoin(ctx, ticket_id, caller)
    elif action == "timeout":
        q.h.clock.advance(seconds=21)
        calling.process_timeouts(ctx)


def _snapshot(q: QueueHarness, ticket_id: int) -> tuple[str, int, int, str | None]:
    with q.h.ctx.read_db() as s:
        t = s.get(Ticket, ticket_id)
        assert t is not None
        n = s.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.ticket_id == ticket_id))
        return t.state, t.version, int(n or 0), t.active_key


@given(
    steps=st.tuples(st.booleans(), st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=12)).map(
        lambda pair: ["call", *pair[1]] if pair[0] else pair[1]
    )
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_action_sequences_on_a_stored_ticket(qh: QueueHarness, steps: list[str]) -> None:
    """Random agent/kiosk/system actions on one stored ticket keep every invariant.

    A refused action (409/403) changes nothing; an accepted one writes exactly one stamped event with
    the table's next state; the resident's active key exists exactly while the ticket is active.
    """
    h = qh.h
    agent_id = qh.new_user(Role.SUPERVISOR)
    t = issue_ticket(
        h.ctx,
        IssueRequest(
            office_id=h.office_id,
            service_id=qh.services["GOV-SSC-APPLY"],
            id_number=support.id_number("19850101", f"{agent_id % 1000:03d}"),
        ),
        Actor("system", "t"),
    ).ticket
    for action in steps:
        before = _snapshot(qh, t.id)
        try:
            _apply(qh, t.id, agent_id, action)
        except ApiError as err:
            refused = err.status
        else:
            refused = 0
        if refused:
            assert 400 <= refused < 500
            assert _snapshot(qh, t.id)[:3] == before[:3], f"{action} refused but changed the ticket"
            continue
        after = _snapshot(qh, t.id)
        if action == "timeout" and before[0] not in (S.OFFERED, S.RINGING):
            assert after == before
            continue
        assert after[2] == before[2] + 1 and after[1] == before[1] + 1
        assert (after[3] is not None) == (after[0] in ACTIVE_STATES)
    # leave nothing with an agent so the next example starts clean
    with h.ctx.read_db() as s:
        state = s.scalar(select(Ticket.state).where(Ticket.id == t.id))
    if state in ACTIVE_STATES:
        actions.leave(
            h.ctx,
            t.id,
            Caller(Actor("user", agent_id), user_id=agent_id, supervisor=True, office_id=h.office_id),
        )
    assert state is not None and (state in ACTIVE_STATES or state in TERMINAL_STATES)
    assert QUEUED_STATES <= ACTIVE_STATES
