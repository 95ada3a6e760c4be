"""Follow-ups of 差评 (service-rules.md §2.4): whole sequences, illegal steps, working-day deadlines,
overdue alerts, who may see and work them, the evaluator's identity, KPIs."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from office.models import AuditEvent, FollowUp, FollowUpEvent, Office, Rating, Role, Station, Ticket
from office.ratings import FollowUpState, IllegalFollowUpStep, process_overdue_followups
from office.ratings.lifecycle import TRANSITIONS, allowed_events, next_state
from tests.office.test_queue_support import ELDER_ID
from tests.office.test_ratings_support import RatingRig, any_rr, rr

__all__ = ["any_rr", "rr"]

S = FollowUpState


def _walk(start: FollowUpState, events: list[str]) -> list[FollowUpState]:
    states = [start]
    for e in events:
        states.append(next_state(states[-1], e))
    return states


def test_lifecycle_paths_as_whole_sequences() -> None:
    """Each classification leads through its own states to closed."""
    tail = ["feedback", "revisit", "close"]
    assert _walk(S.OPEN, ["contact", "classify:fix_now", "rectify", *tail]) == [
        S.OPEN, S.CONTACTED, S.RECTIFYING, S.FEEDBACK_DUE, S.FEEDBACK_GIVEN, S.REVISITED, S.CLOSED,
    ]  # fmt: skip
    assert _walk(S.OPEN, ["contact", "classify:explain", *tail])[1:3] == [S.CONTACTED, S.FEEDBACK_DUE]
    assert _walk(S.OPEN, ["contact", "classify:appeal", "review:excluded", *tail])[2:4] == [
        S.UNDER_REVIEW,
        S.FEEDBACK_DUE,
    ]
    assert _walk(S.OPEN, ["contact", "classify:appeal", "review:upheld", "rectify", *tail])[-1] is S.CLOSED


def test_illegal_steps_raise_and_closed_is_final() -> None:
    """Skipping the contact, rectifying what was only explained, or any step after closing raises."""
    for state, event in [(S.OPEN, "classify:fix_now"), (S.OPEN, "close"), (S.FEEDBACK_DUE, "rectify")]:
        with pytest.raises(IllegalFollowUpStep):
            next_state(state, event)
    assert allowed_events(S.CLOSED) == []
    assert {s for (s, _) in TRANSITIONS} == set(S) - {S.CLOSED}


def _step(c: Any, fid: int, event: str, **body: Any) -> Any:
    return c.post(f"/api/followups/{fid}/steps", json={"event": event, **body})


def _bad(rig: RatingRig, level: int = 1, **take: Any) -> int:
    r = rig.rate(rig.served_ticket(**take), level, ["attitude"])
    assert r.status_code == 201, r.text
    with rig.h.ctx.read_db() as s:
        fid: int = s.scalars(select(FollowUp.id).where(FollowUp.rating_id == r.json()["rating_id"])).one()
    return fid


def test_supervisor_works_a_ledger_case_to_closed(any_rr: RatingRig) -> None:
    """Via the API: every step stamped in order, the ledger deadline set from ``days``, an illegal
    step is 409 and changes nothing."""
    fid = _bad(any_rr)
    sup = any_rr.supervisor
    r = _step(sup, fid, "rectify")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "illegal_step"
    seq: list[tuple[str, dict[str, Any]]] = [("contact", {}), ("classify:ledger", {"days": 3}), ("rectify", {"note": "已整改"}), ("feedback", {}),
                                            ("revisit", {"recheck_level": 4}), ("close", {})]  # fmt: skip
    states = []
    for event, body in seq:
        r = _step(sup, fid, event, **body)
        assert r.status_code == 200, r.text
        states.append(r.json()["state"])
        if event == "classify:ledger":
            assert r.json()["due_step"] == "rectify"
            assert r.json()["due_date"] == "2026-03-05"  # Monday + 3 working days
    assert states == ["contacted", "rectifying", "feedback_due", "feedback_given", "revisited", "closed"]
    detail = sup.get(f"/api/followups/{fid}").json()
    assert [e["event"] for e in detail["events"]] == ["create"] + [e for e, _ in seq]
    assert detail["recheck_level"] == 4 and detail["classification"] == "ledger"
    assert detail["allowed"] == []
    assert _step(sup, fid, "contact").status_code == 409


def test_deadlines_count_working_days_over_a_weekend(rr: RatingRig) -> None:
    """A 差评 on Friday is due for contact on Monday; the overdue alert fires once, on Tuesday, not
    over the weekend; after the next step the new deadline alerts again when missed."""
    h = rr.h
    h.clock.set(datetime(2026, 3, 6, 1, 0, tzinfo=UTC))  # Friday 09:00 in Shanghai
    rr.supervisor = rr.qh.staff(Role.SUPERVISOR)
    rr.agent = rr.qh.agent()
    fid = _bad(rr)
    fu = rr.supervisor.get(f"/api/followups/{fid}").json()
    assert (fu["due_step"], fu["due_date"], fu["overdue"]) == ("contact", "2026-03-09", False)
    for day in (7, 8, 9):  # Saturday, Sunday, Monday (due day itself)
        h.clock.set(datetime(2026, 3, day, 2, 0, tzinfo=UTC))
        assert process_overdue_followups(h.ctx) == 0
    h.clock.set(datetime(2026, 3, 10, 1, 0, tzinfo=UTC))  # Tuesday
    assert process_overdue_followups(h.ctx) == 1
    assert process_overdue_followups(h.ctx) == 0
    sup = rr.qh.staff(Role.SUPERVISOR)
    assert sup.get("/api/followups?overdue=true").json()[0]["id"] == fid
    r = _step(sup, fid, "contact")
    assert (r.json()["due_step"], r.json()["due_date"], r.json()["overdue"]) == (
        "classify",
        "2026-03-11",
        False,
    )
    h.clock.set(datetime(2026, 3, 13, 1, 0, tzinfo=UTC))  # Friday: two days past
    assert process_overdue_followups(h.ctx) == 1


def test_followup_overdue_alert_is_live(rr: RatingRig) -> None:
    """The overdue alert reaches the office's live subscribers as followup.changed with overdue."""
    fid = _bad(rr)

    async def run() -> dict[str, Any]:
        sub = rr.h.ctx.events.subscribe(rr.h.office_id)
        try:
            rr.h.clock.advance(days=3)
            assert await asyncio.to_thread(process_overdue_followups, rr.h.ctx) == 1
            while True:
                ev = await asyncio.wait_for(sub.get(), 5)
                if ev.topic == "followup.changed":
                    return ev.payload
        finally:
            sub.close()

    payload = asyncio.run(run())
    assert payload["followup_id"] == fid and payload["overdue"] is True


