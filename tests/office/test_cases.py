"""Cases (办件): the lifecycle table as whole sequences, recording every outcome through the API,
due dates over weekends and holidays, numbering under concurrency (both engines), transfer (指定),
escalation (兜底), completion, and the overdue job with its live event."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from office.booking.schedules import load_calendar
from office.calendar import DateOverride, WorkingCalendar
from office.cases.lifecycle import (
    CASE_EVENTS,
    CASE_TRANSITIONS,
    FINAL_STATES,
    IllegalCaseTransition,
    case_next,
    run,
)
from office.cases.numbering import format_case_number, next_case_seq
from office.cases.overdue import process_overdue
from office.models import Case, CaseState, Office, Role, Ticket, TicketState
from tests.office.conftest import OfficeHarness
from tests.office.test_calls_support import CallRig, build_rig
from tests.office.test_cases_support import LiveCall, audit_rows, crig, jpeg, live_call

C = CaseState
crig = crig  # the fixture, used by this module's tests


@pytest.fixture
def any_crig(any_harness: OfficeHarness) -> CallRig:
    """A call rig on SQLite and PostgreSQL."""
    return build_rig(any_harness)


# --- the lifecycle table -------------------------------------------------------------------------


def test_lifecycle_sequences() -> None:
    """Whole sequences: accept → transfer → escalate → designate → complete; materials then accept."""
    assert run(["accept", "attach", "transfer", "escalate", "transfer", "overdue", "complete"]) == [
        "",
        "in_progress",
        "in_progress",
        "in_progress",
        "escalated",
        "in_progress",
        "in_progress",
        "completed",
    ]
    assert run(["request_materials", "attach", "accept", "complete"]) == [
        "",
        "awaiting_materials",
        "awaiting_materials",
        "in_progress",
        "completed",
    ]
    assert run(["complete"]) == ["", "completed"]
    assert run(["reject"]) == ["", "rejected"]
    assert run(["forward"]) == ["", "forwarded"]
    assert run(["accept", "escalate", "reject"]) == ["", "in_progress", "escalated", "rejected"]


@pytest.mark.parametrize(
    ("state", "event"),
    [
        ("completed", "complete"),
        ("rejected", "accept"),
        ("forwarded", "transfer"),
        ("", "transfer"),
        ("", "escalate"),
        ("escalated", "escalate"),
        ("awaiting_materials", "overdue"),
        ("in_progress", "accept"),
        ("bogus", "complete"),
    ],
)
def test_illegal_steps_raise(state: str, event: str) -> None:
    """Events the table does not allow raise, naming state and event."""
    with pytest.raises(IllegalCaseTransition) as info:
        case_next(state, event)
    assert (info.value.state, info.value.event) == (state, event)


@given(st.lists(st.sampled_from(sorted(CASE_EVENTS)), max_size=12))
def test_random_walks_never_leave_a_final_state(events: list[str]) -> None:
    """Any sequence of events: each step is in the table or raises; final states accept nothing."""
    state = ""
    for event in events:
        if (state, event) in CASE_TRANSITIONS:
            state = case_next(state, event).value
        else:
            with pytest.raises(IllegalCaseTransition):
                case_next(state, event)
    assert not any(s in FINAL_STATES for s, _ in CASE_TRANSITIONS)


def test_case_number_format() -> None:
    """JD-<local date>-<4 digits>, growing past 9999."""
    assert format_case_number(date(2026, 11, 22), 7) == "JD-20261122-0007"
    assert format_case_number(date(2026, 11, 22), 12345) == "JD-20261122-12345"


# --- due dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accepted_utc", "limit", "due"),
    [
        # Monday 09:00 Shanghai, 5 working days: the next Monday (weekend skipped).
        (datetime(2026, 3, 2, 1, 0, tzinfo=UTC), 5, date(2026, 3, 9)),
        # Friday 17:00 Shanghai, 1 working day: Monday.
        (datetime(2026, 3, 6, 9, 0, tzinfo=UTC), 1, date(2026, 3, 9)),
        # Friday 23:30 UTC is already Saturday in Shanghai: the limit counts from Saturday.
        (datetime(2026, 3, 6, 16, 30, tzinfo=UTC), 1, date(2026, 3, 9)),
        # 2026-09-30 (Wed), 3 working days over 国庆 (10-01..10-07 off, 10-10 Saturday a make-up day).
        (datetime(2026, 9, 30, 2, 0, tzinfo=UTC), 3, date(2026, 10, 10)),
        # 0 working days (即办): the acceptance day itself.
        (datetime(2026, 3, 2, 1, 0, tzinfo=UTC), 0, date(2026, 3, 2)),
    ],
)
def test_due_dates_on_the_office_calendar(accepted_utc: datetime, limit: int, due: date) -> None:
    """The due date is the limit in working days after the office-local acceptance date; an office
    override that closes a working day pushes it on."""
    assert WorkingCalendar("Asia/Shanghai").due_date(accepted_utc, limit) == due
    closed = WorkingCalendar(
        "Asia/Shanghai", overrides=[DateOverride(day=due, closed=True, working_day=False)]
    )
    if limit > 0:
        assert closed.due_date(accepted_utc, limit) > due


def test_accepted_case_gets_its_due_date_over_a_holiday(harness: OfficeHarness) -> None:
    """Accepted on 2026-09-30: the service's working-day limit skips the 国庆 holiday week."""
    harness.clock.set(datetime(2026, 9, 30, 2, 0, tzinfo=UTC))
    crig = build_rig(harness)
    with live_call(crig) as lc:
        code = "GOV-SSC-APPLY"
        with crig.h.ctx.db() as s, s.begin():
            from office.models import Service

            svc = s.get(Service, crig.qh.services[code])
            assert svc is not None
            limit = svc.time_limit_days
        case = _record(lc, "accepted")
    with crig.h.ctx.read_db() as s:
        cal = load_calendar(s, crig.h.office_id)
    expected = cal.add_working_days(date(2026, 9, 30), limit)
    assert limit > 0
    assert case["due_date"] == expected.isoformat()
    assert case["due_date"] > "2026-10-07"
    assert case["number"] == "JD-20260930-0001"


