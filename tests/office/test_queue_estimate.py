"""Wait estimates: configured duration until enough samples, then measured; split among agents
online; predictions recorded and their error reported by the stats endpoint."""

from __future__ import annotations

from fastapi.testclient import TestClient

from office.models import Role
from office.queue.estimate import TIMES_TTL
from tests.office import test_queue_support as support
from tests.office.test_queue_support import QueueHarness

qh = support.qh


def _serve(agent: TestClient, minutes: float, q: QueueHarness) -> int:
    t = agent.post("/api/queue/call-next").json()["ticket"]
    assert t is not None
    agent.post(f"/api/queue/tickets/{t['id']}/answer", json={})
    q.h.clock.advance(minutes=minutes)
    assert agent.post(f"/api/queue/tickets/{t['id']}/complete", json={}).status_code == 200
    assert agent.put("/api/queue/agents/me/state", json={"state": "available"}).status_code == 200
    tid: int = t["id"]
    return tid


def test_configured_duration_divided_among_agents_online(qh: QueueHarness) -> None:
    """3 tickets of a 10-minute service ahead, 30 s ring overhead: 1920 s with one agent, half with two."""
    k = qh.kiosk()
    for _ in range(3):
        qh.take(k, "GOV-SSC-APPLY")  # expected_minutes = 10
    mine = qh.take(k, "GOV-SSC-APPLY")
    est = mine["estimate"]
    assert est["position"] == 3 and est["agents_online"] == 0  # nobody online: counted as one
    assert est["expected_s"] == 3 * 600 + 4 * 30
    assert (est["low_min"], est["high_min"]) == (24, 41)
    qh.agent()
    qh.agent()
    paused = qh.agent(available=False)
    paused.put("/api/queue/agents/me/state", json={"state": "paused", "reason": "培训"})
    est = k.get(f"/api/queue/tickets/{mine['id']}").json()["estimate"]
    assert est["agents_online"] == 2 and est["expected_s"] == (3 * 600 + 4 * 30) // 2


def _two_measured_services(qh: QueueHarness) -> tuple[TestClient, TestClient, TestClient]:
    """Settings for measured times from 2 samples, no ring overhead; two services of 4 and 6
    minutes completed and one ticket waiting. Returns (supervisor, kiosk, agent)."""
    sup = qh.staff(Role.SUPERVISOR)
    settings = {"estimate_min_samples": 2, "ring_overhead_s": 0}
    assert sup.put("/api/queue/settings", json=settings).status_code == 200
    k = qh.kiosk()
    agent = qh.agent()
    for _ in range(2):
        qh.take(k, "GOV-SSC-APPLY")
    _serve(agent, 4, qh)
    _serve(agent, 6, qh)
    qh.take(k, "GOV-SSC-APPLY")
    return sup, k, agent


def test_measured_handling_time_replaces_the_configured_one(qh: QueueHarness) -> None:
    """Once the office has enough completed samples, their mean serve time is used."""
    _, k, _ = _two_measured_services(qh)
    mine = qh.take(k, "GOV-SSC-APPLY")
    assert mine["estimate"]["expected_s"] == 300  # one ahead × mean(4, 6) minutes


def test_predicted_vs_actual_error_is_reported(qh: QueueHarness) -> None:
    """Stats report the mean absolute error between the prediction at issue and the actual wait."""
    sup = qh.staff(Role.SUPERVISOR)
    sup.put("/api/queue/settings", json={"ring_overhead_s": 0})
    k = qh.kiosk()
    agent = qh.agent()
    first = qh.take(k, "GOV-SSC-APPLY")
    second = qh.take(k, "GOV-SSC-APPLY")
    assert (first["estimate"]["expected_s"], second["estimate"]["expected_s"]) == (0, 600)
    qh.h.clock.advance(minutes=1)
    _serve(agent, 14, qh)  # first waited 60 s (error 60)
    _serve(agent, 1, qh)  # second waited 15 min = 900 s (error 300)
    stats = sup.get("/api/queue/stats").json()
    assert stats["by_state"] == {"done": 2}
    acc = stats["accuracy"]
    assert (
        acc["samples"] == 2
        and acc["mae_s"] == 180
        and acc["p90_error_s"] == 300
        and acc["mean_wait_s"] == 480
    )
    assert (
        sup.get("/api/queue/stats", params={"first_day": "2026-03-05", "last_day": "2026-03-01"}).status_code
        == 422
    )


def test_measured_handling_times_are_reused_for_a_few_seconds_then_remeasured(qh: QueueHarness) -> None:
    """The per-process handling-time cache: a service completed within TIMES_TTL of the last
    measurement does not move the next estimate; after TIMES_TTL it does; changing the office's
    estimate settings takes effect at once."""
    sup, k, agent = _two_measured_services(qh)
    assert qh.take(k, "GOV-SSC-APPLY")["estimate"]["expected_s"] == 300  # measured now: mean(4, 6) min
    _serve(agent, 0.05, qh)  # a 3-second service: the mean of the three is 201 s
    assert qh.take(k, "GOV-SSC-APPLY")["estimate"]["expected_s"] == 300  # 1 ahead, cached mean
    qh.h.clock.advance(seconds=TIMES_TTL.total_seconds())
    assert qh.take(k, "GOV-SSC-APPLY")["estimate"]["expected_s"] == 2 * 201
    latest = {"estimate_window": 1, "estimate_min_samples": 1, "ring_overhead_s": 0}
    assert sup.put("/api/queue/settings", json=latest).status_code == 200
    assert qh.take(k, "GOV-SSC-APPLY")["estimate"]["expected_s"] == 3 * 3  # the last service only
