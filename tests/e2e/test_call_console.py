"""The agent's call panel in real Chromium (fake camera and microphone) serving a real kiosk runtime
through a real office process: call next, video both ways, quality indicator, hang up."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from kiosk.office_client import OfficeClient
from kiosk.peer import PeerSettings
from kiosk.runtime import KioskRuntime
from office.models import Role, Service
from office.models.calls import Call
from tests.conftest import TIMEOUT, TestDatabase
from tests.e2e.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, LiveOffice, start_office
from tests.e2e.stations import enrolled_kiosk, start_seeded_office

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def office_db(sqlite_db: TestDatabase) -> TestDatabase:
    """The office's database (kept so a test can restart the office process on it)."""
    return sqlite_db


@pytest.fixture
def office(office_db: TestDatabase, tmp_path: Path) -> Iterator[LiveOffice]:
    """``doorstep office run`` on SQLite with one station and the seeded catalog."""
    live = start_seeded_office(office_db, tmp_path)
    yield live
    live.stop()


@pytest.fixture
async def kiosk(office: LiveOffice, tmp_path: Path) -> AsyncIterator[tuple[KioskRuntime, OfficeClient]]:
    """An enrolled kiosk runtime with synthetic 640×480 video, connected to the office."""
    settings = PeerSettings(heartbeat_interval=0.5, dead_after=4.0, connect_timeout=8.0, retry_delay=0.3)
    async with enrolled_kiosk(office, tmp_path, peer_settings=settings, video=(640, 480, 15)) as pair:
        yield pair


async def _until(predicate: Any, within: float, what: str) -> None:
    """Poll ``predicate`` (state in another process or the browser: nothing to await on)."""
    try:
        async with asyncio.timeout(within):
            while not await predicate():  # noqa: ASYNC110 - polling another process, no event to wait on
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for: {what}") from None


async def _open_call(page: Any, office: LiveOffice, password: str, ticket_number: str) -> None:
    """Log in as agent7, open the call panel, become available and call the next ticket."""
    from playwright.async_api import expect

    await page.goto(f"{office.url}/console/login.html?next=/console/call.html")
    await page.fill("#username", "agent7")
    await page.fill("#password", password)
    await page.click("#submit")
    await page.wait_for_url(f"{office.url}/console/call.html")
    await expect(page.locator("#link")).to_have_text("信令已连接")
    await page.click("#available")
    await expect(page.locator("#call-status")).to_have_text("可接听，请叫号")
    await page.keyboard.press("n")
    await expect(page.locator("#ticket-number")).to_have_text(ticket_number)


async def _decoded(page: Any) -> int:
    return int(await page.locator("#quality").get_attribute("data-frames-decoded") or 0)


async def test_agent_serves_a_kiosk_from_the_browser_call_panel(
    office: LiveOffice, kiosk: tuple[KioskRuntime, OfficeClient]
) -> None:
    """Login → call panel → available → call next: the kiosk's video plays in Chromium, the browser's
    fake camera reaches the kiosk, the quality indicator shows a level in text, hang-up ends the call.
    The self view shows only in a call, from the resident's first frame: hidden and paused between
    calls, shown and playing again in a second call."""
    from playwright.async_api import async_playwright, expect

    runtime, kiosk_client = kiosk
    password = office.add_user("agent7", Role.AGENT, "Agent-pass-777")
    with office.ctx.read_db() as s:
        service_id = s.scalar(select(Service.id).where(Service.code == "GOV-SSC-APPLY"))
    assert service_id is not None
    ticket = await kiosk_client.issue_ticket(service_id, idempotency_key=uuid.uuid4().hex)

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
        context.set_default_timeout(TIMEOUT * 1000)
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            await _open_call(page, office, password, ticket["number"])

            async def browser_decoded() -> bool:
                return await _decoded(page) >= 15

            async def kiosk_received() -> bool:
                call = runtime.call
                return call is not None and call.frames_received.get("video", 0) >= 15

            await _until(browser_decoded, TIMEOUT * 2, "kiosk video decoded in the browser")
            await _until(kiosk_received, TIMEOUT * 2, "browser video received by the kiosk")
            await expect(page.locator("#call-status")).to_have_text("通话中")
            level = await page.locator("#quality").get_attribute("data-level")
            assert level in {"good", "fair", "poor"}
            assert (await page.locator("#quality-text").inner_text()).startswith("网络")
            await expect(page.locator("#self")).to_be_visible()
            assert await page.locator("#self").evaluate("v => !v.paused && v.srcObject !== null")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "call-panel-in-call.png"))
            call_id = runtime.call_id
            assert call_id is not None
            with office.ctx.read_db() as s:
                record = s.get(Call, call_id)
                assert record is not None
                assert record.state == "connected"
                assert record.setup_ms is not None

            await page.keyboard.press("h")
            await expect(page.locator("#call-status")).to_have_text("通话已结束")

            async def kiosk_hung_up() -> bool:
                return runtime.call is None

            await _until(kiosk_hung_up, TIMEOUT, "kiosk left the call")

            def ended() -> Call | None:
                with office.ctx.read_db() as s:
                    return s.get(Call, call_id)

            async def record_ended() -> bool:
                rec = ended()
                return rec is not None and rec.state == "ended"

            await _until(record_ended, TIMEOUT, "call record ended")
            final = ended()
            assert final is not None
            assert final.end_reason == "completed"
            assert final.duration_ms is not None

            await page.evaluate(
                """() => {
                    window.selfEvents = [];
                    const view = document.getElementById("self");
                    for (const name of ["pause", "play"]) view.addEventListener(name, () => selfEvents.push(name));
                }"""
            )
            await expect(page.locator("#self")).to_be_hidden()
            assert await page.locator("#self").evaluate("v => v.paused && v.srcObject !== null")
            second = await kiosk_client.issue_ticket(service_id, idempotency_key=uuid.uuid4().hex)
            await page.evaluate(  # the workbench's "done" (this panel has none): the agent is free again
                """async (id) => {
                    const { api } = await import("/console/api.js");
                    await api("POST", `/api/queue/tickets/${id}/complete`, {});
                }""",
                ticket["id"],
            )
            await page.click("#available")
            await page.keyboard.press("n")
            await expect(page.locator("#ticket-number")).to_have_text(second["number"])
            await expect(page.locator("#call-status")).to_have_text("通话中")
            await _until(kiosk_received, TIMEOUT * 2, "browser video received by the kiosk, second call")

            await expect(page.locator("#self")).to_be_visible()
            assert await page.locator("#self").evaluate("v => !v.paused")
            assert await page.evaluate("selfEvents") == ["play"]
            assert errors == []
        finally:
            await context.close()
            await browser.close()


