"""The resident's touchscreen journey in real Chromium against a real office process and a real
``doorstep kiosk run`` process with simulated devices (ID card, document camera, printer).

Every screen is saved under ``test-artifacts/kiosk-*.png`` and checked for accessibility: an
axe-core run (no serious or critical violations), the contrast of every text against its
background (≥ 4.5:1), and the size of every touch target (≥ 60×60 px).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from agent_console.headless import HeadlessAgent
from office import enrollment
from office.audit import Actor
from office.models import AgentSkill, Appointment, Rating, Role, RotaShift, Ticket, User
from signaling.messages import HwAction, HwOutcome
from tests.conftest import TIMEOUT, TestDatabase
from tests.e2e.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, LiveOffice, free_port
from tests.e2e.stations import start_seeded_office

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
CARD_ID = "310101198001010018"  # sim://idcard?card=resident-male
CARD_NAME = "张示例"

# Contrast of each visible text node against the first opaque background behind it (WCAG formula).
_CONTRAST_JS = """
() => {
  const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(',').map((x) => parseFloat(x)); return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 }; };
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const bg = (el) => { for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c.a > 0.5) return c; } return { r: 255, g: 255, b: 255, a: 1 }; };
  const out = []; const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.textContent.trim(); if (!text) continue;
    const el = n.parentElement; const r = el.getBoundingClientRect(); const st = getComputedStyle(el);
    if (r.width === 0 || r.height === 0 || st.visibility === 'hidden' || el.closest('[hidden]')) continue;
    const fg = parse(st.color); const b = bg(el); const l1 = lum(fg), l2 = lum(b);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    out.push({ text: text.slice(0, 30), ratio: Math.round(ratio * 100) / 100, size: parseFloat(st.fontSize) });
  }
  return out;
}
"""

_TARGETS_JS = """
() => [...document.querySelectorAll('button, a[href], input, [role=button]')]
  .filter((el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0 && !el.closest('[hidden]'); })
  .map((el) => { const r = el.getBoundingClientRect(); return { id: el.id || el.textContent.trim().slice(0, 20), w: r.width, h: r.height }; })