# --- numbering -----------------------------------------------------------------------------------


def test_numbering_is_unique_under_concurrency(any_harness: OfficeHarness) -> None:
    """Twenty concurrent transactions on separate connections each get a distinct number, 1..20."""
    h = any_harness
    day = date(2026, 3, 2)
    barrier = threading.Barrier(4)  # 20 takers in rounds of 4 at once

    def take(_: int) -> int:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=5)
        with h.ctx.db() as s, s.begin():
            return next_case_seq(s, h.office_id, day)

    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(take, range(20)))
    assert sorted(got) == list(range(1, 21))
    with h.ctx.db() as s, s.begin():
        other = Office(code="T2", name="其他街道")
        s.add(other)
        s.flush()
        assert next_case_seq(s, other.id, day) == 1  # per office
        assert next_case_seq(s, h.office_id, date(2026, 3, 3)) == 1  # per day


def test_cases_recorded_concurrently_get_distinct_numbers(any_crig: CallRig) -> None:
    """Cases recorded at once by a supervisor for one ticket never share a number (both engines)."""
    rig = any_crig
    with live_call(rig) as lc:
        sup = rig.qh.staff(Role.SUPERVISOR)

        def record(_: int) -> str:
            r = sup.post("/api/cases", json={"ticket_id": lc.ticket_id, "outcome": "accepted"})
            assert r.status_code == 201, r.text
            number: str = r.json()["number"]
            return number

        with ThreadPoolExecutor(4) as pool:
            numbers = list(pool.map(record, range(8)))
    assert len(set(numbers)) == 8
    assert sorted(int(n.rsplit("-", 1)[1]) for n in numbers) == list(range(1, 9))


# --- recording outcomes --------------------------------------------------------------------------