def test_agents_see_only_their_own_office_and_service(rr: RatingRig) -> None:
    """The agent of the rated service sees it but cannot work it unless assigned; another office's
    staff get 404; a technician is refused at the door."""
    fid = _bad(rr)
    agent = rr.agent
    assert [f["id"] for f in agent.get("/api/followups").json()] == [fid]
    assert _step(agent, fid, "contact").json()["error"]["code"] == "not_assignee"
    other_agent = rr.qh.agent()
    assert other_agent.get("/api/followups").json() == []
    assert other_agent.get(f"/api/followups/{fid}").status_code == 404
    with rr.h.ctx.db() as s, s.begin():
        office = Office(code="T2", name="另一街道")
        s.add(office)
        s.flush()
        s.add(Station(office_id=office.id, code="S9", name="站"))
        other_office = office.id
    foreign_sup = rr.qh.staff(Role.SUPERVISOR, rr.qh.new_user(Role.SUPERVISOR, other_office))
    assert foreign_sup.get("/api/followups").json() == []
    assert foreign_sup.get(f"/api/followups/{fid}").status_code == 404
    assert _step(foreign_sup, fid, "contact").status_code == 404
    assert foreign_sup.get(f"/api/followups/{fid}/evaluator").status_code == 404
    tech = rr.qh.staff(Role.TECHNICIAN)
    assert tech.get("/api/followups").status_code == 403
    assert tech.get(f"/api/followups/{fid}/evaluator").status_code == 403
    assert tech.get("/api/ratings").status_code == 403
    r = rr.supervisor.put(f"/api/followups/{fid}/assignee", json={"user_id": rr.agent_id})
    assert r.status_code == 200 and r.json()["assignee_id"] == rr.agent_id
    assert _step(agent, fid, "contact").status_code == 200


