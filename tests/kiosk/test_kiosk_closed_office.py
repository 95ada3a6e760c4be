"""A kiosk after closing time: the office's 409 ``office_closed`` reaches the screen as the catalog's
closed-office message with the next opening filled in (zh-CN and English), and no ticket."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from kiosk.voice import CATALOG_DIR
from office.clock import FakeClock
from office.models import OfficeSchedule, Ticket
from office.seed_catalog import seed_catalog
from tests.conftest import TestDatabase
from tests.kiosk.test_kiosk_web import _client, _ui, _until
from tests.office.conftest import OfficeHarness, build_harness

PLAN = {"working": {str(d): {"hours": ["09:00-17:00"], "breaks": ["12:00-13:30"]} for d in range(5)}}


@pytest.fixture
def office(sqlite_db: TestDatabase, clock: FakeClock) -> Iterator[OfficeHarness]:
    """An in-process office with the catalog and stored weekday hours, on Friday 18:00 Shanghai."""
    h = build_harness(sqlite_db, clock)
    seed_catalog(h.app.state.ctx)
    with h.ctx.db() as s, s.begin():
        s.add(OfficeSchedule(office_id=h.office_id, plan=PLAN))
    clock.set(datetime(2026, 3, 6, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    yield h
    for c in h.clients:
        c.__exit__(None, None, None)


def test_taking_a_number_after_hours_shows_the_next_opening(office: OfficeHarness, tmp_path: Path) -> None:
    """A walk-in service (no card needed) at 18:00 on a Friday: the view's error message is
    ``error.office_closed`` carrying ``next_open_local`` Monday 09:00, which fills every placeholder
    of the ``.detail`` text in both catalogs; no ticket is issued."""
    oc = _client(office, tmp_path)
    ui, journey, _ = _ui(oc, tmp_path)
    with ui, ui.websocket_connect("/ws", headers={"origin": "http://testserver"}) as ws:
        _until(ws, lambda v: v["state"] == "idle" and v["catalog_ready"])
        services = ui.get("/api/catalog").json()["services"]
        svc = next(s for s in services if not s.get("needs_id_card", True))
        category = svc.get("category") or svc.get("category_code")
        for op in (
            {"op": "start", "lang": "zh-CN"},
            {"op": "category", "code": category},
            {"op": "service", "id": svc["id"]},
            {"op": "take_number"},
        ):
            ws.send_text(json.dumps(op))
        view = _until(ws, lambda v: (v.get("message") or {}).get("key") == "error.office_closed", limit=80)
    asyncio.run(oc.aclose())
    asyncio.run(journey.devices.close())
    message = view["message"]
    assert message["kind"] == "error"
    assert message["next_open_local"] == "2026-03-09 09:00"
    assert message["timezone"] == "Asia/Shanghai"
    for lang in ("zh-CN", "en"):
        catalog = json.loads((CATALOG_DIR / f"{lang}.json").read_text(encoding="utf-8"))
        text = catalog["error.office_closed.detail"]
        for name in re.findall(r"\{(\w+)\}", text):
            text = text.replace(f"{{{name}}}", message[name])
        assert "2026-03-09 09:00" in text and "{" not in text
    with office.ctx.read_db() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 0