"""


@dataclass
class Kiosk:
    """A running ``doorstep kiosk run`` process with its UI."""

    proc: subprocess.Popen[bytes]
    ui: str
    state_dir: Path
    preview_dir: Path
    speaker: Path
    log_path: Path

    def logs(self) -> str:
        """Everything the process wrote so far."""
        return self.log_path.read_text(errors="replace")

    def previews(self) -> list[Path]:
        """The printer simulator's PNG previews, oldest first."""
        return sorted(self.preview_dir.glob("job-*.png"))

    def stop(self) -> None:
        """Ctrl-C, then wait."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=TIMEOUT * 2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_kiosk(office: LiveOffice, tmp_path: Path, **env_extra: str) -> Kiosk:
    """Enroll a kiosk with ``doorstep kiosk enroll`` and start ``doorstep kiosk run`` with the UI."""
    code = enrollment.register(
        office.ctx, station_id=office.station_id, name="k-ui", actor=Actor("system", "e2e")
    ).code
    state_dir = tmp_path / "kiosk"
    preview_dir = tmp_path / "printer"
    preview_dir.mkdir(parents=True, exist_ok=True)
    speaker = tmp_path / "speaker.raw"
    port = free_port()
    env = {
        **os.environ,
        "KIOSK_OFFICE_URL": office.url,
        "KIOSK_STATE_DIR": str(state_dir),
        "KIOSK_UI_PORT": str(port),
        "KIOSK_CONSENT": "ui",
        "KIOSK_VIDEO_WIDTH": "320",
        "KIOSK_VIDEO_HEIGHT": "240",
        "KIOSK_VIDEO_FPS": "15",
        "KIOSK_PRINTER_URL": f"sim://printer?preview_dir={preview_dir}",
        "KIOSK_DOCUMENT_CAMERA_URL": "sim://document_camera?width=1600&height=1200",
        "KIOSK_SPEAKER": f"file:{speaker}",
        "KIOSK_UI_POLL_INTERVAL_S": "1",
        "KIOSK_UI_RETRY_INTERVAL_S": "1",
        "KIOSK_UI_TIMEOUTS": json.dumps({"ticketed": 3, "goodbye": 3}),
        "KIOSK_HEALTH_INTERVAL_S": "2",
        **env_extra,
    }
    cli = [sys.executable, "-m", "doorstep.cli", "kiosk"]
    enrolled = subprocess.run(
        [*cli, "enroll", code], env=env, capture_output=True, text=True, timeout=TIMEOUT * 3
    )
    assert enrolled.returncode == 0, enrolled.stderr
    log_path = tmp_path / "kiosk.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([*cli, "run"], env=env, stdout=log, stderr=subprocess.STDOUT)
    kiosk = Kiosk(proc, f"http://127.0.0.1:{port}", state_dir, preview_dir, speaker, log_path)
    deadline = time.monotonic() + TIMEOUT * 3
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"kiosk exited {proc.returncode}:\n{kiosk.logs()[-3000:]}")
        try:
            if httpx.get(f"{kiosk.ui}/healthz", timeout=1).status_code == 200:
                return kiosk
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    kiosk.stop()
    raise AssertionError(f"kiosk UI never answered:\n{kiosk.logs()[-3000:]}")


@pytest.fixture
def office(sqlite_db: TestDatabase, tmp_path: Path) -> Iterator[LiveOffice]:
    """``doorstep office run`` on SQLite with one station and the seeded catalog."""
    live = start_seeded_office(sqlite_db, tmp_path)
    yield live
    live.stop()


@pytest.fixture
def kiosk(office: LiveOffice, tmp_path: Path) -> Iterator[Kiosk]:
    """A real kiosk process (simulated devices) with its resident UI on a free port."""
    k = start_kiosk(office, tmp_path)
    yield k
    k.stop()


async def get(url: str) -> httpx.Response:
    """GET from the kiosk's UI server."""
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        return await client.get(url)


async def until(predicate: Any, within: float, what: str) -> None:
    """Poll ``predicate`` (state in another process: nothing to await on)."""
    try:
        async with asyncio.timeout(within):
            while not await predicate():  # noqa: ASYNC110 - polling another process
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for: {what}") from None


async def check_screen(page: Any, name: str, *, axe: bool = True) -> Path:
    """Screenshot ``name`` into test-artifacts/, then run the accessibility checks on it."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"kiosk-{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    pairs = await page.evaluate(_CONTRAST_JS)
    assert pairs, f"{name}: no text on screen"
    low = [p for p in pairs if p["ratio"] < 4.5]
    assert low == [], f"{name}: text below 4.5:1 contrast: {low}"
    small_text = [p for p in pairs if p["size"] < 24]
    assert small_text == [], f"{name}: text under 18 pt (24 px): {small_text}"
    targets = await page.evaluate(_TARGETS_JS)
    small = [t for t in targets if t["w"] < 60 or t["h"] < 60]
    assert small == [], f"{name}: touch targets under 60×60 px: {small}"
    if axe:
        if not await page.evaluate("() => typeof window.axe === 'object'"):
            await page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
        result = await page.evaluate(
            "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
            " return r.violations.map((v) => ({id: v.id, impact: v.impact, nodes: v.nodes.length})); }"
        )
        serious = [v for v in result if v["impact"] in ("serious", "critical")]
        assert serious == [], f"{name}: axe-core violations: {serious}"
    return path


async def state(page: Any, expected: str) -> None:
    """Wait until the page renders session state ``expected``."""
    from playwright.async_api import expect

    await expect(page.locator("body")).to_have_attribute("data-state", expected)


async def open_page(pw: Any, kiosk: Kiosk) -> tuple[Any, Any, list[str]]:
    """Chromium on the kiosk's page (bypass_csp only so the test can inject axe-core)."""
    browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    context = await browser.new_context(
        locale="zh-CN", viewport={"width": 1280, "height": 800}, bypass_csp=True
    )
    context.set_default_timeout(TIMEOUT * 1000)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(kiosk.ui + "/")
    await state(page, "idle")
    return browser, page, errors


