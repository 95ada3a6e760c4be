"""The statistics API over a history driven through the real queue API, access rules and CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient

from office.models import Role
from tests.office import test_queue_support as support
from tests.office.test_queue_support import QueueHarness

qh, any_qh = support.qh, support.any_qh


def _post(c: TestClient, ticket_id: int, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    r = c.post(f"/api/queue/tickets/{ticket_id}/{action}", json=body or {})
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def _next(agent: TestClient) -> dict[str, Any]:
    r = agent.post("/api/queue/call-next")
    assert r.status_code == 200, r.text
    ticket: dict[str, Any] = r.json()["ticket"]
    return ticket


def _day(any_qh: QueueHarness) -> tuple[TestClient, int, int]:
    """09:00 two tickets; the first is served 10 min by A, transferred to B, served 5 min; the second leaves."""
    clock = any_qh.h.clock
    k = any_qh.kiosk()
    a = any_qh.agent()
    b = any_qh.agent()
    a_id, b_id = any_qh.user_id(a), any_qh.user_id(b)
    t1 = any_qh.take(k)
    clock.advance(minutes=1)
    t2 = any_qh.take(k)
    clock.advance(minutes=4)
    assert _next(a)["id"] == t1["id"]
    _post(a, t1["id"], "ring")
    clock.advance(minutes=1)
    _post(a, t1["id"], "answer")  # waited 6 min
    clock.advance(minutes=10)
    _post(a, t1["id"], "transfer", {"agent_id": b_id, "placement": "front"})
    clock.advance(minutes=2)
    assert _next(b)["id"] == t1["id"]
    _post(b, t1["id"], "answer")
    clock.advance(minutes=5)
    _post(b, t1["id"], "complete")
    _post(k, t2["id"], "leave")
    clock.advance(minutes=1)
    any_qh.take(k)  # still waiting
    return k, a_id, b_id


def test_period_figures_of_a_day_driven_through_the_queue_api(any_qh: QueueHarness) -> None:
    """Wait to first serve, handling split across the transfer, abandonment and the hour chart."""
    _, a_id, b_id = _day(any_qh)
    sup = any_qh.staff(Role.SUPERVISOR)
    r = sup.get("/api/stats/period")
    assert r.status_code == 200, r.text
    body = r.json()
    s = body["summary"]
    assert (s["issued"], s["served"], s["completed"], s["abandoned"], s["ended"]) == (3, 1, 1, 1, 2)
    assert s["wait_mean_s"] == 360.0 and s["wait_p90_s"] == 360.0
    assert s["handling_mean_s"] == 900.0
    assert s["abandonment_rate"] == 0.5 and s["within_target_rate"] == 1.0
    agents = {x["agent_id"]: x for x in body["agents"]}
    assert agents[a_id]["handling_mean_s"] == 600.0 and agents[b_id]["handling_mean_s"] == 300.0
    assert sum(h["served"] for h in body["hourly"]) == 1
    assert body["hourly"][9]["served"] == 1  # the fake clock starts 09:00 Asia/Shanghai
    assert body["wait_distribution"][1] == {"low_min": 5, "high_min": 10, "count": 1}
    assert [x["served"] for x in body["trend"]] == [1]


def test_live_view_and_csv_export(any_qh: QueueHarness) -> None:
    """The live view counts the waiting ticket and the agents; every table exports as CSV."""
    _day(any_qh)
    any_qh.h.clock.advance(minutes=2)
    sup = any_qh.staff(Role.SUPERVISOR)
    live = sup.get("/api/stats/live").json()
    assert live["waiting"] == 1 and live["longest_wait_s"] == 120.0
    assert live["agent_states"]["wrap_up"] == 2 and live["agent_states"]["offline"] == 0
    (station,) = [x for x in live["stations"] if x["station_id"] == any_qh.h.station_id]
    assert station["waiting"] == 1 and station["kiosks"] == 1 and station["kiosks_online"] == 0
    r = sup.get("/api/stats/export/stations.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert [(x["key"], x["issued"], x["served"]) for x in rows] == [(str(any_qh.h.station_id), "3", "1")]
    for table in ("live-stations", "live-agents", "live-calls", "summary", "services", "agents", "hourly"):
        r = sup.get(f"/api/stats/export/{table}.csv")
        assert r.status_code == 200, (table, r.text)
    hourly = list(csv.DictReader(io.StringIO(sup.get("/api/stats/export/hourly.csv").text.lstrip("\ufeff"))))
    assert len(hourly) == 24 and hourly[9] == {"hour": "9", "served": "1"}


def test_only_supervisors_and_admins_of_the_office(qh: QueueHarness) -> None:
    """Agents and technicians are refused; a supervisor cannot name another office; admins must name one."""
    assert qh.agent(available=False).get("/api/stats/live").status_code == 403
    assert qh.staff(Role.TECHNICIAN).get("/api/stats/period").status_code == 403
    sup = qh.staff(Role.SUPERVISOR)
    assert sup.get("/api/stats/period", params={"office_id": qh.h.office_id + 1}).status_code == 403
    assert qh.admin.get("/api/stats/period").status_code == 422
    assert qh.admin.get("/api/stats/period", params={"office_id": qh.h.office_id}).status_code == 200
    bad = sup.get("/api/stats/period", params={"first_day": "2026-03-05", "last_day": "2026-03-01"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "bad_period"
    long = sup.get("/api/stats/period", params={"first_day": "2024-01-01", "last_day": "2026-03-01"})
    assert long.status_code == 422