async def test_office_restart_mid_call_keeps_media_and_signaling_resumes(
    office: LiveOffice, office_db: TestDatabase, kiosk: tuple[KioskRuntime, OfficeClient], tmp_path: Path
) -> None:
    """Media is peer to peer: with the office process gone the video keeps playing; the office comes
    back on the same port and database, both parties' signaling reconnects within 5 s, the call record
    is intact, and hanging up through the new process ends the call."""
    from playwright.async_api import async_playwright, expect

    runtime, kiosk_client = kiosk
    password = office.add_user("agent7", Role.AGENT, "Agent-pass-777")
    with office.ctx.read_db() as s:
        service_id = s.scalar(select(Service.id).where(Service.code == "GOV-SSC-APPLY"))
    assert service_id is not None
    ticket = await kiosk_client.issue_ticket(service_id, idempotency_key=uuid.uuid4().hex)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = await browser.new_context(locale="zh-CN")
        context.set_default_timeout(TIMEOUT * 1000)
        page = await context.new_page()
        restarted: LiveOffice | None = None
        try:
            await _open_call(page, office, password, ticket["number"])
            await expect(page.locator("#call-status")).to_have_text("通话中")
            call_id = runtime.call_id
            assert call_id is not None

            office.stop()
            await expect(page.locator("#link")).to_have_text("信令未连接")
            before = await _decoded(page)

            async def still_flowing() -> bool:
                return await _decoded(page) >= before + 15

            await _until(still_flowing, TIMEOUT, "video frames while the office is down")

            restarted = start_office(office_db, tmp_path, port=office.port)
            await expect(page.locator("#link")).to_have_text("信令已连接", timeout=5000)

            async def kiosk_back() -> bool:
                return runtime.signaling.connected

            await _until(kiosk_back, 5, "kiosk signaling back")
            live = restarted

            async def intact_and_connected() -> bool:
                # Parties were away while the office was down: the record may pass through
                # "reconnecting" and must come back to "connected" once both are present again.
                with live.ctx.read_db() as s:
                    record = s.get(Call, call_id)
                    assert record is not None
                    return record.state == "connected"

            await _until(intact_and_connected, TIMEOUT, "the call record connected again")
            await page.keyboard.press("h")

            async def ended() -> bool:
                with restarted.ctx.read_db() as s:
                    rec = s.get(Call, call_id)
                    return rec is not None and rec.state == "ended"

            await _until(ended, TIMEOUT, "call ended through the restarted office")

            async def kiosk_hung_up() -> bool:
                return runtime.call is None

            await _until(kiosk_hung_up, TIMEOUT, "kiosk left the call")
        finally:
            await context.close()
            await browser.close()
            if restarted is not None:
                restarted.stop()
