"""The reads the workbench's queue panel and case form rely on: the queue without per-ticket estimates
(one query, for 1,000 waiting tickets), and a service's required materials with their ids."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from office.clock import FakeClock
from office.models import Role
from tests.conftest import TestDatabase
from tests.office.conftest import build_harness
from tests.office.test_queue_support import QueueHarness, build_queue_harness


@pytest.fixture
def qh(sqlite_db: TestDatabase, clock: FakeClock) -> Iterator[QueueHarness]:
    h = build_harness(sqlite_db, clock)
    yield build_queue_harness(h)
    for c in h.clients:
        c.__exit__(None, None, None)


def test_queue_without_estimates_has_the_same_tickets_in_the_same_order(qh: QueueHarness) -> None:
    """``?estimates=false`` lists the same queued tickets in call order, each without an estimate."""
    kiosk = qh.kiosk()
    taken = [qh.take(kiosk, code) for code in ("GOV-SSC-APPLY", "GOV-HUKOU-PROOF", "GOV-SSC-APPLY")]
    agent = qh.staff(Role.AGENT)
    full = agent.get("/api/queue/tickets")
    fast = agent.get("/api/queue/tickets", params={"estimates": "false"})
    assert full.status_code == fast.status_code == 200
    assert [t["id"] for t in fast.json()] == [t["id"] for t in full.json()] == [t["id"] for t in taken]
    assert all(t["estimate"] is None for t in fast.json())
    assert all(t["estimate"] is not None for t in full.json())


def test_service_materials_carry_the_ids_a_case_ticks(qh: QueueHarness) -> None:
    """Materials in order with ids (public, like the catalog); an unknown service is a 404."""
    sid = qh.services["GOV-SSC-REPLACE"]
    client = qh.h.client()
    spec = client.get(f"/api/catalog/services/{sid}").json()
    r = client.get(f"/api/catalog/services/{sid}/materials")
    assert r.status_code == 200
    materials = r.json()
    assert [m["name"] for m in materials] == [m["name"] for m in spec["materials"]]
    assert len({m["id"] for m in materials}) == len(materials) == 3
    assert [m["position"] for m in materials] == sorted(m["position"] for m in materials)
    assert client.get("/api/catalog/services/999999/materials").status_code == 404