async def identify_by_card(page: Any) -> None:
    """Consent screen → agree → the simulated card is read → identified."""
    from playwright.async_api import expect

    await state(page, "identifying")
    await expect(page.locator("#consent-text")).to_contain_text("身份证")
    await check_screen(page, "identify-consent")
    await page.click("#read-card")
    await state(page, "identified")
    await expect(page.locator("#who")).to_contain_text("张**")
    await expect(page.locator("#who")).to_contain_text("3101**********0018")


async def test_take_a_number_be_called_answer_requests_hang_up_and_rate(
    office: LiveOffice, kiosk: Kiosk
) -> None:
    """Welcome → category → service → materials (printed) → consent + ID card → number (printed) →
    waiting → called by the headless agent → consent to the ID card and document requests → the live
    document view shown while on → the needs-materials notice printed → hang-up → rating with reasons
    → goodbye → wiped back to the welcome screen."""
    from playwright.async_api import async_playwright, expect

    password = office.add_user("agent1", Role.AGENT)
    async with async_playwright() as pw:
        browser, page, errors = await open_page(pw, kiosk)
        try:
            await expect(page.locator("#voice")).to_have_attribute("data-prompt", "prompt.welcome")
            voice_src = await page.locator("#voice").get_attribute("src")
            assert voice_src == "/voice/zh-CN/prompt.welcome.wav"
            wav = await get(kiosk.ui + voice_src)
            assert wav.status_code == 200 and wav.content[:4] == b"RIFF"
            assert wav.headers["cache-control"] == "no-store"
            await check_screen(page, "welcome")
            await page.click("#elder-toggle")
            await expect(page.locator("body")).to_have_class("elder")
            await check_screen(page, "welcome-elder")
            await page.click("#start")
            await state(page, "choosing")
            await expect(page.locator("#voice")).to_have_attribute("data-prompt", "prompt.choose_service")
            await check_screen(page, "categories")
            await page.click("#category-government")
            await expect(page.locator("#service-GOV-SSC-APPLY")).to_be_visible()
            await check_screen(page, "services")
            await page.click("#service-GOV-SSC-APPLY")
            services = (await get(kiosk.ui + "/api/catalog")).json()["services"]
            wanted = next(s for s in services if s["code"] == "GOV-SSC-APPLY")["materials"]
            await expect(page.locator("#materials li")).to_have_count(len(wanted))
            await expect(page.locator("#materials")).to_contain_text(wanted[0]["name"])
            await check_screen(page, "materials")
            await page.click("#print-materials")
            await expect(page.locator("#message")).to_have_attribute("data-key", "printed.materials")
            assert len(kiosk.previews()) == 1
            await page.click("#identify")
            await identify_by_card(page)
            await check_screen(page, "identified")
            await page.click("#take-number")
            await state(page, "ticketed")
            number = (await page.locator("#ticket-number").inner_text()).strip()
            assert number.startswith("A")
            await expect(page.locator("#ticket-ahead")).to_have_text("您是下一位")
            await expect(page.locator("#ticket-wait")).to_contain_text("预计等待")
            await check_screen(page, "ticket")
            previews = kiosk.previews()
            assert len(previews) == 2
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            (ARTIFACTS / "kiosk-printed-ticket.png").write_bytes(previews[1].read_bytes())
            (ARTIFACTS / "kiosk-printed-materials.png").write_bytes(previews[0].read_bytes())
            await state(page, "waiting")
            await check_screen(page, "waiting")
            with office.ctx.read_db() as s:
                ticket = s.scalar(select(Ticket).where(Ticket.display_number == number))
                assert ticket is not None and ticket.resident_hash is not None  # bound to the card read

            agent = await HeadlessAgent.login(office.url, "agent1", password, heartbeat_interval=0.5)
            async with agent:
                await agent.set_available()
                offered = await agent.call_next()
                assert offered is not None and offered["number"] == number
                await agent.start_call(offered["id"])
                await state(page, "in_call")
                await expect(page.locator("#call")).to_have_attribute("data-phase", "connected")

                async def agent_video_shown() -> bool:
                    width = await page.locator("#agent-video").evaluate("(el) => el.naturalWidth")
                    return bool(width and width > 0)

                await until(agent_video_shown, TIMEOUT * 2, "agent video on the kiosk page")
                await check_screen(page, "in-call")

                read = asyncio.create_task(agent.request_hw(HwAction.READ_ID_CARD, within=TIMEOUT * 3))
                await expect(page.locator("#hw")).to_have_attribute("data-phase", "consent")
                await expect(page.locator("#hw-guidance")).to_contain_text("请将身份证放在读卡区")
                await expect(page.locator("#voice")).to_have_attribute(
                    "data-prompt", "prompt.hw.read_id_card.consent"
                )
                await check_screen(page, "call-consent-idcard")
                await page.click("#hw-agree")
                result = await read
                assert result.outcome is HwOutcome.OK and result.data is not None
                assert result.data["id_number"] == "3101**********0018"
                await expect(page.locator("#hw")).to_have_attribute("data-phase", "ok")
                await check_screen(page, "call-result-idcard")
                await page.click("#hw-dismiss")

                capture = asyncio.create_task(agent.request_hw(HwAction.CAPTURE_DOCUMENT, within=TIMEOUT * 4))
                await expect(page.locator("#hw")).to_have_attribute("data-phase", "consent")
                await page.click("#hw-agree")
                result = await capture
                assert result.outcome is HwOutcome.OK
                await expect(page.locator("#document-figure")).to_be_visible()
                await check_screen(page, "call-document")
                await page.click("#hw-dismiss")

                # The live document view: asked on screen, then shown small (what the agent sees).
                live = asyncio.create_task(agent.request_hw(HwAction.DOCUMENT_LIVE_START, within=TIMEOUT * 3))
                await expect(page.locator("#hw")).to_have_attribute("data-phase", "consent")
                await expect(page.locator("#voice")).to_have_attribute(
                    "data-prompt", "prompt.hw.document_live.consent"
                )
                await page.click("#hw-agree")
                started = await live
                assert started.outcome is HwOutcome.OK and started.data is not None
                assert started.data["live"] is True
                await expect(page.locator("#document-live-figure")).to_be_visible()

                async def live_view_shown() -> bool:
                    width = await page.locator("#document-live-view").evaluate("(el) => el.naturalWidth")
                    return bool(width and width > 0)

                await until(live_view_shown, TIMEOUT * 2, "the live document view on the kiosk page")
                await check_screen(page, "call-document-live")
                stopped = await agent.request_hw(HwAction.DOCUMENT_LIVE_STOP, within=TIMEOUT * 2)
                assert stopped.outcome is HwOutcome.OK
                await expect(page.locator("#document-live-figure")).to_be_hidden()
                await page.click("#hw-dismiss")

                # The needs-materials notice the agent sends is printed here, without a consent prompt.
                notice: dict[str, str | int | float | bool] = {
                    "service": "社会保障卡申领",
                    "reference": "BJ-E2E-0001",
                    "m1": "1|original|近期一寸免冠彩色照片",
                    "m2": "1|copy|户口簿",
                }
                printed = await agent.request_hw(HwAction.PRINT_NOTICE, notice, within=TIMEOUT * 3)
                assert printed.outcome is HwOutcome.OK and printed.data == {"printed": True, "items": 2}
                await expect(page.locator("#hw")).to_have_attribute("data-action", "print_notice")
                await expect(page.locator("#hw-result")).to_contain_text("告知单已打印")
                await expect(page.locator("#voice")).to_have_attribute(
                    "data-prompt", "prompt.hw.print_notice.ok"
                )
                await check_screen(page, "call-notice-printed")
                previews = kiosk.previews()
                assert len(previews) == 3
                slip = previews[2].with_suffix(".bin").read_bytes()
                for text in (
                    "补正告知",
                    "BJ-E2E-0001",
                    "近期一寸免冠彩色照片 ×1（原件）",
                    "户口簿 ×1（复印件）",
                ):
                    assert text.encode("gb18030") in slip, text
                (ARTIFACTS / "kiosk-printed-notice.png").write_bytes(previews[2].read_bytes())
                await page.click("#hw-dismiss")

                refused = asyncio.create_task(agent.request_hw(HwAction.READ_ID_CARD, within=TIMEOUT * 3))
                await expect(page.locator("#hw-refuse")).to_be_visible()
                await page.click("#hw-refuse")
                assert (await refused).outcome is HwOutcome.CONSENT_REFUSED
                await agent.hang_up("completed")

            await state(page, "rating")
            await check_screen(page, "rating")
            assert kiosk.speaker.exists() and kiosk.speaker.stat().st_size > 0  # agent audio was played
            await page.click("#rate-2")
            await expect(page.locator("#reason-slow")).to_be_visible()
            await check_screen(page, "rating-reasons")
            await page.click("#submit-rating")
            await expect(page.locator("#message")).to_have_attribute("data-key", "error.reasons_required")
            await page.click("#reason-slow")
            await expect(page.locator("#reason-slow")).to_have_attribute("aria-pressed", "true")
            await page.click("#submit-rating")
            await state(page, "goodbye")
            await check_screen(page, "goodbye")
            await state(page, "idle")
            body = await page.locator("body").inner_text()
            assert "张**" not in body and "0018" not in body and number not in body
            assert errors == []
        finally:
            await browser.close()
    logs = kiosk.logs() + office.logs()
    assert CARD_ID not in logs and CARD_NAME not in logs
    assert "rating kept local" not in kiosk.logs()
    with office.ctx.read_db() as s:
        ticket_id = s.scalar(select(Ticket.id).where(Ticket.display_number == number))
        rating = s.scalar(select(Rating).where(Rating.ticket_id == ticket_id))
    assert rating is not None and (rating.level, rating.reasons, rating.is_default) == (2, ["slow"], False)


