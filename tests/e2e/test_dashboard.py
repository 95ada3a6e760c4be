"""The supervisor dashboard in real Chromium against a real office process: for a seeded day its
figures, tables and charts show what the statistics API returns; the live view follows the office's
events."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session

from office.models import Role
from office.queue.closing import close_past_days
from office.seed_catalog import seed_catalog
from tests.e2e.conftest import LiveOffice, screenshot
from tests.e2e.test_board import _kiosk, _service_id
from tests.office.test_stats_support import History

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

DAY = date(2026, 3, 2)


def _seed(office: LiveOffice) -> History:
    h = History(seed=5, stations=4, services=3, agents=4)
    with Session(office.ctx.engine) as s, s.begin():
        h.setup(s, code="E2ESTAT", office_id=office.office_id)
        h.day(DAY - timedelta(days=1), 40)
        h.day(DAY, 60)
        h.midnight(DAY)
        h.store(s)
    # The office's day-close job ends the past day's still-queued tickets; run it now so the figures
    # cannot change between the API read and the page's.
    close_past_days(office.ctx)
    return h


def _value(page: Any, selector: str) -> float | None:
    raw = page.locator(selector).get_attribute("data-value")
    return None if raw in (None, "") else float(raw)


def test_dashboard_numbers_match_the_statistics_api(live_office: LiveOffice, page: Any) -> None:
    """KPI tiles, the station/service/agent tables and the charts show the API's figures for the day."""
    history = _seed(live_office)
    live_office.add_user("sup1", Role.SUPERVISOR, "Sup-pass-1234")
    api = live_office.login("sup1")
    period = {"first_day": DAY.isoformat(), "last_day": DAY.isoformat()}
    expected = api.get("/api/stats/period", params=period).json()
    summary = expected["summary"]
    assert summary["served"] == history.expected(DAY, DAY, 900).served > 0
    assert summary["unserved_at_close"] > 0

    page.goto(
        f"{live_office.url}/console/login.html?next="
        f"/console/dashboard.html%3Ffirst_day%3D{DAY}%26last_day%3D{DAY}"
    )
    page.fill("#username", "sup1")
    page.fill("#password", "Sup-pass-1234")
    page.click("#submit")
    expect(page.locator("body")).to_have_attribute("data-loaded", f"{DAY}/{DAY}")

    expect(page.locator("#kpi-served")).to_have_text(str(summary["served"]))
    for selector, key in [
        ("#kpi-served", "served"),
        ("#kpi-issued", "issued"),
        ("#kpi-wait-mean", "wait_mean_s"),
        ("#kpi-wait-p90", "wait_p90_s"),
        ("#kpi-handling-mean", "handling_mean_s"),
        ("#kpi-handling-p90", "handling_p90_s"),
        ("#kpi-within-target", "within_target_rate"),
        ("#kpi-no-show", "no_show_rate"),
        ("#kpi-abandon", "abandonment_rate"),
        ("#kpi-good-rate", "good_rate"),
        ("#kpi-mean-level", "mean_level"),
    ]:
        assert _value(page, selector) == pytest.approx(summary[key]), selector
    expect(page.locator("#kpi-no-show")).to_have_text(f"{summary['no_show_rate'] * 100:.1f}%")
    assert _value(page, "#kpi-mae-n") == expected["accuracy"]["samples"]

    for table, rows, key in [
        ("#by-station", expected["stations"], "key"),
        ("#by-service", expected["services"], "key"),
        ("#by-agent", expected["agents"], "agent_id"),
    ]:
        body_rows = page.locator(f"{table} tbody tr")
        expect(body_rows).to_have_count(len(rows))
        for row in rows:
            tr = page.locator(f'{table} tbody tr[data-key="{row[key]}"]')
            served_cell = tr.locator("td").nth(2 if table != "#by-agent" else 1)
            expect(served_cell).to_have_text(str(row["served"]))

    # charts: three uPlot canvases, drawn from the same figures
    expect(page.locator(".charts canvas")).to_have_count(3)
    assert sum(h["served"] for h in expected["hourly"]) == summary["served"]

    # live view: every station listed
    expect(page.locator("#live-stations tbody tr")).to_have_count(len(history.stations) + 1)
    # CSV links carry the period
    href = page.locator('a.csv[data-table="stations"]').get_attribute("href")
    assert href is not None and f"first_day={DAY}" in href
    csv = api.get(href)
    assert csv.status_code == 200 and csv.text.count("\r\n") == len(expected["stations"]) + 1
    screenshot(page, "dashboard-zh-seeded-day")

    # two days: the trend has two points and the totals follow the API again
    before = DAY - timedelta(days=1)
    two = api.get("/api/stats/period", params={**period, "first_day": before.isoformat()}).json()
    page.fill("#first-day", before.isoformat())
    page.click("#period-form button[type=submit]")
    expect(page.locator("body")).to_have_attribute("data-loaded", f"{before}/{DAY}")
    expect(page.locator("#kpi-served")).to_have_text(str(two["summary"]["served"]))
    assert [d["served"] for d in two["trend"]] == [history.expected(d, d, 900).served for d in (before, DAY)]
    screenshot(page, "dashboard-zh-two-days")

    page.click("#lang")
    expect(page.locator("h1")).to_have_text("Statistics dashboard")
    expect(page.locator("#kpi-served")).to_have_text(str(two["summary"]["served"]))
    expect(page.locator("#period-h")).to_have_text("Period")
    screenshot(page, "dashboard-en-seeded-day")
    assert page.console_errors == []


def test_an_agent_is_refused_the_statistics(live_office: LiveOffice, page: Any) -> None:
    """The dashboard tells an agent it is for supervisors; the API refuses the agent."""
    live_office.add_user("agent1", Role.AGENT, "Agent-pass-123")
    assert live_office.login("agent1").get("/api/stats/period").status_code == 403
    page.goto(f"{live_office.url}/console/login.html?next=/console/dashboard.html")
    page.fill("#username", "agent1")
    page.fill("#password", "Agent-pass-123")
    page.click("#submit")
    expect(page.locator("#error")).to_have_text("无法加载统计：仅值班长和管理员可查看统计看板")


@pytest.mark.browser_date_differs
def test_the_live_view_follows_the_office_events(live_office: LiveOffice, page: Any) -> None:
    """A ticket issued at a kiosk shows in the live view and today's figures through the office's
    events, long before the fallback poll (60 s) would fetch them."""
    seed_catalog(live_office.ctx)
    live_office.add_user("sup2", Role.SUPERVISOR, "Sup-pass-1234")
    page.goto(f"{live_office.url}/console/login.html?next=/console/dashboard.html")
    page.fill("#username", "sup2")
    page.fill("#password", "Sup-pass-1234")
    page.click("#submit")
    expect(page.locator("body")).to_have_attribute("data-live", "online", timeout=20_000)
    expect(page.locator("#live-waiting")).to_have_text("0", timeout=20_000)
    expect(page.locator("#kpi-issued")).to_have_attribute("data-value", "0", timeout=20_000)
    kiosk = _kiosk(live_office)
    service = _service_id(live_office, "GOV-SSC-APPLY")
    for _ in range(2):
        assert kiosk.post("/api/queue/tickets", json={"service_id": service}).status_code == 201
    expect(page.locator("#live-waiting")).to_have_text("2", timeout=10_000)
    expect(page.locator("#kpi-issued")).to_have_attribute("data-value", "2", timeout=15_000)
    assert page.console_errors == []
