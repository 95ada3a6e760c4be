"""In-process office fixtures: an app per test on its own database, with helpers to act as
each kind of caller (staff of every role, an enrolled kiosk, a revoked kiosk, anonymous)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from office.accounts import create_user
from office.app import create_app
from office.clock import FakeClock
from office.context import OfficeContext
from office.models import Office, Role, Station
from tests.conftest import TestDatabase, make_settings

PASSWORDS = {role: f"Pw-{role.value}-12345" for role in Role}


@dataclass
class OfficeHarness:
    """An office app under test plus ways to get authenticated clients."""

    app: FastAPI
    db: TestDatabase
    clock: FakeClock
    office_id: int
    station_id: int
    clients: list[TestClient] = field(default_factory=list)

    @property
    def ctx(self) -> OfficeContext:
        ctx: OfficeContext = self.app.state.ctx
        return ctx

    def client(self, **kwargs: Any) -> TestClient:
        """A new anonymous client (own cookie jar)."""
        c = TestClient(self.app, raise_server_exceptions=False, **kwargs)
        c.__enter__()
        self.clients.append(c)
        return c

    def add_user(self, role: Role, username: str | None = None, office_id: int | None = -1) -> str:
        """Create a user of ``role``; returns the username (password is ``PASSWORDS[role]``)."""
        name = username or f"{role.value}{len(self.clients)}x{id(self) % 997}"
        with self.ctx.db() as s, s.begin():
            create_user(
                s,
                username=name,
                display_name=f"Test {role.value}",
                role=role,
                password=PASSWORDS[role],
                office_id=self.office_id if office_id == -1 else office_id,
                hashing=self.ctx.passwords,
            )
        return name

    def login(self, role: Role, username: str | None = None) -> TestClient:
        """A client logged in as a fresh user of ``role``, with the CSRF header preset."""
        name = username or self.add_user(role)
        c = self.client()
        r = c.post("/api/auth/login", json={"username": name, "password": PASSWORDS[role]})
        assert r.status_code == 200, r.text
        c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return c

    def enroll_kiosk(self, admin: TestClient | None = None) -> tuple[int, str]:
        """Register and enroll a kiosk at the harness station; returns (kiosk id, device token)."""
        admin = admin or self.login(Role.ADMIN)
        r = admin.post("/api/kiosks", json={"station_id": self.station_id, "name": "k"})
        assert r.status_code == 201, r.text
        code = r.json()["enrollment_code"]
        r = self.client().post("/api/kiosk/enroll", json={"code": code})
        assert r.status_code == 200, r.text
        return r.json()["kiosk_id"], r.json()["token"]

    def kiosk_client(self, token: str) -> TestClient:
        """A client sending the device token."""
        return self.client(headers={"Authorization": f"Bearer {token}"})


def build_harness(db: TestDatabase, clock: FakeClock, **overrides: Any) -> OfficeHarness:
    """An office app on ``db`` with one office and one station."""
    app = create_app(make_settings(db, **overrides), clock=clock, engine=db.engine)
    ctx: OfficeContext = app.state.ctx
    with ctx.db() as s, s.begin():
        office = Office(code="T1", name="测试街道", name_en="Test Office")
        s.add(office)
        s.flush()
        station = Station(office_id=office.id, code="ST1", name="测试服务站")
        s.add(station)
        s.flush()
        ids = (office.id, station.id)
    return OfficeHarness(app=app, db=db, clock=clock, office_id=ids[0], station_id=ids[1])


@pytest.fixture
def harness(sqlite_db: TestDatabase, clock: FakeClock) -> Iterator[OfficeHarness]:
    """An in-process office on SQLite."""
    h = build_harness(sqlite_db, clock)
    yield h
    for c in h.clients:
        c.__exit__(None, None, None)


@pytest.fixture
def any_harness(database: TestDatabase, clock: FakeClock) -> Iterator[OfficeHarness]:
    """An in-process office on SQLite and on PostgreSQL."""
    h = build_harness(database, clock)
    yield h
    for c in h.clients:
        c.__exit__(None, None, None)
