"""Shared helpers for the ratings, follow-up and fleet tests (no tests here)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from office.clock import FakeClock
from office.models import Role
from office.ratings import CONTENT_VERSION
from tests.conftest import TestDatabase
from tests.office.conftest import OfficeHarness, build_harness
from tests.office.test_queue_support import QueueHarness, build_queue_harness


@dataclass
class RatingRig:
    """A seeded office with one kiosk, one agent and a supervisor."""

    qh: QueueHarness
    kiosk: TestClient
    agent: TestClient
    agent_id: int
    supervisor: TestClient

    @property
    def h(self) -> OfficeHarness:
        """The office harness."""
        return self.qh.h

    def served_ticket(self, *, complete: bool = True, **take: Any) -> int:
        """A ticket taken at the kiosk, called, answered and (unless told) completed: its id."""
        t = self.qh.take(self.kiosk, **take)
        r = self.agent.post("/api/queue/call-next")
        assert r.status_code == 200, r.text
        assert r.json()["ticket"]["id"] == t["id"]
        for step in ("ring", "answer", *(("complete",) if complete else ())):
            r = self.agent.post(f"/api/queue/tickets/{t['id']}/{step}", json={})
            assert r.status_code == 200, r.text
        if complete:
            r = self.agent.put("/api/queue/agents/me/state", json={"state": "available"})
            assert r.status_code == 200, r.text
        ticket_id: int = t["id"]
        return ticket_id

    def rate(self, ticket_id: int, level: int, reasons: list[str] | None = None, **extra: Any) -> Any:
        """POST a rating from the rig's kiosk; the response."""
        body = {
            "ticket_id": ticket_id,
            "level": level,
            "reasons": reasons if reasons is not None else (["slow"] if level <= 2 else []),
            "content_version": CONTENT_VERSION,
            **extra,
        }
        return self.kiosk.post("/api/kiosk/ratings", json=body)


def build_rating_rig(h: OfficeHarness) -> RatingRig:
    """A rig on ``h``."""
    qh = build_queue_harness(h)
    kiosk = qh.kiosk()
    agent = qh.agent()
    return RatingRig(qh, kiosk, agent, qh.user_id(agent), qh.staff(Role.SUPERVISOR))


@pytest.fixture
def rr(harness: OfficeHarness) -> RatingRig:
    """A rating rig on SQLite."""
    return build_rating_rig(harness)


@pytest.fixture
def short_rr(database: TestDatabase, clock: FakeClock) -> Iterator[RatingRig]:
    """A rating rig (SQLite and PostgreSQL) whose default rating applies 20 minutes after service."""
    h = build_harness(database, clock, rating_default_after_min=20)
    yield build_rating_rig(h)
    for c in h.clients:
        c.__exit__(None, None, None)


@pytest.fixture
def any_rr(any_harness: OfficeHarness) -> RatingRig:
    """A rating rig on SQLite and PostgreSQL."""
    return build_rating_rig(any_harness)
