"""The case list page (/console/cases.html) in real Chromium against a real office process: cases
recorded by an agent are listed with their due dates, filtered, followed live, opened with their
history, transferred (指定), escalated (兜底) and completed; a resident's open cases by ID number."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update

from office import enrollment
from office.audit import Actor
from office.models import AuditEvent, Call, Kiosk, Role, Service, User
from office.models.cases import Case, Document
from tests.conftest import TIMEOUT, TestDatabase
from tests.e2e.conftest import LiveOffice, screenshot
from tests.e2e.stations import start_seeded_office
from tests.office.test_cases_support import jpeg
from tests.office.test_queue_support import ELDER_ID

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


@pytest.fixture
def office(sqlite_db: TestDatabase, tmp_path: Path) -> Any:
    """A real office process with the catalog seeded."""
    live = start_seeded_office(sqlite_db, tmp_path)
    yield live
    live.stop()


def _record_case(office: LiveOffice, kiosk: httpx.Client, agent: httpx.Client, notes: str) -> dict[str, Any]:
    """A real-name ticket taken at the kiosk, called and answered by ``agent``, recorded as accepted."""
    with office.ctx.read_db() as s:
        service_id = s.scalar(select(Service.id).where(Service.code == "GOV-SSC-APPLY"))
    r = kiosk.post("/api/queue/tickets", json={"service_id": service_id, "id_number": ELDER_ID})
    assert r.status_code in (200, 201), r.text
    ticket_id = r.json()["id"]
    assert agent.put("/api/queue/agents/me/state", json={"state": "available"}).status_code == 200
    assert agent.post("/api/queue/call-next").json()["ticket"]["id"] == ticket_id
    for step in ("ring", "answer"):
        assert agent.post(f"/api/queue/tickets/{ticket_id}/{step}", json={}).status_code == 200
    r = agent.post("/api/cases", json={"ticket_id": ticket_id, "outcome": "accepted", "notes": notes})
    assert r.status_code == 201, r.text
    case: dict[str, Any] = r.json()
    assert case["state"] == "in_progress" and case["due_date"] is not None
    return case


def _attach_page(office: LiveOffice, case: dict[str, Any], agent_id: int) -> int:
    """A 64×48 JPEG page captured in a (seeded, ended) call of the case's ticket, linked to the case."""
    data = jpeg(64, 48)
    with office.ctx.db() as s, s.begin():
        kiosk_id = s.scalar(select(Kiosk.id))
        assert kiosk_id is not None
        s.add(
            Call(
                id="call-cases-e2e",
                office_id=office.office_id,
                station_id=office.station_id,
                ticket_id=case["ticket_id"],
                agent_id=agent_id,
                kiosk_id=kiosk_id,
                state="ended",
            )
        )
        s.flush()
        doc = Document(
            office_id=office.office_id,
            call_id="call-cases-e2e",
            kiosk_id=kiosk_id,
            case_id=case["id"],
            kind="page",
            mime="image/jpeg",
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            width=64,
            height=48,
            ciphertext=b"\x00",
        )
        s.add(doc)
        s.flush()
        doc.ciphertext = office.ctx.cipher.encrypt_bytes(
            data, context=f"document:{office.office_id}:{doc.id}".encode()
        )
        return doc.id


