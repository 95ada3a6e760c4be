"""The overdue alert (限时办结) in real Chromium: a case accepted on a fake-clock day whose due date
has passed is marked overdue on the case list, and when the office's overdue job announces it
(``case.overdue`` on the live events) the open case page raises its banner and the open workbench
shows one too, linking to the case list. The office app runs in this process (uvicorn on loopback)
so the test owns its clock and runs the job itself."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn
from playwright.sync_api import expect
from sqlalchemy import select, update

from office import enrollment
from office.accounts import create_user
from office.app import create_app
from office.audit import Actor
from office.cases import process_overdue
from office.clock import FakeClock
from office.context import OfficeContext
from office.models import Role, Service
from office.models.cases import Case
from office.seed_catalog import seed_catalog
from tests.conftest import TIMEOUT, TestDatabase, make_settings
from tests.e2e.conftest import screenshot
from tests.e2e.stations import seed_office
from tests.office.test_queue_support import ELDER_ID

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

PASSWORD = "Agent-pass-1234"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class InProcessOffice:
    """The office app served by uvicorn on a thread of this process, with a fake clock."""

    url: str
    ctx: OfficeContext
    clock: FakeClock
    office_id: int
    station_id: int

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=TIMEOUT, **kwargs)

    def login(self, username: str) -> httpx.Client:
        c = self.client()
        r = c.post("/api/auth/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return c


@pytest.fixture
def office(sqlite_db: TestDatabase, clock: FakeClock) -> Iterator[InProcessOffice]:
    """The office with the catalog and an agent, served on loopback until the test ends."""
    office_id, station_id = seed_office(sqlite_db)
    app = create_app(make_settings(sqlite_db), clock=clock, engine=sqlite_db.engine)
    ctx: OfficeContext = app.state.ctx
    seed_catalog(ctx)
    with ctx.db() as s, s.begin():
        create_user(
            s,
            username="agent1",
            display_name="王五",
            role=Role.AGENT,
            password=PASSWORD,
            office_id=office_id,
            hashing=ctx.passwords,
        )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", ws="websockets-sansio"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="office", daemon=True)
    thread.start()
    deadline = time.monotonic() + TIMEOUT * 3
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "office did not start"
        time.sleep(0.02)
    try:
        yield InProcessOffice(f"http://127.0.0.1:{sock.getsockname()[1]}", ctx, clock, office_id, station_id)
    finally:
        server.should_exit = True
        thread.join(TIMEOUT * 3)
        sock.close()


def _accepted_case(office: InProcessOffice, agent: httpx.Client) -> dict[str, Any]:
    """A real-name ticket taken at a kiosk, called and answered by ``agent``, recorded as accepted."""
    code = enrollment.register(
        office.ctx, station_id=office.station_id, name="k", actor=Actor("system", "e2e")
    ).code
    token = enrollment.enroll(office.ctx, code, ip="127.0.0.1").token
    with office.ctx.read_db() as s:
        service_id = s.scalar(select(Service.id).where(Service.code == "GOV-SSC-APPLY"))
    with office.client(headers={"Authorization": f"Bearer {token}"}) as kiosk:
        r = kiosk.post("/api/queue/tickets", json={"service_id": service_id, "id_number": ELDER_ID})
    assert r.status_code == 201, r.text
    ticket_id = r.json()["id"]
    assert agent.put("/api/queue/agents/me/state", json={"state": "available"}).status_code == 200
    assert agent.post("/api/queue/call-next").json()["ticket"]["id"] == ticket_id
    for step in ("ring", "answer"):
        assert agent.post(f"/api/queue/tickets/{ticket_id}/{step}", json={}).status_code == 200
    r = agent.post("/api/cases", json={"ticket_id": ticket_id, "outcome": "accepted", "notes": "待补正"})
    assert r.status_code == 201, r.text
    case: dict[str, Any] = r.json()
    return case


def _sign_in(page: Any, url: str, target: str) -> None:
    page.goto(f"{url}/console/login.html?next={target}")
    page.fill("#username", "agent1")
    page.fill("#password", PASSWORD)
    page.click("#submit")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


def test_overdue_case_is_marked_and_announced_on_the_case_page_and_the_workbench(
    office: InProcessOffice, page: Any, browser: Any
) -> None:
    """Fake clock on 2026-03-02 (Shanghai): a case due 2026-02-26 is listed overdue (text and colour); the
    overdue job's ``case.overdue`` raises the case page's banner (number and due date) and the
    workbench's banner (with a link to the case list, dismissible); running the job again announces
    nothing."""
    agent = office.login("agent1")
    case = _accepted_case(office, agent)
    assert (
        agent.put("/api/queue/agents/me/state", json={"state": "paused", "reason": "paperwork"}).status_code
        == 200
    )
    due = office.clock.now().astimezone(SHANGHAI).date() - timedelta(days=4)  # the office's zone
    with office.ctx.db() as s, s.begin():
        s.execute(update(Case).where(Case.id == case["id"]).values(due_date=due))

    _sign_in(page, office.url, "/console/cases.html")
    expect(page.locator("#live")).to_have_attribute("data-state", "online")
    row = page.locator(f'#cases tbody tr[data-id="{case["id"]}"]')
    expect(row).to_have_attribute("data-overdue", "true")
    expect(row.locator(".due")).to_contain_text(due.isoformat())
    expect(row.locator(".due")).to_contain_text("已逾期")
    expect(row.locator(".due")).to_have_css("color", "rgb(179, 38, 30)")
    expect(page.locator("#alert")).to_be_hidden()

    bench_context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    bench_context.set_default_timeout(TIMEOUT * 1000)
    workbench = bench_context.new_page()
    try:
        _sign_in(workbench, office.url, "/console/")
        expect(workbench.locator("#workbench")).to_be_visible()
        expect(workbench.locator("#overdue-alert")).to_have_count(0)
        expect(workbench.locator("#events-pill")).to_have_attribute("data-state", "online")

        assert process_overdue(office.ctx) == 1

        alert = page.locator("#alert")
        expect(alert).to_be_visible()
        expect(alert).to_have_attribute("data-kind", "overdue")
        expect(alert).to_have_attribute("data-case-id", str(case["id"]))
        expect(page.locator("#alert-text")).to_have_text(
            f"办件 {case['number']} 已逾期（办结时限 {due.isoformat()}），请尽快处理"
        )
        screenshot(page, "case-overdue-banner-cases-page")

        banner = workbench.locator("#overdue-alert")
        expect(banner).to_be_visible()
        expect(banner).to_have_attribute("role", "alert")
        expect(banner).to_have_attribute("data-case-id", str(case["id"]))
        expect(banner).to_contain_text(f"办件 {case['number']} 已逾期（办结时限 {due.isoformat()}）")
        expect(banner.locator("a")).to_have_attribute("href", "/console/cases.html")
        screenshot(workbench, "case-overdue-banner-workbench")
        banner.locator("button").click()
        expect(workbench.locator("#overdue-alert")).to_have_count(0)
    finally:
        bench_context.close()

    assert process_overdue(office.ctx) == 0  # stamped once: no second alert
    with office.ctx.read_db() as s:
        stamped = s.scalar(select(Case.overdue_at).where(Case.id == case["id"]))
    assert stamped is not None
    agent.close()
