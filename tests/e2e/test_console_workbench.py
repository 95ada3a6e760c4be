"""The agent workbench (/console/index.html) in real Chromium against a real office process: the live
queue panel, the status bar, queue actions, and (with a real ``doorstep kiosk run`` process on simulated
devices) serving a resident end to end: ID card, two document pages, materials ticked, case filed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from office.models import AuditEvent, Role, Service, Station
from tests.conftest import TestDatabase
from tests.e2e.conftest import LiveOffice, screenshot
from tests.e2e.stations import start_seeded_office

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def office(sqlite_db: TestDatabase, tmp_path: Path) -> Iterator[LiveOffice]:
    """``doorstep office run`` with one office, its first station and the seeded catalog."""
    live = start_seeded_office(sqlite_db, tmp_path)
    yield live
    live.stop()


def add_stations(office: LiveOffice, n: int) -> list[int]:
    """``n`` more stations in the office; their ids."""
    with Session(office.ctx.engine) as s, s.begin():
        rows = [
            Station(
                office_id=office.office_id,
                code=f"S{i + 2}",
                name=f"第{i + 2}服务站",
                name_en=f"Station {i + 2}",
            )
            for i in range(n)
        ]
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows]


def service_ids(office: LiveOffice, *codes: str) -> list[int]:
    with office.ctx.read_db() as s:
        ids = {c: s.scalar(select(Service.id).where(Service.code == c)) for c in codes}
    assert all(ids.values()), ids
    return [int(ids[c]) for c in codes]  # type: ignore[arg-type]


def login(page: Any, office: LiveOffice, username: str) -> None:
    page.goto(f"{office.url}/console/login.html")
    page.fill("#username", username)
    page.fill("#password", office.passwords[username])
    page.click("#submit")
    page.wait_for_url(f"{office.url}/console/")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


def test_queue_panel_status_bar_and_queue_actions_follow_the_office_live(
    office: LiveOffice, page: Any
) -> None:
    """Tickets issued at three stations appear in the panel as they are issued (no reload), per service
    with the longest wait and a service level in text; the agent pauses with a reason, becomes available,
    calls a ticket out of order with a reason, transfers it to another service; the help overlay lists
    the shortcuts; English is one click away."""
    office.add_user("agent1", Role.AGENT)
    office.add_user("desk", Role.AGENT)
    stations = [office.station_id, *add_stations(office, 2)]
    ssc, hukou = service_ids(office, "GOV-SSC-APPLY", "GOV-HUKOU-PROOF")
    desk = office.login("desk")

    def issue(service_id: int, station_id: int) -> dict[str, Any]:
        r = desk.post(
            "/api/queue/tickets",
            json={"service_id": service_id, "station_id": station_id},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body

    first = [issue(ssc if i % 2 else hukou, stations[i % 3]) for i in range(5)]
    login(page, office, "agent1")
    expect(page.locator("#welcome")).to_have_text("您好，测试agent")
    expect(page.locator("#nav a")).to_have_text(["工作台", "叫号屏"])
    tickets = page.locator("#tickets li")
    expect(tickets).to_have_count(5)
    expect(page.locator("#events-pill")).to_have_attribute("data-state", "online")

    # Live: a new number appears without a reload; the totals follow.
    new = issue(ssc, stations[2])
    row = page.locator(f'#tickets li[data-ticket-id="{new["id"]}"]')
    expect(row).to_contain_text(new["number"])
    expect(row).to_contain_text("第3服务站")
    expect(page.locator("#queue-total")).to_have_text("6")
    svc_row = page.locator(f'#svc-rows tr[data-service-id="{ssc}"]')
    expect(svc_row).to_contain_text("3")
    expect(svc_row.locator(".sl")).to_have_text("正常")

    # Status bar: pause with a reason, then available.
    page.select_option("#pause-reason", "lunch")
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "paused")
    expect(page.locator("#agent-state-text")).to_have_text("暂停 · 午餐")
    page.keyboard.press("a")
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "available")

    # Call the last ticket out of order (reason required), from the keyboard.
    target = first[3]
    page.locator(f'#tickets li[data-ticket-id="{target["id"]}"]').focus()
    page.keyboard.press("Enter")
    expect(page.locator("#dlg-call")).to_be_visible()
    page.fill("#dlg-call-reason", "行动不便，优先办理")
    page.click("#dlg-call-ok")
    expect(page.locator("#ticket-number")).to_have_text(target["number"])
    expect(page.locator(f'#tickets li[data-ticket-id="{target["id"]}"]')).to_have_count(0)
    expect(page.locator("#queue-total")).to_have_text("5")
    screenshot(page, "workbench-queue-calling")

    # Transfer it to another service at the front: it returns to the queue as transferred.
    page.keyboard.press("t")
    expect(page.locator("#dlg-transfer")).to_be_visible()
    page.select_option("#dlg-transfer-service", str(hukou))
    page.check("input[name=placement][value=front]")
    page.fill("#dlg-transfer-reason", "应办户籍证明")
    page.click("#dlg-transfer button[value=ok]")
    moved = page.locator(f'#tickets li[data-ticket-id="{target["id"]}"]')
    expect(moved).to_have_attribute("data-state", "transferred")
    expect(moved).to_have_attribute("data-service-id", str(hukou))
    with office.ctx.read_db() as s:
        audited = {
            (e.action, e.target_id): e.details
            for e in s.scalars(select(AuditEvent).where(AuditEvent.target_type == "ticket"))
        }
    assert ("ticket.called_out_of_order", str(target["id"])) in audited
    assert audited[("ticket.transferred", str(target["id"]))]["placement"] == "front"

    page.keyboard.press("?")
    expect(page.locator("#dlg-help")).to_be_visible()
    expect(page.locator("#help-keys")).to_contain_text("读身份证")
    screenshot(page, "workbench-help")
    page.keyboard.press("Escape")
    page.click("#lang")
    expect(page.locator("#queue-title")).to_have_text("Queue")
    expect(svc_row.locator(".sl")).to_have_text("OK")
    screenshot(page, "workbench-queue-en")
    errors = [e for e in page.console_errors if "Failed to load resource" not in e]
    assert errors == []


def test_technician_home_lists_only_their_pages(office: LiveOffice, page: Any) -> None:
    """Links by role: a technician gets the fleet and the board, no workbench (no personal data)."""
    office.add_user("tech", Role.TECHNICIAN)
    page.goto(f"{office.url}/console/login.html")
    page.fill("#username", "tech")
    page.fill("#password", office.passwords["tech"])
    page.click("#submit")
    page.wait_for_url(f"{office.url}/console/")
    expect(page.locator("#home-links a")).to_have_text(["终端运维", "叫号屏"])
    expect(page.locator("#workbench")).to_be_hidden()
    expect(page.locator("#home-links a").first).to_have_attribute("href", "/console/fleet.html")
