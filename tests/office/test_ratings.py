"""Ratings (好差评): one per ticket, reasons for 差评, content versions, default ratings, live events."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from sqlalchemy import select

from office.models import AuditEvent, FollowUp, Rating, Station
from office.ratings import apply_default_ratings
from tests.office.test_ratings_support import RatingRig, any_rr, rr, short_rr

__all__ = ["any_rr", "rr", "short_rr"]


def test_one_rating_per_ticket(any_rr: RatingRig) -> None:
    """The first rating is stored with the ticket's agent and service; a second is 409 already_rated."""
    tid = any_rr.served_ticket()
    r = any_rr.rate(tid, 5)
    assert r.status_code == 201, r.text
    assert r.json()["follow_up"] is False
    again = any_rr.rate(tid, 1, ["attitude"])
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_rated"
    with any_rr.h.ctx.read_db() as s:
        rows = list(s.scalars(select(Rating).where(Rating.ticket_id == tid)))
    assert [(x.level, x.agent_id, x.is_default) for x in rows] == [(5, any_rr.agent_id, False)]


def test_bad_rating_needs_reasons_and_opens_a_followup(rr: RatingRig) -> None:
    """Levels 1-2 without a reason are refused; with one they open exactly one follow-up."""
    tid = rr.served_ticket()
    r = rr.rate(tid, 2, [])
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "reasons_required"
    r = rr.rate(tid, 2, ["slow", "attitude"], comment="等了很久")
    assert r.status_code == 201, r.text
    assert r.json()["follow_up"] is True
    with rr.h.ctx.read_db() as s:
        fus = list(s.scalars(select(FollowUp)))
    assert [(f.rating_id, f.state, f.due_step) for f in fus] == [(r.json()["rating_id"], "open", "contact")]


def test_three_and_up_need_no_reason(rr: RatingRig) -> None:
    """A level 3 with no reason is fine and opens no follow-up."""
    r = rr.rate(rr.served_ticket(), 3, [])
    assert r.status_code == 201
    assert r.json()["follow_up"] is False


def test_unknown_reason_and_version_refused(rr: RatingRig) -> None:
    """Reason codes and content versions must be ones the office serves."""
    tid = rr.served_ticket()
    assert rr.rate(tid, 1, ["made_up"]).json()["error"]["code"] == "unknown_reason"
    assert rr.rate(tid, 4, [], content_version="1999.1").json()["error"]["code"] == "unknown_content_version"


def test_unserved_or_foreign_ticket_refused(rr: RatingRig) -> None:
    """A waiting ticket cannot be rated (409); a ticket of another station is not found (404)."""
    served = rr.served_ticket()
    waiting = rr.qh.take(rr.kiosk)["id"]
    assert rr.rate(waiting, 5).json()["error"]["code"] == "not_served"

    with rr.h.ctx.db() as s, s.begin():
        other = Station(office_id=rr.h.office_id, code="ST2", name="其他站")
        s.add(other)
        s.flush()
        other_id = other.id
    foreign_kiosk = rr.qh.kiosk(other_id)
    r = foreign_kiosk.post(
        "/api/kiosk/ratings", json={"ticket_id": served, "level": 5, "content_version": "2026.1"}
    )
    assert r.status_code == 404


def test_reasons_endpoint_lists_codes(rr: RatingRig) -> None:
    """The kiosk reads the reason codes with zh and en labels."""
    r = rr.kiosk.get("/api/kiosk/rating-reasons")
    assert r.status_code == 200
    codes = {x["code"]: x for x in r.json()}
    assert codes["attitude"]["zh"] == "服务态度差"
    assert codes["attitude"]["en"]