def _record(lc: LiveCall, outcome: str, **body: Any) -> dict[str, Any]:
    r = lc.rig.agent.post(
        "/api/cases", json={"ticket_id": lc.ticket_id, "call_id": lc.call_id, "outcome": outcome, **body}
    )
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def test_completed_case_completes_the_serving_ticket_and_keeps_identity_and_documents(crig: CallRig) -> None:
    """办结 on the spot: state completed, no due date, ticket done, documents and identity with the case."""
    with live_call(crig) as lc:
        assert crig.ticket(lc.ticket_id).state == TicketState.SERVING  # the kiosk accepted the call
        lc.upload_identity()
        doc = lc.upload(jpeg()).json()["document_id"]
        mats = lc.materials()
        case = _record(
            lc,
            "completed",
            notes="当场办结",
            materials=[{"material_id": mats[0], "document_ids": [doc], "checked": True}],
        )
    assert case["state"] == "completed" and case["outcome"] == "completed"
    assert case["due_date"] is None and case["completed_at"] is not None
    assert case["owner_agent_id"] == crig.agent_id == case["assigned_agent_id"]
    assert case["has_resident"] is True
    assert [d["document_id"] for d in case["documents"]] == [doc]
    assert case["materials"] == [
        {"material_id": mats[0], "name": "居民身份证", "document_ids": [doc], "checked": True}
    ]
    assert [h["action"] for h in case["history"]] == ["complete"]
    with crig.h.ctx.read_db() as s:
        ticket = s.get(Ticket, lc.ticket_id)
        assert ticket is not None and ticket.state == TicketState.DONE
        row = s.get(Case, case["id"])
        assert row is not None and row.resident_enc is not None and row.resident_hash
    assert [a.action for a in audit_rows(crig.h, "case.")] == ["case.created"]


def test_needs_materials_returns_one_notice_listing_everything_missing(crig: CallRig) -> None:
    """一次性告知: every missing material, once, with count and form; state awaiting_materials."""
    with live_call(crig) as lc:
        mats = lc.materials()
        case = _record(lc, "needs_materials", missing_material_ids=mats)
    assert case["state"] == "awaiting_materials" and case["due_date"] is None
    notice = case["notice"]
    assert isinstance(notice, dict)
    assert notice["service_name"] == "社会保障卡申领"
    assert [m["material_id"] for m in notice["missing"]] == mats
    assert all(m["count"] >= 1 and m["form"] for m in notice["missing"])


