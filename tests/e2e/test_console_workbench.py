"""The agent workbench (/console/index.html) in real Chromium against a real office process: the live
queue panel, the status bar, queue actions, and (with a real ``doorstep kiosk run`` process on simulated
devices) serving a resident end to end: ID card, two document pages, materials ticked, case filed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.config import TokenStore
from office import enrollment
from office.audit import Actor
from office.models import AuditEvent, Kiosk, Role, Service, Station, Ticket, User
from office.models.cases import Case, CaseMaterial, Document, Verification
from tests.conftest import TIMEOUT, TestDatabase
from tests.e2e.conftest import LiveOffice, free_port, screenshot
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
    try:  # the workbench boots with a handful of requests: give a loaded machine time
        expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=TIMEOUT * 3000)
    except AssertionError as err:
        raise AssertionError(f"workbench not ready; page errors: {page.console_errors}") from err


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
    expect(page.locator("#nav a")).to_have_text(["工作台", "办件", "叫号屏"])
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


def test_needs_materials_gives_one_notice_listing_everything_missing(office: LiveOffice, page: Any) -> None:
    """一次性告知: the agent ticks what the resident brought (key 1) and files "needs materials" (Alt+3,
    Ctrl+Enter); the notice lists every unticked material at once and is ready to print; the case
    awaits exactly those materials."""
    office.add_user("agent3", Role.AGENT)
    office.add_user("desk", Role.AGENT)
    (replace,) = service_ids(office, "GOV-SSC-REPLACE")  # ID card, photo, the old card
    r = office.login("desk").post(
        "/api/queue/tickets",
        json={"service_id": replace, "station_id": office.station_id},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert r.status_code == 201, r.text
    ticket = r.json()
    login(page, office, "agent3")
    page.keyboard.press("a")
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "available")
    page.locator(f'#tickets li[data-ticket-id="{ticket["id"]}"]').dblclick()
    page.fill("#dlg-call-reason", "补交材料后继续")
    page.click("#dlg-call-ok")
    expect(page.locator("#ticket-number")).to_have_text(ticket["number"])
    expect(page.locator("#materials li")).to_have_count(3)
    page.keyboard.press("1")
    expect(page.locator("#materials li").first).to_have_attribute("data-checked", "true")
    page.keyboard.press("Alt+3")
    expect(page.locator("#case-missing-row")).to_be_visible()
    page.keyboard.press("Control+Enter")
    notice = page.locator("#notice")
    expect(notice).to_be_visible()
    expect(page.locator("#notice-items li")).to_have_count(2)
    expect(page.locator("#notice-items")).to_contain_text("近期一寸免冠彩色照片")
    expect(page.locator("#notice-items")).to_contain_text("原社会保障卡")
    expect(page.locator("#notice-service")).to_have_text("社会保障卡挂失补换")
    expect(page.locator("#notice-print")).to_be_visible()
    screenshot(page, "workbench-notice")
    case_id = int(page.locator("#case-result").get_attribute("data-case-id") or 0)
    expect(page.locator("#case-result")).to_have_attribute("data-state", "awaiting_materials")
    with office.ctx.read_db() as s:
        case = s.get(Case, case_id)
        assert case is not None and case.outcome == "needs_materials"
        ticked = {
            m.material_id: m.checked
            for m in s.scalars(select(CaseMaterial).where(CaseMaterial.case_id == case_id))
        }
    assert sorted(case.missing_material_ids) == sorted(k for k, v in ticked.items() if not v)
    assert len(case.missing_material_ids) == 2


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


# --- end to end: a resident at a real kiosk process ---------------------------------------------------


@pytest.fixture
def kiosk_process(office: LiveOffice, tmp_path: Path) -> Iterator[str]:
    """``doorstep kiosk enroll`` then ``doorstep kiosk run`` on simulated devices (ID card, document
    camera, fingerprint), consent granted (no resident UI in the loop); yields its device token once
    its signaling is connected to the office."""
    state = tmp_path / "kiosk"
    env = {
        **os.environ,
        "KIOSK_OFFICE_URL": office.url,
        "KIOSK_STATE_DIR": str(state),
        "KIOSK_VIDEO_WIDTH": "320",
        "KIOSK_VIDEO_HEIGHT": "240",
        "KIOSK_VIDEO_FPS": "10",
        "KIOSK_CONSENT": "grant",
        "KIOSK_UI_PORT": str(free_port()),
        "KIOSK_IDCARD_URL": "sim://idcard?card=resident-male",
        "KIOSK_DOCUMENT_CAMERA_URL": "sim://document_camera",
        "KIOSK_FINGERPRINT_URL": "sim://fingerprint",
        "KIOSK_PRINTER_URL": f"sim://printer?preview_dir={tmp_path / 'printer'}",
        "KIOSK_DOCUMENT_LIVE_WIDTH": "480",
    }
    code = enrollment.register(
        office.ctx, station_id=office.station_id, name="k", actor=Actor("system", "e2e")
    ).code
    cli = [sys.executable, "-m", "doorstep.cli", "kiosk"]
    subprocess.run([*cli, "enroll", code], env=env, check=True, capture_output=True, timeout=TIMEOUT * 3)
    token = TokenStore(state).load()
    assert token is not None
    log_path = tmp_path / "kiosk.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([*cli, "run"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + TIMEOUT * 3
        while True:
            with office.ctx.read_db() as s:
                seen = s.scalar(select(Kiosk.last_seen_at).where(Kiosk.station_id == office.station_id))
            if seen is not None:
                break
            assert proc.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, "kiosk never connected:\n" + log_path.read_text()[-3000:]
            time.sleep(0.1)
        yield token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_agent_serves_a_resident_at_a_kiosk_process_end_to_end(
    office: LiveOffice, kiosk_process: str, page: Any
) -> None:
    """Call the ticket, read the (simulated) ID card, capture two document pages with the simulated
    camera, watch the document camera live and stop it, tick both required materials against the
    pages, accept the case with its due date; then the
    case, its materials and documents, and the audit trail (document reads without data) are in the
    database, and no page of the console ever showed an unmasked ID number."""
    office.add_user("agent7", Role.AGENT)
    (ssc,) = service_ids(office, "GOV-SSC-APPLY")
    with office.client(headers={"Authorization": f"Bearer {kiosk_process}"}) as kiosk_http:
        r = kiosk_http.post(
            "/api/queue/tickets", json={"service_id": ssc}, headers={"Idempotency-Key": uuid.uuid4().hex}
        )
        assert r.status_code == 201, r.text
        ticket = r.json()

    login(page, office, "agent7")
    expect(page.locator(f'#tickets li[data-ticket-id="{ticket["id"]}"]')).to_have_count(1)
    page.keyboard.press("a")
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "available")
    page.keyboard.press("n")
    expect(page.locator("#ticket-number")).to_have_text(ticket["number"])
    expect(page.locator("#call-status")).to_have_text("通话中", timeout=TIMEOUT * 3000)
    expect(page.locator("#materials li")).to_have_count(2)
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "serving")

    # ID card: progress, consent, result; the resident panel shows the office's masked identity.
    page.keyboard.press("i")
    card = page.locator('#hw-log li[data-action="read_id_card"]')
    expect(card).to_have_attribute("data-outcome", "ok", timeout=TIMEOUT * 2000)
    expect(page.locator('#resident dd[data-field="id_number"]')).to_have_text(
        re.compile(r"^\d{4}\*+\d{3}[\dX]$")
    )
    expect(page.locator('#resident dd[data-field="name"]')).to_contain_text("*")

    # Fingerprint: the kiosk's 1:N search answers matched or not, with a score; recorded on the call.
    page.keyboard.press("f")
    finger = page.locator('#hw-log li[data-action="verify_fingerprint"]')
    expect(finger).to_have_attribute("data-outcome", "ok", timeout=TIMEOUT * 2000)
    expect(page.locator('#verifications li[data-kind="fingerprint"]')).to_have_count(1)

    # Two pages from the document camera, one after the other (the kiosk runs one device at a time).
    for n in (1, 2):
        page.keyboard.press("d")
        expect(page.locator('#hw-log li[data-action="capture_document"][data-outcome="ok"]')).to_have_count(
            n, timeout=TIMEOUT * 3000
        )
        expect(page.locator("#doc-thumbs li")).to_have_count(n)
        expect(page.locator("#doc-img")).to_be_visible()
    # The live document view: the kiosk's second video track (told apart by its m-line), shown in
    # the labelled document panel while on; the face video keeps its own element.
    live = page.locator("#hw-live")
    expect(page.locator("#doc-live")).to_be_hidden()
    live.click()
    expect(page.locator('#hw-log li[data-action="document_live_start"]')).to_have_attribute(
        "data-outcome", "ok", timeout=TIMEOUT * 3000
    )
    expect(page.locator("#doc-live")).to_be_visible()
    expect(page.locator("#doc-live figcaption")).to_contain_text("文档摄像头")
    expect(live).to_have_attribute("aria-pressed", "true")
    page.wait_for_function(
        "() => { const v = document.getElementById('doc-live-video');"
        " return v.videoWidth > 0 && Number(v.dataset.frames) >= 5; }",
        timeout=TIMEOUT * 3000,
    )
    sizes = page.evaluate(
        "() => ['remote', 'doc-live-video'].map((id) => document.getElementById(id))"
        ".map((v) => [v.videoWidth, v.videoHeight])"
    )
    assert sizes == [[320, 240], [480, 360]], sizes  # face camera; document camera scaled to 480 wide
    screenshot(page, "workbench-document-live")
    live.click()
    expect(page.locator('#hw-log li[data-action="document_live_stop"]')).to_have_attribute(
        "data-outcome", "ok", timeout=TIMEOUT * 2000
    )
    expect(page.locator("#doc-live")).to_be_hidden()
    expect(live).to_have_attribute("aria-pressed", "false")

    materials = page.locator("#materials li")
    keys = [materials.nth(i).get_attribute("data-key") for i in range(2)]
    page.keyboard.press("[")
    expect(page.locator("#doc-pos")).to_have_text("1 / 2")
    page.select_option("#doc-material", keys[0])
    page.keyboard.press("]")
    expect(page.locator("#doc-pos")).to_have_text("2 / 2")
    page.keyboard.press("+")
    page.keyboard.press("r")
    expect(page.locator("#doc-view")).to_have_attribute("data-rotate", "90")
    page.select_option("#doc-material", keys[1])
    for i in range(2):
        expect(materials.nth(i)).to_have_attribute("data-checked", "true")
    expect(page.locator("#materials-count")).to_have_text("2/2")
    screenshot(page, "workbench-serving-documents")

    page.fill("#case-notes", "材料齐全，受理")
    page.keyboard.press("Alt+2")
    page.keyboard.press("Control+Enter")
    result = page.locator("#case-result")
    expect(result).to_be_visible()
    expect(result.locator('[data-field="due_date"]')).to_contain_text("办结时限 20")
    case_id = int(result.get_attribute("data-case-id") or 0)
    screenshot(page, "workbench-case-filed")
    page.keyboard.press("h")
    expect(page.locator("#call-status")).to_have_text("通话已结束")
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "wrap_up")
    screenshot(page, "workbench-wrap-up")

    with office.ctx.read_db() as s:
        case = s.get(Case, case_id)
        assert case is not None
        assert (case.ticket_id, case.service_id, case.outcome) == (ticket["id"], ssc, "accepted")
        assert case.state == "in_progress" and case.due_date is not None
        assert case.resident_hash is not None and case.notes == "材料齐全，受理"
        agent_id = s.scalar(select(User.id).where(User.username == "agent7"))
        assert case.owner_agent_id == agent_id
        ticks = {
            m.material_id: m for m in s.scalars(select(CaseMaterial).where(CaseMaterial.case_id == case_id))
        }
        docs = list(s.scalars(select(Document).where(Document.call_id == case.call_id).order_by(Document.id)))
        # Two captures; each stores its full still and, where the kiosk straightened it, the copy.
        assert len({d.request_id for d in docs}) == 2 and 2 <= len(docs) <= 4
        assert all(m.checked for m in ticks.values()) and len(ticks) == 2
        assert sorted(d for m in ticks.values() for d in m.document_ids) == [d.id for d in docs]
        assert all(d.case_id == case_id for d in docs)
        checks = list(s.scalars(select(Verification).where(Verification.call_id == case.call_id)))
        assert [v.kind for v in checks] == ["fingerprint"]
        state = s.scalar(select(Ticket.state).where(Ticket.id == ticket["id"]))
        assert state == "done"
        audits = list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    reads = [a for a in audits if a.action == "document.read" and a.success]
    # Each page was read once for display (its straightened copy where there is one), and audited.
    shown_ids = {
        str(min(group, key=lambda d: (d.kind != "straightened", d.id)).id)
        for group in ([d for d in docs if d.request_id == r] for r in {d.request_id for d in docs})
    }
    assert {a.target_id for a in reads} == shown_ids
    assert all(set(a.details) <= {"call_id", "case_id", "kind", "bytes", "mime", "office_id"} for a in reads)
    assert any(a.action == "case.created" and a.target_id == str(case_id) for a in audits)
    assert any(a.action == "identity.stored" for a in audits)
    # The trail names documents and cases, never the data (no ID number, no name, no image bytes).
    card_number = "310101198001010018"  # the simulated card (hardware/idcard/fixtures.py)
    assert not any(card_number in json.dumps(a.details, ensure_ascii=False) for a in audits)
    shown = page.content()
    assert card_number not in shown and "张示例" not in shown and "示例路1号" not in shown
    errors = [e for e in page.console_errors if "Failed to load resource" not in e]
    assert errors == []


def test_needs_materials_notice_prints_at_the_kiosk(
    office: LiveOffice, kiosk_process: str, page: Any, tmp_path: Path
) -> None:
    """During the call the agent files "needs materials" and prints the notice at the kiosk: the
    console shows it printed, and the kiosk's printer simulator holds the slip with the case number
    and every missing material (names, counts, original/copy) and nothing personal."""
    office.add_user("agent8", Role.AGENT)
    (replace,) = service_ids(office, "GOV-SSC-REPLACE")  # ID card, photo, the old card
    with office.client(headers={"Authorization": f"Bearer {kiosk_process}"}) as kiosk_http:
        r = kiosk_http.post(
            "/api/queue/tickets", json={"service_id": replace}, headers={"Idempotency-Key": uuid.uuid4().hex}
        )
        assert r.status_code == 201, r.text
    login(page, office, "agent8")
    page.keyboard.press("a")
    expect(page.locator("#agent-state")).to_have_attribute("data-state", "available")
    page.keyboard.press("n")
    expect(page.locator("#call-status")).to_have_text("通话中", timeout=TIMEOUT * 3000)
    expect(page.locator("#materials li")).to_have_count(3)
    page.keyboard.press("1")
    page.keyboard.press("Alt+3")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#notice")).to_be_visible()
    number = page.locator('#case-result [data-field="number"]').inner_text()
    page.click("#notice-kiosk")
    state = page.locator("#notice-kiosk-state")
    expect(state).to_have_attribute("data-state", "printed", timeout=TIMEOUT * 3000)
    expect(state).to_have_text("已在终端打印告知单，请居民取走")
    expect(page.locator('#hw-log li[data-action="print_notice"]')).to_have_attribute("data-outcome", "ok")
    screenshot(page, "workbench-notice-kiosk-printed")
    slips = sorted((tmp_path / "printer").glob("job-*.bin"))
    assert len(slips) == 1 and slips[0].with_suffix(".png").exists()
    slip = slips[0].read_bytes()
    for text in (
        "补正告知",
        number,
        "社会保障卡挂失补换",
        "近期一寸免冠彩色照片 ×2（原件）",
        "原社会保障卡 ×1（原件）",
    ):
        assert text.encode("gb18030") in slip, text
    page.keyboard.press("h")
    expect(page.locator("#call-status")).to_have_text("通话已结束")
    expect(page.locator("#notice-kiosk")).to_be_disabled()