def test_agent_works_cases_from_the_list(office: LiveOffice, page: Any, browser: Any) -> None:
    """Two accepted cases are listed with due dates (the overdue one in text and colour); the overdue
    filter keeps only it; a supervisor's escalation shows up live; the other case is opened (its
    document fetched only when shown, one audited read), assigned to a colleague, escalated (a
    supervisor's open page raises a banner) and completed, its history growing each time; the
    resident look-up lists the case still open and clears the typed number."""
    code = enrollment.register(
        office.ctx, station_id=office.station_id, name="k", actor=Actor("system", "e2e")
    ).code
    token = enrollment.enroll(office.ctx, code, ip="127.0.0.1").token
    kiosk = office.client(headers={"Authorization": f"Bearer {token}"})
    office.add_user("agent1", Role.AGENT, "Agent-pass-1234")
    office.add_user("agent2", Role.AGENT, "Agent-pass-5678")
    office.add_user("sup1", Role.SUPERVISOR, "Sup-pass-1234")
    agent1, agent2, sup = office.login("agent1"), office.login("agent2"), office.login("sup1")
    assert (
        agent2.put("/api/queue/agents/me/state", json={"state": "paused", "reason": "training"}).status_code
        == 200
    )
    agent2_id = agent2.get("/api/auth/me").json()["id"]
    with office.ctx.db() as s, s.begin():
        s.execute(update(User).where(User.id == agent2_id).values(display_name="李四"))
    a = _record_case(office, kiosk, agent1, "材料齐全，受理")
    b = _record_case(office, kiosk, agent1, "待核实")
    doc_id = _attach_page(office, a, agent1.get("/api/auth/me").json()["id"])
    late = date.today() - timedelta(days=3)
    with office.ctx.db() as s, s.begin():
        s.execute(update(Case).where(Case.id == b["id"]).values(due_date=late))

    requested: list[str] = []
    page.on("request", lambda req: requested.append(req.url))
    page.goto(f"{office.url}/console/login.html?next=/console/cases.html")
    page.fill("#username", "agent1")
    page.fill("#password", "Agent-pass-1234")
    page.click("#submit")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#live")).to_have_attribute("data-state", "online")

    rows = page.locator("#cases tbody tr")
    expect(rows).to_have_count(2)
    row_a = page.locator(f'#cases tbody tr[data-id="{a["id"]}"]')
    row_b = page.locator(f'#cases tbody tr[data-id="{b["id"]}"]')
    expect(row_a).to_contain_text(a["number"])
    expect(row_a).to_contain_text(str(a["due_date"]))
    expect(row_a).to_have_attribute("data-overdue", "false")
    expect(row_b).to_have_attribute("data-overdue", "true")
    expect(row_b.locator(".due")).to_contain_text(late.isoformat())
    expect(row_b.locator(".due")).to_contain_text("已逾期")
    expect(row_b.locator(".due")).to_have_css("color", "rgb(179, 38, 30)")
    expect(row_a.locator(".due")).not_to_have_css("color", "rgb(179, 38, 30)")

    # A supervisor escalates case B elsewhere: the open page follows without a reload.
    r = sup.post(f"/api/cases/{b['id']}/escalate", json={"reason": "需主管协调"})
    assert r.status_code == 200, r.text
    expect(row_b).to_have_attribute("data-state", "escalated")
    expect(row_b).to_contain_text("主管（兜底）")

    page.check("#f-overdue")
    expect(rows).to_have_count(1)
    expect(row_b).to_be_visible()
    screenshot(page, "cases-overdue-filter")
    page.uncheck("#f-overdue")
    expect(rows).to_have_count(2)

    row_a.click()
    detail = page.locator("#detail")
    history = page.locator("#history li")
    expect(detail).to_have_attribute("data-id", str(a["id"]))
    expect(history).to_have_count(1)
    expect(history.first).to_have_attribute("data-action", "accept")
    expect(history.first).to_contain_text("受理")
    expect(page.locator("#d-notes")).to_have_text("材料齐全，受理")
    expect(page.locator("#d-reason")).to_be_hidden()

    # The document is only linked: its bytes are fetched (and the read audited) when opened.
    docs = page.locator("#documents li")
    expect(docs).to_have_count(1)
    expect(docs).to_have_attribute("data-document-id", str(doc_id))
    expect(docs.locator("img")).to_have_count(0)
    assert not [u for u in requested if "/api/documents/" in u]
    docs.locator("button").click()
    expect(docs.locator("img")).to_be_visible()
    expect(docs.locator("img")).to_have_js_property("naturalWidth", 64)
    assert [u for u in requested if "/api/documents/" in u] == [f"{office.url}/api/documents/{doc_id}"]

    expect(page.locator("#t-agent option")).to_have_text(["李四"])  # the assignee (me) is not offered
    page.select_option("#t-agent", str(agent2_id))
    page.fill("#t-reason", "熟悉社保业务")
    page.click("#t-go")
    expect(history).to_have_count(2)
    expect(history.nth(1)).to_have_attribute("data-action", "transfer")
    expect(history.nth(1)).to_contain_text("给 李四")
    expect(page.locator("#d-assignee")).to_have_text("李四")
    expect(history.nth(1)).to_contain_text("熟悉社保业务")
    expect(docs.locator("img")).to_be_visible()  # re-rendered from the page's copy, not fetched again
    expect(page.locator("#t-reason")).to_have_value("")

    page.click("#e-go")  # no reason: refused on the page, nothing sent
    expect(page.locator("#error")).to_contain_text("请填写上报原因")
    expect(history).to_have_count(2)
    # A supervisor has the page open too: the escalation raises a banner there.
    sup_context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    sup_context.set_default_timeout(TIMEOUT * 1000)
    sup_page = sup_context.new_page()
    sup_page.goto(f"{office.url}/console/login.html?next=/console/cases.html")
    sup_page.fill("#username", "sup1")
    sup_page.fill("#password", "Sup-pass-1234")
    sup_page.click("#submit")
    expect(sup_page.locator("#live")).to_have_attribute("data-state", "online")
    expect(sup_page.locator("#alert")).to_be_hidden()
    page.fill("#e-reason", "超出权限")
    page.click("#e-go")
    expect(sup_page.locator("#alert")).to_contain_text(a["number"])
    expect(sup_page.locator("#alert")).to_have_attribute("data-kind", "escalated")
    expect(sup_page.locator(f'#cases tbody tr[data-id="{a["id"]}"]')).to_have_attribute(
        "data-state", "escalated"
    )
    screenshot(sup_page, "cases-supervisor-alert")
    sup_rows = sup_page.locator("#cases tbody tr")
    sup_page.check("#f-mine")  # the supervisor neither owns nor holds any case
    expect(sup_rows).to_have_count(0)
    expect(sup_page.locator("#empty")).to_be_visible()
    sup_page.uncheck("#f-mine")
    sup_page.select_option("#f-state", "in_progress")
    expect(sup_rows).to_have_count(0)
    sup_page.select_option("#f-state", "escalated")
    expect(sup_rows).to_have_count(2)
    sup_context.close()
    expect(detail).to_have_attribute("data-state", "escalated")
    expect(history).to_have_count(3)
    expect(page.locator("#error")).to_be_hidden()
    expect(row_a).to_have_attribute("data-state", "escalated")
    screenshot(page, "cases-escalated")

    page.fill("#c-notes", "已办结")
    page.click("#c-go")
    expect(detail).to_have_attribute("data-state", "completed")
    expect(history).to_have_count(4)
    expect(history.nth(3)).to_have_attribute("data-action", "complete")
    expect(page.locator("#actions")).to_be_hidden()
    expect(row_a).to_have_attribute("data-state", "completed")
    expect(page.locator("#d-notes")).to_have_text("材料齐全，受理\n已办结")

    page.fill("#lookup-id", ELDER_ID)
    page.click("#lookup-btn")
    found = page.locator("#lookup-results li")
    expect(found).to_have_count(1)
    expect(found).to_have_attribute("data-id", str(b["id"]))
    expect(found).to_contain_text(b["number"])
    expect(page.locator("#lookup-id")).to_have_value("")
    assert ELDER_ID not in page.content()
    screenshot(page, "cases-lookup")
    page.click("#lang")
    expect(page.locator("h1")).to_have_text("Cases")
    expect(row_b.locator(".due")).to_contain_text("Overdue")
    expect(page.locator("#lookup-out")).to_have_text("1 open case(s)")
    expect(found.locator(".state")).to_have_text("Escalated")
    expect(page.locator("#history li").nth(1)).to_contain_text("Assigned to 李四")
    screenshot(page, "cases-en")

    with office.ctx.read_db() as s:
        actions = [
            e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.target_id == str(a["id"])))
        ]
        doc_reads = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "document.read")))
        lookups = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "resident.lookup")))
    assert {"case.transferred", "case.escalated", "case.completed"} <= set(actions)
    assert len(lookups) == 1
    assert [r.target_id for r in doc_reads] == [str(doc_id)]
    assert [u for u in requested if "/api/documents/" in u] == [f"{office.url}/api/documents/{doc_id}"]
    assert page.console_errors == []
