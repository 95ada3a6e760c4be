"""Schedule API: weekly hours with 延时/错时, overrides, rota, booking policy, calendar view, access."""

from __future__ import annotations

from datetime import time

from office.models import Office, Role, Station
from tests.office.conftest import OfficeHarness
from tests.office.test_booking_support import add_agents, add_service, book, kiosk, local

PLAN = {
    "working": {
        str(d): {
            "hours": ["09:00-17:00"],
            "breaks": ["12:00-13:30"],
            "extended": ["17:00-19:00"] if d == 2 else [],
        }
        for d in range(5)
    },
    "rest": {"5": {"hours": ["09:00-12:00"]}},
}


def test_weekly_plan_with_extended_and_staggered_hours_drives_the_calendar_and_slots(
    harness: OfficeHarness,
) -> None:
    """Wednesday 延时 to 19:00 and Saturday 错时 09-12 appear in the calendar view and in slots."""
    h = harness
    sup = h.login(Role.SUPERVISOR)
    r = sup.put(f"/api/offices/{h.office_id}/schedule", json=PLAN)
    assert r.status_code == 200, r.text
    assert sup.get(f"/api/offices/{h.office_id}/schedule").json()["rest"]["5"]["hours"] == ["09:00-12:00"]
    cal = sup.get(f"/api/offices/{h.office_id}/calendar", params={"start": "2026-03-02", "days": 7}).json()
    by_day = {d["day"]: d for d in cal}
    assert by_day["2026-03-04"]["hours"] == ["09:00-12:00", "13:30-19:00"]
    assert by_day["2026-03-07"]["hours"] == ["09:00-12:00"] and not by_day["2026-03-07"]["working_day"]
    assert by_day["2026-03-08"]["hours"] == []
    svc = add_service(h, minutes=60)
    add_agents(h, 1, start=time(8), end=time(20))
    k = kiosk(h)
    slots = k.client.get("/api/kiosk/booking/slots", params={"service_id": svc, "days": 7}).json()["slots"]
    times = {(s["local_date"], s["local_time"]) for s in slots}
    assert ("2026-03-04", "17:30") in times and ("2026-03-03", "17:30") not in times  # 延时 only on Wednesday
    assert ("2026-03-07", "11:00") in times and ("2026-03-07", "12:00") not in times


def test_calendar_view_marks_holidays_and_makeup_days(harness: OfficeHarness) -> None:
    """Spring Festival days are holidays without hours; the make-up Saturday is a working day with hours."""
    h = harness
    agent = h.login(Role.AGENT)
    cal = agent.get(f"/api/offices/{h.office_id}/calendar", params={"start": "2026-02-13", "days": 16}).json()
    by_day = {d["day"]: d for d in cal}
    assert by_day["2026-02-16"]["holiday"] == "春节" and by_day["2026-02-16"]["hours"] == []
    assert by_day["2026-02-14"]["makeup_day"] and by_day["2026-02-14"]["working_day"]
    assert by_day["2026-02-14"]["hours"] == ["09:00-12:00", "13:30-17:00"]
    assert by_day["2026-02-28"]["working_day"]


def test_overrides_set_special_hours_and_can_be_removed(harness: OfficeHarness) -> None:
    """A special-hours override replaces the day; deleting it restores the weekly plan."""
    h = harness
    admin = h.login(Role.ADMIN)
    url = f"/api/offices/{h.office_id}/overrides/2026-03-03"
    assert admin.put(url, json={"hours": ["14:00-16:00"], "note": "培训"}).status_code == 204
    day = admin.get(f"/api/offices/{h.office_id}/calendar", params={"start": "2026-03-03", "days": 1}).json()[
        0
    ]
    assert day["hours"] == ["14:00-16:00"] and day["note"] == "培训"
    bad = admin.put(url, json={"hours": ["16:00-14:00"]})
    assert bad.status_code == 422
    assert admin.delete(url).status_code == 204
    day = admin.get(f"/api/offices/{h.office_id}/calendar", params={"start": "2026-03-03", "days": 1}).json()[
        0
    ]
    assert day["hours"] == ["09:00-12:00", "13:30-17:00"]


def test_rota_replaces_and_validates_its_agents(harness: OfficeHarness) -> None:
    """The rota names only active agents of the office, with shifts that end after they start."""
    h = harness
    (uid,) = add_agents(h, 1, weekdays=())
    sup = h.login(Role.SUPERVISOR)
    url = f"/api/offices/{h.office_id}/rota"
    shift = {"user_id": uid, "weekday": 0, "start": "09:00", "end": "12:00"}
    r = sup.put(url, json=[shift, {**shift, "weekday": 1}])
    assert r.status_code == 200, r.text
    assert len(sup.get(url).json()) == 2
    r = sup.put(url, json=[{**shift, "user_id": 99999}])
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_agent"
    r = sup.put(url, json=[{**shift, "start": "13:00", "end": "12:00"}])
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_shift"
    assert len(sup.get(url).json()) == 2  # a refused update changes nothing


def test_booking_policy_changes_the_horizon_and_hold_time(harness: OfficeHarness) -> None:
    """A 3-day horizon limits slots; a 10-minute hold outlives the default 5."""
    h = harness
    svc = add_service(h)
    add_agents(h, 1)
    admin = h.login(Role.ADMIN)
    url = f"/api/offices/{h.office_id}/booking-policy"
    assert admin.get(url).json()["hold_minutes"] == 5
    r = admin.put(url, json={"horizon_days": 3, "hold_minutes": 10})
    assert r.status_code == 200 and r.json()["horizon_days"] == 3
    k = kiosk(h)
    days = {
        s["local_date"]
        for s in k.client.get("/api/kiosk/booking/slots", params={"service_id": svc}).json()["slots"]
    }
    assert max(days) == "2026-03-04"
    r = k.client.post(
        "/api/kiosk/booking/holds", json={"service_id": svc, "starts_at": local(2026, 3, 3, 10).isoformat()}
    )
    assert r.status_code == 201
    assert r.json()["expires_at"] == "2026-03-02T01:10:00Z"
    assert admin.put(url, json={"hold_minutes": 0}).status_code == 422