def test_evaluator_identity_masked_for_supervisor_and_audited(rr: RatingRig) -> None:
    """The supervisor sees the evaluator's ID number masked; the read and a refused read are audited;
    agents are refused at the door; no rating or follow-up answer carries the identity."""
    t = rr.qh.take(rr.kiosk, id_number=ELDER_ID)
    rr.agent.post("/api/queue/call-next")
    for step in ("ring", "answer", "complete"):
        assert rr.agent.post(f"/api/queue/tickets/{t['id']}/{step}", json={}).status_code == 200
    rid = rr.rate(t["id"], 1, ["not_resolved"]).json()["rating_id"]
    fid = rr.supervisor.get("/api/followups").json()[0]["id"]
    r = rr.supervisor.get(f"/api/followups/{fid}/evaluator")
    assert r.status_code == 200, r.text
    masked = r.json()["id_number_masked"]
    assert masked.startswith(ELDER_ID[:4]) and masked.endswith(ELDER_ID[-4:]) and "*" in masked
    assert rr.agent.get(f"/api/followups/{fid}/evaluator").status_code == 403
    assert rr.supervisor.get("/api/followups/999999/evaluator").status_code == 404
    for text in (rr.supervisor.get(f"/api/followups/{fid}").text, rr.supervisor.get("/api/ratings").text):
        assert ELDER_ID not in text and masked not in text
    with rr.h.ctx.read_db() as s:
        reads = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "rating.evaluator_read")))
    assert [(a.target_id, a.success) for a in reads] == [(str(fid), True), ("999999", False)]
    assert reads[0].details == {"rating_id": rid, "identified": True}


def test_kpis_on_known_data(rr: RatingRig) -> None:
    """Five served tickets: ratings 5, 4, 2, 1 and one default 3; one 差评 contacted and handled to
    feedback. Active rating rate 4/5, good rate 2/5, follow-up rate 1/2, rectification rate 1/2."""
    h = rr.h
    tickets = [rr.served_ticket() for _ in range(5)]
    for tid, level in zip(tickets[:4], (5, 4, 2, 1), strict=True):
        assert rr.rate(tid, level).status_code == 201
    with h.ctx.db() as s, s.begin():
        tk = tickets[4]
        t = s.get(Ticket, tk)
        assert t is not None
        s.add(Rating(office_id=t.office_id, station_id=t.station_id, ticket_id=tk, service_id=t.service_id,
                     level=3, reasons=[], comment="", content_version="2026.1", is_default=True,
                     created_at=h.clock.now()))  # fmt: skip
    fids = [f["id"] for f in rr.supervisor.get("/api/followups").json()]
    assert len(fids) == 2
    for event in ("contact", "classify:explain", "feedback"):
        assert _step(rr.supervisor, fids[0], event).status_code == 200
    assert _step(rr.supervisor, fids[1], "contact").status_code == 200  # contacted, not yet handled
    k = rr.supervisor.get("/api/ratings/kpis").json()
    assert (k["served"], k["ratings"], k["active_ratings"], k["default_ratings"]) == (5, 5, 4, 1)
    assert (k["good"], k["bad"], k["followups"]) == (2, 2, 2)
    assert k["active_rating_rate"] == pytest.approx(0.8)
    assert k["good_rate"] == pytest.approx(0.4)
    assert k["follow_up_rate"] == pytest.approx(1.0)
    assert k["rectification_rate"] == pytest.approx(0.5)
    other_day = (h.clock.now() + timedelta(days=2)).date()
    empty = rr.supervisor.get(f"/api/ratings/kpis?first={other_day}").json()
    assert (empty["served"], empty["good_rate"], empty["follow_up_rate"]) == (0, None, None)
    assert rr.agent.get("/api/ratings/kpis").status_code == 403
    # The last 30 office-local days ending today (the follow-up page's view, whatever the browser's date).
    month = rr.supervisor.get("/api/ratings/kpis?days=30").json()
    assert date.fromisoformat(month["last"]) == date.fromisoformat(k["last"])
    assert (date.fromisoformat(month["last"]) - date.fromisoformat(month["first"])).days == 29
    assert (month["served"], month["ratings"], month["followups"]) == (5, 5, 2)
    ending = rr.supervisor.get(f"/api/ratings/kpis?days=2&last={other_day}").json()
    assert (ending["first"], ending["served"]) == (str(other_day - timedelta(days=1)), 0)
    assert rr.supervisor.get("/api/ratings/kpis?days=0").status_code == 422
    with h.ctx.read_db() as s:
        assert s.scalar(select(FollowUpEvent.id).limit(1)) is not None
    assert date.fromisoformat(k["first"]) == h.clock.now().date()
