"""Calling through the HTTP API: order, skills, agent states, ring timeouts, recalls, transfers,
holds, out-of-order calls, rejoin, and the live events a console or board receives."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from office.models import AuditEvent, Role, TicketEvent
from office.queue import calling
from tests.office import test_queue_support as support
from tests.office.test_queue_support import ELDER_ID, QueueHarness

qh, any_qh = support.qh, support.any_qh


def _next(agent: TestClient) -> dict[str, Any] | None:
    r = agent.post("/api/queue/call-next")
    assert r.status_code == 200, r.text
    ticket: dict[str, Any] | None = r.json()["ticket"]
    return ticket


def _post(
    c: TestClient, ticket_id: int, action: str, body: dict[str, Any] | None = None, status: int = 200
) -> dict[str, Any]:
    r = c.post(f"/api/queue/tickets/{ticket_id}/{action}", json=body or {})
    assert r.status_code == status, r.text
    out: dict[str, Any] = r.json()
    return out


def test_full_service_through_the_api_stamps_every_transition(any_qh: QueueHarness) -> None:
    """call-next → ring → answer → complete; the agent goes ringing → serving → wrap_up; all stamped."""
    k = any_qh.kiosk()
    t = any_qh.take(k)
    agent = any_qh.agent(window=3)
    offered = _next(agent)
    assert offered is not None and offered["id"] == t["id"] and offered["state"] == "offered"
    assert offered["window_no"] == 3 and offered["number"] == "A001"
    assert agent.get("/api/queue/agents").json()[0]["state"] == "ringing"
    assert _post(agent, t["id"], "ring")["state"] == "ringing"
    assert _post(agent, t["id"], "answer")["state"] == "serving"
    done = _post(agent, t["id"], "complete")
    assert done["state"] == "done" and done["ended_by"] == "staff"
    assert agent.get("/api/queue/agents").json()[0]["state"] == "wrap_up"
    with any_qh.h.ctx.read_db() as s:
        events = [
            (e.event, e.from_state, e.to_state)
            for e in s.scalars(select(TicketEvent).order_by(TicketEvent.id))
        ]
    assert events == [
        ("issue", "", "waiting"),
        ("offer", "waiting", "offered"),
        ("ring", "offered", "ringing"),
        ("answer", "ringing", "serving"),
        ("complete", "serving", "done"),
    ]
    assert k.get(f"/api/queue/tickets/{t['id']}").json()["state"] == "done"


def test_illegal_transition_is_409_and_changes_nothing(qh: QueueHarness) -> None:
    """Completing a waiting ticket, or answering a done one, is refused with illegal_transition."""
    k = qh.kiosk()
    t = qh.take(k)
    sup = qh.agent(Role.SUPERVISOR)
    r = sup.post(f"/api/queue/tickets/{t['id']}/complete", json={})
    assert r.status_code == 409 and r.json()["error"]["code"] == "illegal_transition"
    assert k.get(f"/api/queue/tickets/{t['id']}").json()["state"] == "waiting"
    with qh.h.ctx.read_db() as s:
        assert [e.event for e in s.scalars(select(TicketEvent))] == ["issue"]


def test_only_available_agents_are_offered_and_pause_needs_a_reason(qh: QueueHarness) -> None:
    """Offline and paused agents get 409 from call-next; pausing without a reason is 422."""
    k = qh.kiosk()
    qh.take(k)
    agent = qh.agent(available=False)
    r = agent.post("/api/queue/call-next")
    assert r.status_code == 409 and r.json()["error"]["code"] == "agent_not_available"
    assert agent.put("/api/queue/agents/me/state", json={"state": "paused"}).status_code == 422
    r = agent.put("/api/queue/agents/me/state", json={"state": "paused", "reason": "午餐"})
    assert r.status_code == 200 and r.json()["pause_reason"] == "午餐"
    assert agent.post("/api/queue/call-next").status_code == 409
    assert agent.put("/api/queue/agents/me/state", json={"state": "serving"}).status_code == 422
    agent.put("/api/queue/agents/me/state", json={"state": "available"})
    assert _next(agent) is not None


def test_priority_levels_then_first_come_first_served(qh: QueueHarness) -> None:
    """Recalled > statutory (age ≥ 70) > normal; FIFO within a level."""
    k = qh.kiosk()
    n1 = qh.take(k)
    n2 = qh.take(k, "LIFE-UTILITY")
    elder = qh.take(k, "GOV-PENSION-CERT", id_number=ELDER_ID)
    agent = qh.agent()
    order = []
    for _ in range(3):
        t = _next(agent)
        assert t is not None
        order.append(t["id"])
        _post(agent, t["id"], "answer")
        _post(agent, t["id"], "complete")
        agent.put("/api/queue/agents/me/state", json={"state": "available"})
    assert order == [elder["id"], n1["id"], n2["id"]]


def test_ring_timeout_recalls_twice_then_no_show_and_rejoin_window(any_qh: QueueHarness) -> None:
    """With the fake clock: two 20 s ring timeouts recall the ticket to the front; the third is a no-show.

    The resident may rejoin within 30 minutes (at the end), not after.
    """
    h = any_qh.h
    k = any_qh.kiosk()
    t = any_qh.take(k)
    other = any_qh.take(k)
    agent = any_qh.agent()
    for recall in (1, 2):
        got = _next(agent)
        assert got is not None and got["id"] == t["id"]
        _post(agent, t["id"], "ring")
        h.clock.advance(seconds=19)
        assert calling.process_timeouts(h.ctx) == 0
        h.clock.advance(seconds=2)
        assert calling.process_timeouts(h.ctx) == 1
        state = k.get(f"/api/queue/tickets/{t['id']}").json()
        assert state["state"] == "recalled" and state["recall_count"] == recall and state["priority"] == 0
        assert agent.get("/api/queue/agents").json()[0]["state"] == "available"
    got = _next(agent)
    assert got is not None and got["id"] == t["id"]
    _post(agent, t["id"], "ring")
    h.clock.advance(seconds=21)
    assert calling.process_timeouts(h.ctx) == 1
    missed = k.get(f"/api/queue/tickets/{t['id']}").json()
    assert (
        missed["state"] == "no_show"
        and missed["ended_by"] == "system"
        and missed["end_reason"] == "ring_timeout"
    )
    got = _next(agent)
    assert got is not None and got["id"] == other["id"]
    assert _post(agent, other["id"], "no-show")["state"] == "no_show"
    h.clock.advance(minutes=29)
    third = any_qh.take(k)
    h.clock.advance(seconds=1)
    back = _post(k, t["id"], "rejoin")
    assert back["state"] == "waiting" and back["priority"] == 3 and back["estimate"]["position"] == 1
    assert k.get(f"/api/queue/tickets/{third['id']}").json()["estimate"]["position"] == 0
    h.clock.advance(minutes=2)
    r = k.post(f"/api/queue/tickets/{other['id']}/rejoin", json={})
    assert r.status_code == 409 and r.json()["error"]["code"] == "rejoin_window_passed"


def test_agent_recall_is_limited_and_decline_keeps_the_place(qh: QueueHarness) -> None:
    """An agent may ring again twice; a third recall is 409. Declining hands the ticket back in place."""
    k = qh.kiosk()
    t1 = qh.take(k)
    t2 = qh.take(k)
    agent = qh.agent()
    assert (_next(agent) or {})["id"] == t1["id"]
    assert _post(agent, t1["id"], "recall")["recall_count"] == 1
    assert _post(agent, t1["id"], "recall")["recall_count"] == 2
    r = agent.post(f"/api/queue/tickets/{t1['id']}/recall", json={})
    assert r.status_code == 409 and r.json()["error"]["code"] == "recall_limit"
    back = _post(agent, t1["id"], "decline")
    assert back["state"] == "waiting" and back["estimate"]["position"] == 0
    assert k.get(f"/api/queue/tickets/{t2['id']}").json()["estimate"]["position"] == 1


def test_another_agents_ticket_cannot_be_driven(qh: QueueHarness) -> None:
    """An agent cannot answer or complete a ticket offered to someone else (403)."""
    k = qh.kiosk()
    t = qh.take(k)
    a1, a2 = qh.agent(), qh.agent()
    assert (_next(a1) or {})["id"] == t["id"]
    r = a2.post(f"/api/queue/tickets/{t['id']}/answer", json={})
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_your_ticket"


def test_skills_route_tickets_and_generalists_take_everything(qh: QueueHarness) -> None:
    """A legal-skilled agent gets only legal (or skill-less) services; a generalist takes any."""
    k = qh.kiosk()
    ssc = qh.take(k, "GOV-SSC-APPLY")  # skill social_security
    legal = qh.take(k, "LEGAL-AID")  # skill legal
    lawyer = qh.agent()
    sup = qh.staff(Role.SUPERVISOR)
    r = sup.put(f"/api/queue/agents/{qh.user_id(lawyer)}/skills", json={"skills": ["legal"]})
    assert r.status_code == 200 and r.json()["skills"] == ["legal"]
    assert (_next(lawyer) or {})["id"] == legal["id"]
    generalist = qh.agent()
    assert (_next(generalist) or {})["id"] == ssc["id"]
    assert _next(qh.agent()) is None


def test_transfer_to_a_named_agent_at_the_front(qh: QueueHarness) -> None:
    """A transfer to a named agent with front placement: only that agent can take it, and it is first."""
    k = qh.kiosk()
    t = qh.take(k)
    qh.take(k)
    a1, a2 = qh.agent(), qh.agent()
    assert (_next(a1) or {})["id"] == t["id"]
    _post(a1, t["id"], "answer")
    moved = _post(
        a1,
        t["id"],
        "transfer",
        {"agent_id": qh.user_id(a2), "service_id": qh.services["LEGAL-AID"], "placement": "front"},
    )
    assert (
        moved["state"] == "transferred"
        and moved["service_id"] == qh.services["LEGAL-AID"]
        and moved["number"] == "A001"
    )
    a3 = qh.agent()
    assert (_next(a3) or {})["id"] != t["id"]
    assert (_next(a2) or {})["id"] == t["id"]
    with qh.h.ctx.read_db() as s:
        details = s.scalar(select(AuditEvent.details).where(AuditEvent.action == "ticket.transferred"))
    assert details is not None and details["placement"] == "front"


def test_hold_and_resume(qh: QueueHarness) -> None:
    """Serving → on_hold frees the agent (wrap-up); resume takes it back into service."""
    k = qh.kiosk()
    t = qh.take(k)
    agent = qh.agent()
    _next(agent)
    _post(agent, t["id"], "answer")
    assert _post(agent, t["id"], "hold", {"reason": "等待材料"})["state"] == "on_hold"
    assert agent.get("/api/queue/agents").json()[0]["state"] == "wrap_up"
    assert _post(agent, t["id"], "resume")["state"] == "serving"
    assert agent.get("/api/queue/agents").json()[0]["state"] == "serving"


def test_calling_out_of_order_needs_a_reason_and_is_audited(qh: QueueHarness) -> None:
    """Calling a specific ticket requires a reason, which lands in the audit trail and the event stamp."""
    k = qh.kiosk()
    qh.take(k)
    t2 = qh.take(k)
    agent = qh.agent()
    assert agent.post(f"/api/queue/tickets/{t2['id']}/call", json={}).status_code == 422
    got = _post(agent, t2["id"], "call", {"reason": "预约提前到达"})
    assert got["state"] == "offered"
    with qh.h.ctx.read_db() as s:
        audit = s.scalar(select(AuditEvent).where(AuditEvent.action == "ticket.called_out_of_order"))
        assert audit is not None and audit.details["reason"] == "预约提前到达"
        assert s.scalar(select(TicketEvent.reason).where(TicketEvent.event == "offer")) == "预约提前到达"


def test_no_ticket_waits_beyond_the_bound(qh: QueueHarness) -> None:
    """Once a normal ticket has waited past the bound, later statutory-priority tickets stop overtaking it."""
    h = qh.h
    k = qh.kiosk()
    sup = qh.staff(Role.SUPERVISOR)
    assert sup.put("/api/queue/settings", json={"max_wait_bound_min": 10}).status_code == 200
    old = qh.take(k)
    h.clock.advance(minutes=5)
    young_priority = qh.take(k, "LIFE-UTILITY", id_number=ELDER_ID)
    agent = qh.agent()
    assert (_next(agent) or {})["id"] == young_priority["id"]  # within the bound priority wins
    _post(agent, young_priority["id"], "decline")
    h.clock.advance(minutes=6)  # old has now waited 11 min > 10
    assert (_next(agent) or {})["id"] == old["id"]


def test_leave_records_who_ended_it(qh: QueueHarness) -> None:
    """A resident leaving from the kiosk is ended_by resident; staff ending it is audited as staff."""
    k = qh.kiosk()
    t1, t2 = qh.take(k), qh.take(k)
    assert _post(k, t1["id"], "leave")["ended_by"] == "resident"
    staff = qh.staff(Role.AGENT)
    left = _post(staff, t2["id"], "leave", {"reason": "居民电话告知不来"})
    assert left["ended_by"] == "staff" and left["state"] == "left"
    assert k.post(f"/api/queue/tickets/{t1['id']}/leave", json={}).status_code == 409


def test_events_are_published_without_personal_data(qh: QueueHarness) -> None:
    """The office WebSocket feed carries issued, called and counts events with numbers, no ID numbers."""
    k = qh.kiosk()
    agent = qh.agent()
    client = qh.h.client()
    with client.websocket_connect(f"/ws/board/{qh.h.office_id}") as ws:
        t = qh.take(k, id_number=ELDER_ID)
        _next(agent)
        seen = [ws.receive_json() for _ in range(4)]
    topics = [m["topic"] for m in seen]
    assert topics == ["queue.issued", "queue.counts", "queue.called", "queue.counts"]
    assert seen[0]["payload"]["number"] == t["number"] and seen[1]["payload"]["waiting"] == 1
    assert seen[2]["payload"]["window_no"] is not None and seen[3]["payload"]["waiting"] == 0
    assert ELDER_ID not in str(seen) and ELDER_ID[:6] + ELDER_ID[6:14] not in str(seen)


def test_agent_who_never_rings_loses_the_offer_not_the_resident(qh: QueueHarness) -> None:
    """An offer not rung within the timeout returns to the queue in place without counting a recall."""
    k = qh.kiosk()
    t = qh.take(k)
    agent = qh.agent()
    assert (_next(agent) or {})["id"] == t["id"]
    qh.h.clock.advance(seconds=21)
    assert calling.process_timeouts(qh.h.ctx) == 1
    back = k.get(f"/api/queue/tickets/{t['id']}").json()
    assert back["state"] == "waiting" and back["recall_count"] == 0 and back["estimate"]["position"] == 0
    assert agent.get("/api/queue/agents").json()[0]["state"] == "available"


def test_transfer_placements_end_and_by_age(qh: QueueHarness) -> None:
    """Transfer ``end`` queues behind everyone waiting; ``age`` queues by the original issue time."""
    h = qh.h
    k = qh.kiosk()
    first = qh.take(k)
    h.clock.advance(minutes=1)
    second = qh.take(k)
    h.clock.advance(minutes=1)
    agent = qh.agent()
    assert (_next(agent) or {})["id"] == first["id"]
    _post(agent, first["id"], "answer")
    h.clock.advance(minutes=1)
    third = qh.take(k)
    h.clock.advance(minutes=1)
    _post(agent, first["id"], "transfer", {"service_id": qh.services["LIFE-UTILITY"], "placement": "end"})
    assert k.get(f"/api/queue/tickets/{first['id']}").json()["estimate"]["position"] == 2
    agent.put("/api/queue/agents/me/state", json={"state": "available"})
    assert (_next(agent) or {})["id"] == second["id"]
    _post(agent, second["id"], "answer")
    _post(agent, second["id"], "transfer", {"service_id": qh.services["LIFE-UTILITY"], "placement": "age"})
    assert k.get(f"/api/queue/tickets/{second['id']}").json()["estimate"]["position"] == 0
    assert k.get(f"/api/queue/tickets/{third['id']}").json()["estimate"]["position"] == 1