def test_access_agents_read_supervisors_write_and_other_offices_are_refused(harness: OfficeHarness) -> None:
    """Agents may read but not change; staff of another office get 403; kiosks cannot call staff routes."""
    h = harness
    with h.ctx.db() as s, s.begin():
        other = Office(code="T2", name="另一街道")
        s.add(other)
        s.flush()
        s.add(Station(office_id=other.id, code="X", name="x"))
        other_id = other.id
    agent = h.login(Role.AGENT)
    assert agent.get(f"/api/offices/{h.office_id}/schedule").status_code == 200
    assert agent.put(f"/api/offices/{h.office_id}/schedule", json=PLAN).status_code == 403
    sup = h.login(Role.SUPERVISOR)
    assert sup.get(f"/api/offices/{other_id}/schedule").status_code == 403
    assert (
        sup.post(f"/api/offices/{other_id}/closures", json={"day": "2026-03-05", "reason": "x"}).status_code
        == 403
    )
    assert sup.get(f"/api/offices/{other_id}/appointments", params={"day": "2026-03-05"}).status_code == 403
    admin = h.login(Role.ADMIN)
    assert admin.get(f"/api/offices/{other_id}/schedule").status_code == 200
    assert admin.get("/api/offices/99999/schedule").status_code == 404
    k = kiosk(h)
    assert k.client.get(f"/api/offices/{h.office_id}/schedule").status_code == 403
    assert agent.get("/api/kiosk/booking/slots", params={"service_id": 1}).status_code == 403


def test_staff_list_shows_the_days_bookings_masked(harness: OfficeHarness) -> None:
    """Staff see code, state and a masked ID; never the number or the phone."""
    h = harness
    svc = add_service(h)
    add_agents(h, 1)
    k = kiosk(h)
    b = book(k, svc, local(2026, 3, 3, 10))
    agent = h.login(Role.AGENT)
    r = agent.get(f"/api/offices/{h.office_id}/appointments", params={"day": "2026-03-03"})
    assert r.status_code == 200
    (row,) = r.json()
    assert row["code"] == b["code"] and row["id_masked"] == "1101**********0016" and row["state"] == "booked"
    assert "13812345678" not in r.text and "110105198001010016" not in r.text


def test_rota_changes_resync_live_capacity_without_taking_places_away(harness: OfficeHarness) -> None:
    """Two agents → one: a half-booked slot becomes full, a fully booked one is kept (over-committed)."""
    from office.booking.resync import resync_capacity

    h = harness
    svc = add_service(h)
    a1, a2 = add_agents(h, 2)
    k = kiosk(h)
    book(k, svc, local(2026, 3, 3, 10))
    book(k, svc, local(2026, 3, 3, 11), serial=2)
    book(k, svc, local(2026, 3, 3, 11), serial=3)
    sup = h.login(Role.SUPERVISOR)
    only_a1 = [{"user_id": a1, "weekday": wd, "start": "09:00", "end": "17:00"} for wd in range(7)]
    assert sup.put(f"/api/offices/{h.office_id}/rota", json=only_a1).status_code == 200
    slots = k.client.get("/api/kiosk/booking/slots", params={"service_id": svc, "days": 2}).json()["slots"]
    by_time = {(s["local_date"], s["local_time"]): s for s in slots}
    assert ("2026-03-03", "10:00") not in by_time and ("2026-03-03", "11:00") not in by_time
    assert by_time[("2026-03-03", "10:30")]["capacity"] == 1
    r = k.client.post(
        "/api/kiosk/booking/holds", json={"service_id": svc, "starts_at": local(2026, 3, 3, 10).isoformat()}
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "slot_full"
    assert resync_capacity(h.ctx, h.office_id).overcommitted == 1  # 11:00 keeps both bookings
    both = only_a1 + [{**x, "user_id": a2} for x in only_a1]
    assert sup.put(f"/api/offices/{h.office_id}/rota", json=both).status_code == 200
    r = k.client.post(
        "/api/kiosk/booking/holds", json={"service_id": svc, "starts_at": local(2026, 3, 3, 10).isoformat()}
    )
    assert r.status_code == 201


def test_staff_cancel_needs_no_id_ignores_the_cutoff_and_is_office_scoped(harness: OfficeHarness) -> None:
    """An agent cancels inside the cut-off on the resident's behalf; the audit keeps who did it."""
    h = harness
    svc = add_service(h)
    add_agents(h, 1)
    b = book(kiosk(h), svc, local(2026, 3, 2, 11))
    h.clock.set(local(2026, 3, 2, 10, 30))
    agent = h.login(Role.AGENT)
    r = agent.post(f"/api/offices/{h.office_id}/appointments/{b['code']}/cancel", json={"reason": "电话取消"})
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    r = agent.post(f"/api/offices/{h.office_id}/appointments/{b['code']}/cancel", json={"reason": "x"})
    assert r.status_code == 409
    r = agent.post(f"/api/offices/{h.office_id + 1}/appointments/{b['code']}/cancel", json={"reason": "x"})
    assert r.status_code == 403
