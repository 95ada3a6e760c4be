"""The display board (叫号屏) in real Chromium against a real office process: a call made through the
API appears on it in large type with its video window, and is announced in Mandarin or English."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from office import enrollment
from office.audit import Actor
from office.models import Role
from office.seed_catalog import seed_catalog
from tests.e2e.conftest import LiveOffice, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

ID_NUMBER = "110101195003010029"


def _kiosk(office: LiveOffice) -> httpx.Client:
    code = enrollment.register(
        office.ctx, station_id=office.station_id, name="k", actor=Actor("system", "e2e")
    ).code
    token = enrollment.enroll(office.ctx, code, ip="127.0.0.1").token
    return office.client(headers={"Authorization": f"Bearer {token}"})


def _service_id(office: LiveOffice, code: str) -> int:
    services = office.client().get("/api/catalog/services").json()
    return int(next(s["id"] for s in services if s["code"] == code))


def _call_next(agent: httpx.Client) -> dict[str, Any]:
    r = agent.post("/api/queue/call-next")
    assert r.status_code == 200, r.text
    ticket: dict[str, Any] = r.json()["ticket"]
    return ticket


def test_a_call_made_through_the_api_appears_and_is_announced(live_office: LiveOffice, page: Any) -> None:
    """Kiosk takes A001, an agent at window 3 calls next: the board shows A001 → window 3 and says it."""
    seed_catalog(live_office.ctx)
    live_office.add_user("agent3", Role.AGENT, "Agent-pass-123")
    agent = live_office.login("agent3")
    assert (
        agent.put("/api/queue/agents/me/state", json={"state": "available", "window_no": 3}).status_code
        == 200
    )
    kiosk = _kiosk(live_office)
    service = _service_id(live_office, "GOV-SSC-APPLY")

    page.goto(f"{live_office.url}/console/board.html?office={live_office.office_id}")
    expect(page.locator("#conn")).to_have_text("实时")
    expect(page.locator("#now-number")).to_have_text("—")

    r = kiosk.post("/api/queue/tickets", json={"service_id": service, "id_number": ID_NUMBER})
    assert r.status_code == 201 and r.json()["number"] == "A001"
    kiosk.post("/api/queue/tickets", json={"service_id": service})
    expect(page.locator("#waiting-total")).to_have_text("2")

    called = _call_next(agent)
    assert called["number"] == "A001"
    expect(page.locator("#now-number")).to_have_text("A001")
    expect(page.locator("#now-window")).to_have_text("请到3号视频窗口")
    expect(page.locator("#waiting-total")).to_have_text("1")
    expect(page.locator("#recent li").first).to_contain_text("A001")
    page.wait_for_function("window.boardState.announcements.length === 1")
    assert page.evaluate("window.boardState.announcements") == ["请A001号到3号视频窗口"]

    # the ring that follows is the same call: not announced twice
    assert agent.post(f"/api/queue/tickets/{called['id']}/ring", json={}).status_code == 200
    page.wait_for_timeout(500)
    assert page.evaluate("window.boardState.announcements.length") == 1
    body = page.locator("body").inner_text()
    assert ID_NUMBER not in body and "测试agent" not in body
    screenshot(page, "board-zh-called")
    assert page.console_errors == []


def test_english_board_announces_in_english(live_office: LiveOffice, page: Any) -> None:
    """With ?lang=en the board labels and the spoken sentence are English."""
    seed_catalog(live_office.ctx)
    live_office.add_user("agent5", Role.AGENT, "Agent-pass-123")
    agent = live_office.login("agent5")
    agent.put("/api/queue/agents/me/state", json={"state": "available", "window_no": 5})
    kiosk = _kiosk(live_office)
    page.goto(f"{live_office.url}/console/board.html?office={live_office.office_id}&lang=en")
    expect(page.locator("#conn")).to_have_text("Live")
    kiosk.post("/api/queue/tickets", json={"service_id": _service_id(live_office, "LIFE-UTILITY")})
    _call_next(agent)
    expect(page.locator("#now-number")).to_have_text("B001")
    expect(page.locator("#now-window")).to_have_text("Please go to video window 5")
    page.wait_for_function("window.boardState.announcements.length === 1")
    assert page.evaluate("window.boardState.announcements") == ["Number B001, please go to video window 5"]
    screenshot(page, "board-en-called")
    assert page.console_errors == []