async def test_book_an_appointment_then_check_in(office: LiveOffice, kiosk: Kiosk) -> None:
    """Book the first free slot (calendar, printed slip with the code), then check in for it by ID card."""
    from playwright.async_api import async_playwright, expect

    # Arrange: an agent with the service's skill on the rota every day (slots come from the rota).
    office.add_user("booker", Role.AGENT)
    with office.ctx.db() as s, s.begin():
        uid = s.scalar(select(User.id).where(User.username == "booker"))
        assert uid is not None
        s.add(AgentSkill(user_id=uid, skill="social_security"))
        for weekday in range(7):
            s.add(
                RotaShift(
                    office_id=office.office_id, user_id=uid, weekday=weekday, start_min=540, end_min=1020
                )
            )
    async with async_playwright() as pw:
        browser, page, errors = await open_page(pw, kiosk)
        try:
            await page.click("#start-en")
            await state(page, "choosing")
            await expect(page.locator("html")).to_have_attribute("lang", "en")
            await page.click("#category-government")
            await page.click("#service-GOV-SSC-APPLY")
            await page.click("#identify")
            await state(page, "identifying")
            await page.click("#read-card")
            await state(page, "identified")
            await page.click("#book")
            await state(page, "booking")
            slot = page.locator("#calendar button").first
            await expect(slot).to_be_visible()
            await check_screen(page, "booking-calendar")
            await slot.click()
            await expect(page.locator("#chosen")).to_be_visible()
            await expect(slot).to_have_attribute("aria-pressed", "true")
            await check_screen(page, "booking-chosen")
            await page.click("#confirm-booking")
            await state(page, "goodbye")
            code = (await page.locator("#booking-code").inner_text()).strip()
            assert code
            await check_screen(page, "booked")
            assert len(kiosk.previews()) == 1
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            (ARTIFACTS / "kiosk-printed-booking.png").write_bytes(kiosk.previews()[0].read_bytes())
            await state(page, "idle")

            # Arrange: the booked slot starts in ten minutes (check-in opens shortly before it).
            with office.ctx.db() as s, s.begin():
                appt = s.scalar(select(Appointment).where(Appointment.code == code))
                assert appt is not None and appt.state == "booked"
                length = appt.ends_at - appt.starts_at
                appt.starts_at = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)
                appt.ends_at = appt.starts_at + length
                appt.local_date = appt.starts_at.astimezone(ZoneInfo("Asia/Shanghai")).date()

            await page.click("#have-booking")
            await state(page, "identifying")
            await page.click("#read-card")
            await state(page, "identified")
            await page.click("#checkin-screen")
            await expect(page.locator("body")).to_have_attribute("data-step", "checkin")
            await check_screen(page, "checkin")
            await page.click("#check-in")
            await state(page, "waiting")
            await expect(page.locator("#ticket-number")).not_to_be_empty()
            await check_screen(page, "checked-in-waiting")
            with office.ctx.read_db() as s:
                appt = s.scalar(select(Appointment).where(Appointment.code == code))
                assert appt is not None and appt.state == "checked_in"
            await page.click("#leave-queue")
            await state(page, "goodbye")
            assert errors == []
        finally:
            await browser.close()