def test_default_rating_job(short_rr: RatingRig) -> None:
    """After the delay an unrated served ticket gets the configured default (is_default); rated ones
    and those still within the delay are left alone; a late real rating replaces the default."""
    h = short_rr.h
    rated = short_rr.served_ticket()
    assert short_rr.rate(rated, 4).status_code == 201
    unrated = short_rr.served_ticket()
    assert apply_default_ratings(h.ctx) == 0  # within the delay
    h.clock.advance(minutes=h.ctx.settings.rating_default_after_min + 1)
    fresh = short_rr.served_ticket()
    assert apply_default_ratings(h.ctx) == 1
    assert apply_default_ratings(h.ctx) == 0  # idempotent
    with h.ctx.read_db() as s:
        rows = {r.ticket_id: r for r in s.scalars(select(Rating))}
    assert set(rows) == {rated, unrated}
    assert (rows[unrated].level, rows[unrated].is_default) == (h.ctx.settings.rating_default_level, True)
    assert (rows[rated].level, rows[rated].is_default) == (4, False)
    assert fresh not in rows
    late = short_rr.rate(unrated, 5)
    assert late.status_code == 201
    with h.ctx.read_db() as s:
        row = s.scalars(select(Rating).where(Rating.ticket_id == unrated)).one()
    assert (row.level, row.is_default) == (5, False)
    assert short_rr.rate(unrated, 1, ["slow"]).status_code == 409


def test_rating_is_audited_without_personal_data(rr: RatingRig) -> None:
    """Each rating leaves an audit entry with the level only."""
    rr.rate(rr.served_ticket(), 1, ["attitude"], comment="态度不好")
    with rr.h.ctx.read_db() as s:
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "rating.create")).one()
    assert ev.details == {"level": 1, "followup": True}


async def test_rating_created_event_is_live(rr: RatingRig) -> None:
    """A 差评 publishes rating.created and followup.changed to the office's subscribers."""
    sub = rr.h.ctx.events.subscribe(rr.h.office_id)
    try:
        r = rr.rate(rr.served_ticket(), 2, ["slow"])
        rid = r.json()["rating_id"]
        topics: list[str] = []
        while len(topics) < 20:
            ev = await sub.get()
            topics.append(ev.topic)
            if ev.topic == "followup.changed":
                break
        assert "rating.created" in topics
    finally:
        sub.close()
    assert rid


def test_rating_is_bound_to_the_case_of_its_ticket(rr: RatingRig) -> None:
    """When the agent recorded a case for the ticket, the rating carries that case's id."""
    tid = rr.served_ticket(complete=False)
    r = rr.agent.post("/api/cases", json={"ticket_id": tid, "outcome": "completed", "notes": "当场办结"})
    assert r.status_code == 201, r.text
    case_id = r.json()["id"]
    assert rr.rate(tid, 4).status_code == 201
    assert rr.agent.put("/api/queue/agents/me/state", json={"state": "available"}).status_code == 200
    other = rr.served_ticket()
    assert rr.rate(other, 5).status_code == 201
    with rr.h.ctx.read_db() as s:
        bound = {r.ticket_id: r.case_id for r in s.scalars(select(Rating))}
    assert bound == {tid: case_id, other: None}


def test_concurrent_ratings_of_one_ticket_one_wins(any_rr: RatingRig) -> None:
    """Two kiosks' requests racing for one ticket: exactly one 201, the other 409 already_rated."""
    tid = any_rr.served_ticket()
    token = any_rr.qh.kiosk_token()
    clients = [any_rr.kiosk, any_rr.h.kiosk_client(token)]
    body = {"ticket_id": tid, "level": 5, "reasons": [], "content_version": "2026.1"}
    barrier = threading.Barrier(2)

    def post(c: TestClient) -> tuple[int, str]:
        barrier.wait()
        r = c.post("/api/kiosk/ratings", json=body)
        return r.status_code, r.json().get("error", {}).get("code", "")

    with ThreadPoolExecutor(2) as pool:
        results = sorted(pool.map(post, clients))
    assert results == [(201, ""), (409, "already_rated")]
    with any_rr.h.ctx.read_db() as s:
        assert len(list(s.scalars(select(Rating).where(Rating.ticket_id == tid)))) == 1
