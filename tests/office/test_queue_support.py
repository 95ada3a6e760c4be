"""Shared helpers for the queue tests (no tests here): a seeded catalog, kiosks, agents.

Use the fixtures with ``qh, any_qh = support.qh, support.any_qh`` in a test module.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from office import enrollment
from office.audit import Actor
from office.auth import SESSION_COOKIE
from office.models import Role, Service, User, WebSession
from office.security import digest
from office.seed_catalog import seed_catalog
from tests.office.conftest import OfficeHarness


def id_number(birth: str, seq: str = "001") -> str:
    """A valid ID number for a birth date ``YYYYMMDD`` (check character computed)."""
    body = f"110101{birth}{seq}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(body, weights, strict=True))
    return body + "10X98765432"[total % 11]


#: Valid 18-digit ID numbers (GB 11643 check characters), born 1950-03-01 and 1990-01-01.
ELDER_ID = id_number("19500301")
YOUNG_ID = id_number("19900101")


@dataclass
class QueueHarness:
    """An office harness with the catalog seeded, and helpers for kiosks and agents."""

    h: OfficeHarness
    services: dict[str, int] = field(default_factory=dict)
    _admin: TestClient | None = None

    @property
    def admin(self) -> TestClient:
        """An administrator's client (created once)."""
        if self._admin is None:
            self._admin = self.staff(Role.ADMIN)
        return self._admin

    def kiosk(self, station_id: int | None = None) -> TestClient:
        """A client for a freshly enrolled kiosk (at the harness station unless told)."""
        return self.h.kiosk_client(self.kiosk_token(station_id))

    def kiosk_token(self, station_id: int | None = None) -> str:
        """Register and enroll a kiosk through the enrollment service; its device token."""
        code = enrollment.register(
            self.h.ctx, station_id=station_id or self.h.station_id, name="k", actor=Actor("system", "test")
        ).code
        return enrollment.enroll(self.h.ctx, code, ip="127.0.0.1").token

    def new_user(self, role: Role, office_id: int | None = -1) -> int:
        """A staff row without a usable password (argon2 is slow; tests use :meth:`staff`)."""
        with self.h.ctx.db() as s, s.begin():
            u = User(
                username=f"{role.value}-{uuid.uuid4().hex[:10]}",
                display_name=f"测试{role.value}",
                role=role,
                office_id=self.h.office_id if office_id == -1 else office_id,
                password_hash="!unusable",
            )
            s.add(u)
            s.flush()
            return u.id

    def staff(self, role: Role, user_id: int | None = None) -> TestClient:
        """A client with a session for a new (or given) user, CSRF header preset, no argon2 login."""
        uid = user_id if user_id is not None else self.new_user(role, None if role is Role.ADMIN else -1)
        token, csrf = uuid.uuid4().hex + uuid.uuid4().hex, uuid.uuid4().hex
        now = self.h.clock.now()
        with self.h.ctx.db() as s, s.begin():
            s.add(
                WebSession(
                    id=digest(token),
                    user_id=uid,
                    csrf_token=csrf,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + timedelta(hours=12),
                )
            )
        c = self.h.client()
        c.cookies.set(SESSION_COOKIE, token)
        c.headers["X-CSRF-Token"] = csrf
        return c

    def agent(
        self, role: Role = Role.AGENT, *, available: bool = True, window: int | None = None
    ) -> TestClient:
        """A logged-in agent, set available unless told otherwise."""
        c = self.staff(role)
        if available:
            body: dict[str, Any] = {"state": "available"}
            if window is not None:
                body["window_no"] = window
            r = c.put("/api/queue/agents/me/state", json=body)
            assert r.status_code == 200, r.text
        return c

    def take(self, kiosk: TestClient, code: str = "GOV-SSC-APPLY", **body: Any) -> dict[str, Any]:
        """Take a number for service ``code``; returns the ticket JSON."""
        r = kiosk.post("/api/queue/tickets", json={"service_id": self.services[code], **body})
        assert r.status_code in (200, 201), r.text
        out: dict[str, Any] = r.json()
        return out

    def user_id(self, client: TestClient) -> int:
        """The id of the user behind ``client``."""
        uid: int = client.get("/api/auth/me").json()["id"]
        return uid


def build_queue_harness(h: OfficeHarness) -> QueueHarness:
    """Seed the catalog into ``h``'s database."""
    seed_catalog(h.ctx)
    with h.ctx.read_db() as s:
        services = {r[0]: r[1] for r in s.execute(select(Service.code, Service.id)).all()}
    return QueueHarness(h=h, services=services)


@pytest.fixture
def qh(harness: OfficeHarness) -> QueueHarness:
    """A queue harness on SQLite."""
    return build_queue_harness(harness)


@pytest.fixture
def any_qh(any_harness: OfficeHarness) -> QueueHarness:
    """A queue harness on SQLite and PostgreSQL."""
    return build_queue_harness(any_harness)


def unique_key() -> str:
    """A fresh idempotency key."""
    return uuid.uuid4().hex
