"""A supervisor in real Chromium sees a 差评 arrive live from a kiosk and works it to closed, against
a real office process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from office import enrollment
from office.audit import Actor
from office.models import AuditEvent, Role, Service
from office.ratings import CONTENT_VERSION
from tests.conftest import TestDatabase
from tests.e2e.conftest import LiveOffice, screenshot
from tests.e2e.stations import start_seeded_office
from tests.office.test_queue_support import ELDER_ID

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


@pytest.fixture
def office(sqlite_db: TestDatabase, tmp_path: Path) -> Any:
    """A real office process with the catalog seeded."""
    live = start_seeded_office(sqlite_db, tmp_path)
    yield live
    live.stop()


def _served_ticket(office: LiveOffice, kiosk: httpx.Client) -> int:
    """A resident's ticket (real-name) taken at the kiosk, called, answered and completed by an agent."""
    with office.ctx.read_db() as s:
        service_id = s.scalar(select(Service.id).where(Service.code == "GOV-SSC-APPLY"))
    r = kiosk.post("/api/queue/tickets", json={"service_id": service_id, "id_number": ELDER_ID})
    assert r.status_code in (200, 201), r.text
    ticket_id: int = r.json()["id"]
    office.add_user("agent1", Role.AGENT, "Agent-pass-1234")
    agent = office.login("agent1")
    assert agent.put("/api/queue/agents/me/state", json={"state": "available"}).status_code == 200
    assert agent.post("/api/queue/call-next").json()["ticket"]["id"] == ticket_id
    for step in ("ring", "answer", "complete"):
        assert agent.post(f"/api/queue/tickets/{ticket_id}/{step}", json={}).status_code == 200
    return ticket_id


@pytest.mark.browser_date_differs
def test_supervisor_sees_a_bad_rating_live_and_works_it_to_closed(office: LiveOffice, page: Any) -> None:
    """The 差评 appears on the open page without a reload; each step button moves it on; the
    evaluator is shown masked (and audited); the work item ends closed with its whole history."""
    code = enrollment.register(
        office.ctx, station_id=office.station_id, name="k", actor=Actor("system", "e2e")
    ).code
    token = enrollment.enroll(office.ctx, code, ip="127.0.0.1").token
    kiosk = office.client(headers={"Authorization": f"Bearer {token}"})
    ticket_id = _served_ticket(office, kiosk)
    office.add_user("sup1", Role.SUPERVISOR, "Sup-pass-1234")

    page.goto(f"{office.url}/console/login.html?next=/console/followups.html")
    page.fill("#username", "sup1")
    page.fill("#password", "Sup-pass-1234")
    page.click("#submit")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#live")).to_have_attribute("data-state", "online")
    expect(page.locator("#empty")).to_be_visible()

    r = kiosk.post(
        "/api/kiosk/ratings",
        json={
            "ticket_id": ticket_id,
            "level": 1,
            "reasons": ["attitude", "slow"],
            "comment": "等了很久",
            "content_version": CONTENT_VERSION,
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["follow_up"] is True

    row = page.locator("#followups tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-state", "open")
    expect(row).to_contain_text("服务态度差")
    expect(page.locator("#toast")).to_contain_text("新差评")
    expect(page.locator("#kpi-follow-up")).to_have_text("0.0%")
    screenshot(page, "followups-new")

    row.click()
    expect(page.locator("#detail")).to_be_visible()
    expect(page.locator("#detail-comment")).to_have_text("等了很久")
    page.click("#evaluator-btn")
    expect(page.locator("#evaluator-out")).to_contain_text(ELDER_ID[-4:])
    assert ELDER_ID not in page.content()

    for event, state in [
        ("contact", "contacted"),
        ("classify:fix_now", "rectifying"),
        ("rectify", "feedback_due"),
        ("feedback", "feedback_given"),
        ("revisit", "revisited"),
        ("close", "closed"),
    ]:
        page.fill("#note", f"记录：{event}")
        page.locator(f'#actions button[data-event="{event}"]').click()
        expect(page.locator("#detail")).to_have_attribute("data-state", state)
        if event == "contact":
            expect(page.locator("#kpi-follow-up")).to_have_text("100.0%")
    expect(page.locator("#history li")).to_have_count(7)
    expect(page.locator("#actions button")).to_have_count(0)
    expect(page.locator("#kpi-rectification")).to_have_text("100.0%")
    screenshot(page, "followups-closed")
    # Closed items leave the default (open) list; the filter brings them back.
    expect(page.locator("#followups tbody tr")).to_have_count(0)
    page.select_option("#filter", "closed")
    expect(page.locator("#followups tbody tr")).to_have_attribute("data-state", "closed")

    with office.ctx.read_db() as s:
        reads = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "rating.evaluator_read")))
    assert len(reads) == 1 and reads[0].success
    assert page.console_errors == []