async def test_inactivity_wipes_the_screen_and_the_office_outage_is_explained(
    office: LiveOffice, tmp_path: Path
) -> None:
    """Typed ID, then nobody touches the screen: back to welcome with nothing of the resident left
    (page, view, temporary files). Then the office goes away: a banner says what still works."""
    from playwright.async_api import async_playwright, expect

    kiosk = start_kiosk(office, tmp_path, KIOSK_UI_TIMEOUTS=json.dumps({"identified": 4, "goodbye": 2}))
    try:
        async with async_playwright() as pw:
            browser, page, errors = await open_page(pw, kiosk)
            try:
                await page.click("#start")
                await page.click("#category-legal")
                await page.click("#service-LEGAL-CONSULT")
                await page.click("#identify")
                await state(page, "identifying")
                await page.click("#type-id")
                await expect(page.locator("body")).to_have_attribute("data-step", "type_id")
                for ch in "110101199003070024":
                    await page.click(f"#key-{ch}")
                await page.click("#submit-id")
                await expect(page.locator("#message")).to_have_attribute("data-key", "error.bad_id_number")
                await check_screen(page, "type-id-error")
                await page.click("#key-del")
                await page.click("#key-X")
                await page.click("#submit-id")
                await state(page, "identified")
                await expect(page.locator("#who")).to_contain_text("1101**********002X")
                (kiosk.state_dir / "tmp" / "scan.jpg").write_bytes(b"resident scan")
                await state(page, "idle")  # 4 s without a touch
                assert "1101" not in await page.locator("body").inner_text()
                assert await page.locator("#value-id").count() == 0
                assert list((kiosk.state_dir / "tmp").iterdir()) == []
                health = await get(kiosk.ui + "/healthz")
                assert health.json()["state"] == "idle"
                assert health.headers["cache-control"] == "no-store"

                office.stop()
                await page.click("#start")
                await state(page, "choosing")
                await page.click("#category-legal")
                await page.click("#service-LEGAL-CONSULT")
                await page.click("#identify")
                await page.click("#type-id")
                for ch in "11010119900307002X":
                    await page.click(f"#key-{ch}")
                await page.click("#submit-id")
                await state(page, "identified")
                await page.click("#take-number")
                await expect(page.locator("#degraded")).to_be_visible()
                await expect(page.locator("#degraded")).to_contain_text("连接不上办事中心")
                await expect(page.locator("#message")).to_have_attribute(
                    "data-key", "error.office_unreachable"
                )
                await check_screen(page, "degraded-office", axe=False)
                assert errors == []
            finally:
                await browser.close()
        assert "technician alert: office unreachable" in kiosk.logs()
    finally:
        kiosk.stop()
