"""A technician in real Chromium sees a simulated device fault appear, from a real kiosk process
whose ID card reader (simulator) fails its SAM self-test, and runs a remote health check."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from office import enrollment
from office.audit import Actor
from office.models import Role
from tests.conftest import TIMEOUT, TestDatabase
from tests.e2e.conftest import LiveOffice, free_port, screenshot
from tests.e2e.stations import start_seeded_office

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


@pytest.fixture
def office(sqlite_db: TestDatabase, tmp_path: Path) -> Iterator[LiveOffice]:
    """A real office process."""
    live = start_seeded_office(sqlite_db, tmp_path, catalog=False)
    yield live
    live.stop()


def _enrolled_kiosk_env(office: LiveOffice, tmp_path: Path) -> dict[str, str]:
    """``doorstep kiosk enroll`` with a one-time code; the environment for ``doorstep kiosk run``
    with an ID card reader simulator that fails its SAM self-test."""
    env = {
        **os.environ,
        "KIOSK_OFFICE_URL": office.url,
        "KIOSK_STATE_DIR": str(tmp_path / "kiosk"),
        "KIOSK_VIDEO_WIDTH": "320",
        "KIOSK_VIDEO_HEIGHT": "240",
        "KIOSK_VIDEO_FPS": "15",
        "KIOSK_CONSENT": "grant",
        "KIOSK_UI_PORT": str(free_port()),
        "KIOSK_IDCARD_URL": "sim://idcard?card=resident-male&fault=sam-failure",
        "KIOSK_HEALTH_INTERVAL_S": "600",
    }
    code = enrollment.register(
        office.ctx, station_id=office.station_id, name="梅园1号机", actor=Actor("system", "e2e")
    ).code
    cli = [sys.executable, "-m", "doorstep.cli", "kiosk"]
    subprocess.run([*cli, "enroll", code], env=env, check=True, capture_output=True, timeout=TIMEOUT * 3)
    return env


def test_technician_sees_a_device_fault_appear_and_runs_a_remote_check(
    office: LiveOffice, page: Any, tmp_path: Path
) -> None:
    """The page is open before the kiosk starts; the kiosk's first health report brings a live
    device-fault alert and the kiosk row turns to 设备故障; a remote check travels to the kiosk over
    signaling and its answer (the SAM failure) shows on the page."""
    env = _enrolled_kiosk_env(office, tmp_path)
    office.add_user("tech1", Role.TECHNICIAN, "Tech-pass-1234")
    page.goto(f"{office.url}/console/login.html?next=/console/fleet.html")
    page.fill("#username", "tech1")
    page.fill("#password", "Tech-pass-1234")
    page.click("#submit")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#live")).to_have_attribute("data-state", "online")
    row = page.locator("#kiosks tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-status", "unknown")

    log = (tmp_path / "kiosk.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "doorstep.cli", "kiosk", "run"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        alert = page.locator('#alerts li[data-kind="device_failed"]')
        expect(alert).to_have_count(1, timeout=TIMEOUT * 3000)
        expect(alert).to_have_attribute("data-device", "idcard")
        expect(alert).to_contain_text("身份证阅读器")
        expect(row).to_have_attribute("data-status", "fault")
        row.click()
        expect(page.locator('#devices tr[data-kind="idcard"]')).to_have_attribute("data-ok", "false")
        expect(page.locator('#devices tr[data-kind="printer"]')).to_have_attribute("data-ok", "true")
        expect(page.locator("#events li").first).to_have_attribute("data-kind", "device_failed")
        screenshot(page, "fleet-fault")

        expect(row).to_contain_text("在线")
        page.click("#diag-btn")
        diag = page.locator("#diag-state")
        expect(diag).to_have_attribute("data-state", "answered", timeout=TIMEOUT * 2000)
        expect(diag).to_have_attribute("data-ok", "false")
        expect(diag).to_contain_text("身份证阅读器")
        expect(page.locator('#events li[data-kind="diag_result"]')).to_have_count(1)
        screenshot(page, "fleet-diag")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    assert page.console_errors == []
