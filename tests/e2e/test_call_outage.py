"""A 10 s network outage between a kiosk process on its own test host (network namespace, shaped
link) and the agent in Chromium: the kiosk negotiates a new peer connection when the network
returns, video plays again in the browser, and the call survives."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from kiosk.config import TokenStore
from kiosk.office_client import OfficeClient
from office import enrollment
from office.audit import Actor
from office.models import Role, Service
from office.models.calls import Call
from tests.conftest import TIMEOUT, TestDatabase
from tests.e2e.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, LiveOffice
from tests.e2e.netns import TestHost, netns_available, station_host
from tests.e2e.stations import start_seeded_office
from tests.e2e.test_call_console import _decoded, _open_call, _until

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def host() -> Iterator[TestHost]:
    """The kiosk's station: a network namespace behind a 4 Mbit/s link."""
    reason = netns_available()
    if reason is not None:
        pytest.skip(reason)
    with station_host() as h:
        h.shape("4mbit")
        yield h


@pytest.fixture
def office(sqlite_db: TestDatabase, tmp_path: Path, host: TestHost) -> Iterator[LiveOffice]:
    """The office listening on every local address: the kiosk reaches it across the link, the agent's
    browser over loopback (the agent's own network stays up while the station's link is cut)."""
    live = start_seeded_office(sqlite_db, tmp_path, host="0.0.0.0")
    yield live
    live.stop()


@pytest.fixture
def kiosk_process(office: LiveOffice, host: TestHost, tmp_path: Path) -> Iterator[Path]:
    """``doorstep kiosk enroll`` then ``doorstep kiosk run`` inside the namespace; yields its state dir."""
    state = tmp_path / "kiosk"
    env = {
        **os.environ,
        "KIOSK_OFFICE_URL": f"http://{host.host_ip}:{office.port}",
        "KIOSK_STATE_DIR": str(state),
        "KIOSK_VIDEO_WIDTH": "320",
        "KIOSK_VIDEO_HEIGHT": "240",
        "KIOSK_VIDEO_FPS": "15",
        "KIOSK_CONSENT": "grant",
        "KIOSK_UI_PORT": "18100",
    }
    code = enrollment.register(
        office.ctx, station_id=office.station_id, name="k", actor=Actor("system", "e2e")
    ).code
    cli = [*host.exec_prefix(), sys.executable, "-m", "doorstep.cli", "kiosk"]
    subprocess.run([*cli, "enroll", code], env=env, check=True, capture_output=True, timeout=TIMEOUT * 3)
    log = (tmp_path / "kiosk.log").open("wb")
    proc = subprocess.Popen([*cli, "run"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield state
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


async def test_ten_second_outage_then_media_returns_on_a_new_peer_connection(
    office: LiveOffice, host: TestHost, kiosk_process: Path
) -> None:
    """Cut the link for 10 s mid-call: video stops; once it is back, a new generation is negotiated
    and frames flow again; the call record is connected, counts the reconnect, and ends cleanly."""
    from playwright.async_api import async_playwright, expect

    token = TokenStore(kiosk_process).load()
    assert token is not None
    password = office.add_user("agent7", Role.AGENT, "Agent-pass-777")
    with office.ctx.read_db() as s:
        service_id = s.scalar(select(Service.id).where(Service.code == "GOV-SSC-APPLY"))
    assert service_id is not None

    async with OfficeClient(office.url, token) as kiosk_http:
        ticket = await kiosk_http.issue_ticket(service_id, idempotency_key=uuid.uuid4().hex)
    # The kiosk process starts in its namespace meanwhile: ring it only once it is on signaling (an
    # invite sent before it connected would be lost, and the call would ring out).
    staff = office.login("agent7")
    try:

        async def kiosk_online() -> bool:
            r = staff.get("/api/calls/kiosks-online")
            return r.status_code == 200 and bool(r.json().get("kiosk_ids"))

        await _until(kiosk_online, TIMEOUT * 3, "the kiosk connected to signaling")
    finally:
        staff.close()

    async with async_playwright() as pw:
        # The office is reached on the link's address over plain HTTP: let Chromium treat that origin
        # as secure (production serves HTTPS), or it offers no camera to the page.
        secure = f"--unsafely-treat-insecure-origin-as-secure={office.url}"
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, secure]
        )
        context = await browser.new_context(locale="zh-CN")
        context.set_default_timeout(TIMEOUT * 2000)
        page = await context.new_page()
        try:
            await _open_call(page, office, password, ticket["number"])
            await expect(page.locator("#call-status")).to_have_text("通话中", timeout=TIMEOUT * 2000)

            async def playing() -> bool:
                return await _decoded(page) >= 15

            await _until(playing, TIMEOUT * 2, "kiosk video in the browser")
            first_generation = int(await page.locator("#quality").get_attribute("data-generation") or 0)

            host.cut()
            await asyncio.sleep(10)  # the outage under test: real time, nothing to fake across processes
            frozen = await _decoded(page)
            host.restore()
            back = time.monotonic()

            async def first_frames_again() -> bool:
                generation = int(await page.locator("#quality").get_attribute("data-generation") or 0)
                return generation > first_generation and await _decoded(page) > frozen + 2

            await _until(first_frames_again, TIMEOUT * 3, "video on a new peer connection after the outage")
            recovered_s = time.monotonic() - back
            print(f"media back {recovered_s:.2f} s after the network returned")  # figure, not an assertion

            async def flowing_again() -> bool:
                return await _decoded(page) >= frozen + 15

            await _until(flowing_again, TIMEOUT, "video keeps flowing after the outage")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "call-after-outage.png"))

            with office.ctx.read_db() as s:
                record = s.scalars(select(Call).order_by(Call.created_at.desc()).limit(1)).one()

            async def reported_connected() -> bool:
                with office.ctx.read_db() as s:
                    rec = s.get(Call, record.id)
                    return rec is not None and rec.state == "connected" and rec.reconnects >= 1

            await _until(reported_connected, TIMEOUT, "the office records the reconnect and connected again")
            await page.keyboard.press("h")

            async def ended() -> bool:
                with office.ctx.read_db() as s:
                    rec = s.get(Call, record.id)
                    return rec is not None and rec.state == "ended"

            await _until(ended, TIMEOUT, "call ended")
        finally:
            await context.close()
            await browser.close()