def test_rejection_needs_a_reason_and_bad_requests_change_nothing(crig: CallRig) -> None:
    """Rejected without reason → 422; unknown material → 422; forwarded to nobody → 422; no rows."""
    with live_call(crig) as lc:
        a = crig.agent
        base = {"ticket_id": lc.ticket_id, "call_id": lc.call_id}
        assert (
            a.post("/api/cases", json={**base, "outcome": "rejected"}).json()["error"]["code"]
            == "reason_required"
        )
        r = a.post(
            "/api/cases", json={**base, "outcome": "needs_materials", "missing_material_ids": [999999]}
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_material"
        r = a.post("/api/cases", json={**base, "outcome": "forwarded"})
        assert r.status_code == 422
        r = a.post(
            "/api/cases",
            json={
                **base,
                "outcome": "accepted",
                "materials": [{"material_id": lc.materials()[0], "document_ids": [424242]}],
            },
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_document"
        with crig.h.ctx.read_db() as s:
            assert s.scalars(select(Case)).first() is None
        case = _record(lc, "rejected", reason="不属于本街道受理范围")
        assert case["state"] == "rejected" and case["reason"] == "不属于本街道受理范围"


def test_forwarded_to_a_named_agent(crig: CallRig) -> None:
    """Forwarded to an agent of the office: assigned to them, owner stays the recording agent."""
    other = crig.qh.new_user(Role.AGENT)
    with live_call(crig) as lc:
        case = _record(lc, "forwarded", forward_to={"agent_id": other})
    assert case["state"] == "forwarded"
    assert case["owner_agent_id"] == crig.agent_id and case["assigned_agent_id"] == other


def test_transfer_escalate_and_complete_with_who_may_act(crig: CallRig) -> None:
    """指定 to B (A stays owner); C may not act; A escalates (兜底); a supervisor designates B; B completes."""
    b_id = crig.qh.new_user(Role.AGENT)
    b = crig.qh.staff(Role.AGENT, b_id)
    c = crig.qh.staff(Role.AGENT)
    sup = crig.qh.staff(Role.SUPERVISOR)
    with live_call(crig) as lc:
        case = _record(lc, "accepted")
    cid = case["id"]
    a = crig.agent
    assert c.post(f"/api/cases/{cid}/transfer", json={"agent_id": b_id}).status_code == 403
    r = a.post(f"/api/cases/{cid}/transfer", json={"agent_id": b_id, "reason": "专项业务"})
    assert r.status_code == 200, r.text
    assert (r.json()["owner_agent_id"], r.json()["assigned_agent_id"]) == (crig.agent_id, b_id)
    r = a.post(f"/api/cases/{cid}/escalate", json={"reason": "疑难"})
    assert r.status_code == 200 and r.json()["state"] == "escalated" and r.json()["assigned_agent_id"] is None
    assert c.post(f"/api/cases/{cid}/complete", json={}).status_code == 403
    r = sup.post(f"/api/cases/{cid}/transfer", json={"agent_id": b_id, "reason": "指定办理"})
    assert r.status_code == 200 and r.json()["state"] == "in_progress"
    r = b.post(f"/api/cases/{cid}/complete", json={"notes": "已办结"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["state"] == "completed"
    assert [h["action"] for h in out["history"]] == ["accept", "transfer", "escalate", "transfer", "complete"]
    assert all(h["at"] and h["actor_id"] for h in out["history"])
    assert b.post(f"/api/cases/{cid}/complete", json={}).json()["error"]["code"] == "illegal_transition"
    mine = b.get("/api/cases", params={"mine": "true"}).json()
    assert [m["id"] for m in mine] == [cid]


def test_other_office_cannot_see_or_touch_cases(crig: CallRig) -> None:
    """An agent and a supervisor of another office get 404 for the case and an empty list."""
    with crig.h.ctx.db() as s, s.begin():
        other = Office(code="T9", name="别的街道")
        s.add(other)
        s.flush()
        other_id = other.id
    outsider = crig.qh.staff(Role.SUPERVISOR, crig.qh.new_user(Role.SUPERVISOR, other_id))
    with live_call(crig) as lc:
        case = _record(lc, "accepted")
        r = outsider.post("/api/cases", json={"ticket_id": lc.ticket_id, "outcome": "accepted"})
        assert r.status_code == 404
    assert outsider.get(f"/api/cases/{case['id']}").status_code == 404
    assert outsider.post(f"/api/cases/{case['id']}/complete", json={}).status_code == 404
    assert outsider.get("/api/cases").json() == []
    tech = crig.qh.staff(Role.TECHNICIAN)
    assert tech.get(f"/api/cases/{case['id']}").status_code == 403


# --- overdue -------------------------------------------------------------------------------------


async def test_overdue_job_marks_once_and_publishes_the_live_event(crig: CallRig) -> None:
    """After the due date the job stamps the case once, lists it as overdue, and publishes case.overdue."""
    with live_call(crig) as lc:
        case = _record(lc, "accepted")
    due = date.fromisoformat(str(case["due_date"]))
    sub = crig.h.ctx.events.subscribe(crig.h.office_id)
    try:
        crig.h.clock.set(datetime(due.year, due.month, due.day, 15, 0, tzinfo=UTC))  # 23:00 local: not late
        assert process_overdue(crig.h.ctx) == 0
        crig.h.clock.set(datetime(due.year, due.month, due.day, 16, 30, tzinfo=UTC))  # next local day
        assert process_overdue(crig.h.ctx) == 1
        assert process_overdue(crig.h.ctx) == 0
        await asyncio.sleep(0.05)  # deliveries are scheduled thread-safely onto this loop
        events = []
        while not sub.queue.empty():
            events.append(sub.queue.get_nowait())
    finally:
        sub.close()
    overdue = [e for e in events if e.topic == "case.overdue"]
    assert [e.payload for e in overdue] == [
        {"case_id": case["id"], "number": case["number"], "due_date": due.isoformat()}
    ]
    agent = crig.qh.staff(Role.AGENT, crig.agent_id)  # a fresh session: days have passed
    late = agent.get("/api/cases", params={"overdue": "true"}).json()
    assert [c["id"] for c in late] == [case["id"]] and late[0]["overdue"] is True
    assert agent.get("/api/cases", params={"overdue": "false"}).json() == []
    full = agent.get(f"/api/cases/{case['id']}").json()
    assert full["overdue"] is True and full["history"][-1]["action"] == "overdue"
    assert full["state"] == C.IN_PROGRESS


def test_documents_of_another_residents_call_cannot_be_attached(crig: CallRig) -> None:
    """A document captured in another agent's call for another ticket is refused (422); own ones attach."""
    from office.models import Call, Document

    other_agent = crig.qh.new_user(Role.AGENT)
    with live_call(crig) as lc:
        own = lc.upload(jpeg(64, 48)).json()["document_id"]
        case = _record(lc, "accepted")
        late = lc.upload(jpeg(64, 48), request_id="hw-2").json()["document_id"]
    with crig.h.ctx.db() as s, s.begin():
        t = s.get(Ticket, lc.ticket_id)
        assert t is not None
        stranger_ticket = Ticket(
            office_id=t.office_id,
            station_id=t.station_id,
            service_id=t.service_id,
            service_version=t.service_version,
            queue_prefix=t.queue_prefix,
            business_date=t.business_date,
            number=t.number + 100,
            display_number="X999",
            state="done",
            order_at=t.order_at,
            queued_at=t.queued_at,
        )
        s.add(stranger_ticket)
        s.flush()
        s.add(
            Call(
                id="call-stranger",
                office_id=t.office_id,
                station_id=t.station_id or 0,
                ticket_id=stranger_ticket.id,
                agent_id=other_agent,
                kiosk_id=crig.kiosk_id,
                state="ended",
            )
        )
        s.flush()
        doc = Document(
            office_id=t.office_id,
            call_id="call-stranger",
            kiosk_id=crig.kiosk_id,
            kind="page",
            mime="image/jpeg",
            size_bytes=1,
            sha256="0" * 64,
            ciphertext=b"\x00",
        )
        s.add(doc)
        s.flush()
        foreign = doc.id
    r = crig.agent.post(f"/api/cases/{case['id']}/documents", json={"document_ids": [foreign]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_document"
    r = crig.agent.post(f"/api/cases/{case['id']}/documents", json={"document_ids": [late]})
    assert r.status_code == 200 and [d["document_id"] for d in r.json()["documents"]] == [own, late]


def test_idempotency_key_replays_the_recorded_case_and_the_notice_stays_printable(crig: CallRig) -> None:
    """A repeated submission with the same Idempotency-Key returns the first case (200), writes nothing;
    the one-time notice is part of the case on every read."""
    with live_call(crig) as lc:
        mats = lc.materials()
        body = {"ticket_id": lc.ticket_id, "call_id": lc.call_id, "outcome": "needs_materials"}
        body["missing_material_ids"] = mats[:1]
        headers = {"Idempotency-Key": "case-key-0001"}
        first = crig.agent.post("/api/cases", json=body, headers=headers)
        again = crig.agent.post("/api/cases", json=body, headers=headers)
        other = crig.agent.post("/api/cases", json=body, headers={"Idempotency-Key": "case-key-0002"})
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    assert again.json()["id"] == first.json()["id"] != other.json()["id"]
    assert again.json()["notice"] == first.json()["notice"] is not None
    with crig.h.ctx.read_db() as s:
        assert len(list(s.scalars(select(Case)))) == 2
    shown = crig.agent.get(f"/api/cases/{first.json()['id']}").json()
    assert [m["material_id"] for m in shown["notice"]["missing"]] == mats[:1]


def test_days_left_count_from_the_office_today(crig: CallRig) -> None:
    """``days_left`` is counted from the office's date (Asia/Shanghai), not UTC's: at 16:30 UTC on the
    due date the office is already a day late; a completed case has none."""
    with live_call(crig) as lc:
        case = _record(lc, "accepted")
    due = date.fromisoformat(str(case["due_date"]))
    agent = crig.qh.staff(Role.AGENT, crig.agent_id)

    def left() -> tuple[object, object]:
        listed = agent.get("/api/cases").json()
        return listed[0]["days_left"], agent.get(f"/api/cases/{case['id']}").json()["days_left"]

    crig.h.clock.set(datetime(due.year, due.month, due.day, 1, 0, tzinfo=UTC) - timedelta(days=2))
    agent = crig.qh.staff(Role.AGENT, crig.agent_id)  # a fresh session at the new time
    assert left() == (2, 2)
    crig.h.clock.set(datetime(due.year, due.month, due.day, 15, 0, tzinfo=UTC))  # 23:00 local
    agent = crig.qh.staff(Role.AGENT, crig.agent_id)
    assert left() == (0, 0)
    crig.h.clock.set(datetime(due.year, due.month, due.day, 16, 30, tzinfo=UTC))  # 00:30 next local day
    agent = crig.qh.staff(Role.AGENT, crig.agent_id)
    assert left() == (-1, -1)
    assert agent.post(f"/api/cases/{case['id']}/complete", json={}).status_code == 200
    assert left() == (None, None)
