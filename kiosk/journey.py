"""The resident's journey: the session machine (:mod:`kiosk.session`) driven by the page, the office,
the devices and the calls, with a view of it that the page renders.

:class:`Journey` is the glue the UI server (:mod:`kiosk.web`) wraps. The page sends operations
(``{"op": "start", "lang": "en"}``, ``{"op": "take_number"}`` …) to :meth:`Journey.dispatch`; the
journey calls the office (:class:`~kiosk.office_client.OfficeClient`), the printer and the ID-card
reader, feeds the session machine its events, and publishes a new :meth:`Journey.view` to every
listener after each change. The runtime tells it about calls (``on_call``) and about the agent's
hardware requests (``on_hw``); the device service asks it for consent (:meth:`Journey.consent`).

Privacy: the view carries masked identity only (the unmasked ID number stays in process memory
for binding a ticket or booking, and only until the session's wipe). A wipe clears the session
data, the journey's own buffers (document stills, the agent's last video frame), its temporary
files, and tells the page to clear itself.

Degraded operation: an unreachable office or a failing device sets ``degraded`` in the view
(what is down, what still works), retries in the background, and logs a technician alert; the
device-health report the runtime sends carries each device's state to the office.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hardware.errors import HardwareError, UserActionRequired
from hardware.idcard import IdCardData
from hardware.printer import ticket as slips
from hardware.printer.device import TicketPrinter
from kiosk.devices import DeviceService, HwOutcomeData
from kiosk.office_client import KioskIdentity, OfficeClient, OfficeError, OfficeUnreachable
from kiosk.session import Event, IllegalEvent, Session, Speak, State, Wipe
from kiosk.ui_video import FrameTap
from signaling.messages import HwAction, HwOutcome, HwRequest

__all__ = ["CONTENT_VERSION", "FALLBACK_REASONS", "Journey", "Listener"]

logger = logging.getLogger(__name__)

Listener = Callable[[dict[str, Any]], None]
"""Receives each new view of the journey (the web server pushes it down the page's WebSocket)."""

CONTENT_VERSION = "2026.1"
"""The rating content (levels and reasons) this kiosk shows (contract C4 ``content_version``)."""

FALLBACK_REASONS: tuple[dict[str, str], ...] = (
    {"code": "slow", "zh": "办理时间长", "en": "It took too long"},
    {"code": "wait_long", "zh": "排队等候久", "en": "I waited too long"},
    {"code": "unclear_guidance", "zh": "告知不清楚", "en": "Requirements were not explained clearly"},
    {"code": "repeat_visit", "zh": "需要多次跑", "en": "I have to come back again"},
    {"code": "not_resolved", "zh": "问题没解决", "en": "My matter was not resolved"},
    {"code": "attitude", "zh": "服务态度差", "en": "Staff were impolite"},
    {"code": "unprofessional", "zh": "业务不熟练", "en": "Staff did not know the procedure"},
    {"code": "video_poor", "zh": "视频声音不清楚", "en": "Video or sound was poor"},
    {"code": "kiosk_hard", "zh": "设备不好用", "en": "The kiosk was hard to use"},
    {"code": "other", "zh": "其他", "en": "Other"},
)
"""Reasons for levels 1–2 when the office cannot be asked (``GET /api/kiosk/rating-reasons``)."""

#: Ticket states after which the resident is no longer in the queue.
_CLOSED_TICKET = frozenset({"done", "no_show", "left", "cancelled"})
#: Hardware actions the agent may ask for → the catalog key of their spoken/written guidance.
_HW_GUIDANCE = {
    "read_id_card": "hw.read_id_card",
    "capture_document": "hw.capture_document",
    "verify_fingerprint": "hw.verify_fingerprint",
    "document_live_start": "hw.document_live",
    "print_notice": "hw.print_notice",
}
#: Requests that ask no consent but are still shown (and spoken) on the in-call screen.
_SHOWN_WITHOUT_CONSENT = frozenset({HwAction.PRINT_NOTICE})
#: Results with their own spoken confirmation (``prompt.<guidance>.ok``) instead of "done".
_SPOKEN_OK = frozenset({HwAction.PRINT_NOTICE, HwAction.DOCUMENT_LIVE_START})


class Journey:
    """One kiosk's resident journey (one session at a time)."""

    def __init__(
        self,
        office: OfficeClient,
        devices: DeviceService,
        *,
        identity: KioskIdentity | None = None,
        agent_video: FrameTap | None = None,
        temp_dir: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        consent_timeout: float = 60.0,
        poll_interval: float = 3.0,
        retry_interval: float = 5.0,
        timeouts: dict[State, float | None] | None = None,
    ) -> None:
        self.office = office
        self.devices = devices
        self.identity = identity
        self.agent_video = agent_video
        self.temp_dir = temp_dir
        self.clock = clock
        self.consent_timeout = consent_timeout
        self.poll_interval = poll_interval
        self.retry_interval = retry_interval
        self.session = Session(timeouts=dict(timeouts)) if timeouts else Session()
        self.slip_english = False
        """Slips use Chinese names to match the printer's labels (its style's locale) unless set."""
        self.listeners: set[Listener] = set()
        self.catalog: dict[str, Any] = {"categories": [], "services": []}
        self.reasons: list[dict[str, str]] = list(FALLBACK_REASONS)
        self.office_down = False
        self.failing_devices: list[str] = []
        self.alerts: list[str] = []
        self.wipes = 0
        self.prompt = "prompt.welcome"
        self.seq = 0
        self._reset_local()
        self._consent: asyncio.Future[bool] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._main: list[asyncio.Task[None]] = []

    def _reset_local(self) -> None:
        """Journey-side state of one resident (everything here is wiped with the session)."""
        self.screen_step = ""  # sub-step inside a state: "category", "service", "materials", "type_id", …
        self.category: str | None = None
        self.service: dict[str, Any] | None = None
        self.id_source: str | None = None
        self.phone: str | None = None
        self.ticket_id: int | None = None
        self.ticket: dict[str, Any] | None = None
        self.slots: list[dict[str, Any]] = []
        self.hold: dict[str, Any] | None = None
        self.booking: dict[str, Any] | None = None
        self.call_id: str | None = None
        self.call_phase: str | None = None
        self.hw: dict[str, Any] | None = None
        self.document_jpeg: bytes | None = None
        self.rated: dict[str, Any] | None = None
        self.message: dict[str, str] | None = None
        self.farewell: dict[str, Any] | None = None
        self.busy: str | None = None

    # -- life cycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the catalog (retrying in the background while the office is down) and start ticking."""
        self._main.append(asyncio.create_task(self._tick_loop(), name="journey-tick"))
        self._main.append(asyncio.create_task(self._office_loop(), name="journey-office"))

    async def close(self) -> None:
        """Stop background work; wipe whatever the session held."""
        for task in [*self._main, *self._tasks]:
            task.cancel()
        for task in [*self._main, *self._tasks]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._main.clear()
        if self._consent is not None and not self._consent.done():
            self._consent.set_result(False)
        self._wipe()

    # -- view -------------------------------------------------------------------------------------

    def view(self) -> dict[str, Any]:
        """What the page renders now (masked data only)."""
        data = self.session.data
        svc = self.service
        return {
            "seq": self.seq,
            "state": self.session.state.value,
            "step": self.screen_step,
            "prompt": self.prompt,
            "lang": data.language,
            "elder": data.elder_mode,
            "wipes": self.wipes,
            "station": None
            if self.identity is None
            else {"name": self.identity.station_name, "name_en": self.identity.station_name_en},
            "catalog_ready": bool(self.catalog["services"]),
            "category": self.category,
            "service": None if svc is None else _service_view(svc),
            "identity": None
            if data.identity is None
            else {k: data.identity.get(k, "") for k in ("name", "id_number")},
            "id_source": self.id_source,
            "typing_allowed": self._typing_allowed(),
            "ticket": self.ticket,
            "slots": self.slots,
            "hold": None if self.hold is None else {k: self.hold[k] for k in ("starts_at", "ends_at")},
            "booking": self.booking,
            "call": None
            if self.call_id is None
            else {
                "phase": self.call_phase or "ringing",
                "video": self.agent_video is not None and self.agent_video.has_frame,
                "document": self.document_jpeg is not None,
                "document_live": self.devices.document.live,
            },
            "hw": self.hw,
            "reasons": self.reasons,
            "rated": self.rated,
            "message": self.message,
            "farewell": self.farewell,
            "busy": self.busy,
            "degraded": self._degraded(),
        }

    def _degraded(self) -> dict[str, Any] | None:
        if not self.office_down and not self.failing_devices:
            return None
        works = ["materials"] if self.catalog["services"] else []
        if self.office_down:
            works.append("call_when_back")
        else:
            works += ["take_number", "book"]
            if "idcard" in self.failing_devices:
                works.append("type_id")
        return {"office": self.office_down, "devices": list(self.failing_devices), "works": works}

    def _typing_allowed(self) -> bool:
        svc = self.service
        return svc is None or not svc.get("needs_id_card", True) or "idcard" in self.failing_devices

    def _publish(self) -> None:
        self.seq += 1
        view = self.view()
        for listener in list(self.listeners):
            try:
                listener(view)
            except Exception:  # a closed page must not stop the journey (no payload logged)
                logger.exception("journey listener failed")
                self.listeners.discard(listener)

    # -- session events ---------------------------------------------------------------------------

    def _event(self, event: Event, **fields: object) -> None:
        actions = self.session.handle(event, self.clock(), **fields)
        self.message = None  # a new screen starts without the previous screen's message
        self._apply(actions)

    def _apply(self, actions: list[Any]) -> None:
        for action in actions:
            if isinstance(action, Wipe):
                farewell = self.farewell
                self._wipe()
                if self.session.state is State.GOODBYE:
                    self.farewell = farewell
            elif isinstance(action, Speak):
                self.prompt = action.prompt
        self.message = None if self.session.state is State.IDLE else self.message

    def _wipe(self) -> None:
        """Forget the resident: journey buffers, the agent's last frame, temporary files."""
        self._reset_local()
        if self.agent_video is not None:
            self.agent_video.clear()
        if self.temp_dir is not None and self.temp_dir.exists():
            for child in self.temp_dir.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        self.wipes += 1

    def touch(self) -> None:
        """The resident did something (resets the inactivity timer)."""
        self.session.touch(self.clock())

    async def tick(self) -> None:
        """Fire a due inactivity timeout (the tick loop calls this twice a second). While the
        kiosk itself is busy (printing, reading, waiting for the office) the resident is waiting,
        not inactive: the timer restarts instead."""
        if self.busy is not None:
            self.touch()
            return
        actions = self.session.tick(self.clock())
        if actions:
            if self.session.state is State.IDLE and self._consent is not None and not self._consent.done():
                self._consent.set_result(False)
            self._apply(actions)
            self._publish()

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            await self.tick()

    # -- office -----------------------------------------------------------------------------------

    async def _office_loop(self) -> None:
        """Keep the catalog loaded and the waiting ticket fresh; retry while the office is down."""
        while True:
            try:
                if not self.catalog["services"]:
                    await self.refresh_catalog()
                if self.ticket_id is not None and self.session.state in (State.TICKETED, State.WAITING):
                    await self._refresh_ticket()
                if self.office_down:
                    await self.office.categories()  # a cheap read proves the office answers again
                    self.office_down = False
                    logger.info("office reachable again")
                    self._publish()
            except OfficeUnreachable:
                self._office_unreachable()
            except OfficeError as err:
                logger.warning("office refused a kiosk read (%s %s)", err.status, err.code)
            await asyncio.sleep(self.retry_interval if self.office_down else self.poll_interval)

    def _office_unreachable(self) -> None:
        if not self.office_down:
            self.office_down = True
            self.alerts.append("office_unreachable")
            logger.warning(
                "technician alert: office unreachable; the kiosk retries every %.0f s", self.retry_interval
            )
            self._publish()

    async def refresh_catalog(self) -> None:
        """Fetch categories, services and rating reasons."""
        categories = await self.office.categories()
        services = [s for s in await self.office.services() if s.get("active", True)]
        self.catalog = {"categories": categories, "services": services}
        reasons = await self.office.rating_reasons()
        if reasons:
            self.reasons = [{k: str(r.get(k, "")) for k in ("code", "zh", "en")} for r in reasons]
        self._publish()

    async def _refresh_ticket(self) -> None:
        assert self.ticket_id is not None
        t = await self.office.ticket(self.ticket_id)
        self.ticket = _ticket_view(t)
        if (
            t.get("state") in _CLOSED_TICKET
            and self.call_id is None
            and self.session.can(Event.TICKET_CLOSED)
        ):
            self.farewell = {"kind": "ticket_closed"}
            self._event(Event.TICKET_CLOSED)
        self._publish()

    def set_device_health(self, report: dict[str, dict[str, Any]]) -> None:
        """Take the devices' health report (the runtime's health loop produces it)."""
        failing = sorted(kind for kind, r in report.items() if not _healthy(r))
        if failing != self.failing_devices:
            for kind in set(failing) - set(self.failing_devices):
                self.alerts.append(f"device_failing:{kind}")
                logger.warning("technician alert: %s failing", kind)
            self.failing_devices = failing
            self._publish()

    # -- operations from the page -----------------------------------------------------------------

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Apply one operation from the page; office and device trouble become messages on screen."""
        op = str(message.get("op", ""))
        handler = getattr(self, f"_op_{op}", None)
        if handler is None:
            logger.warning("unknown UI operation %r", op[:40])
            return
        self.touch()
        if op == "touch":  # activity only: nothing changes on screen (a re-render could eat a tap)
            return
        self.busy = op  # handlers that wait for the office or a device show a more specific busy
        try:
            await handler(message)
        except IllegalEvent as err:
            logger.info("UI operation %s refused: %s", op, err)
        except OfficeUnreachable:
            self._office_unreachable()
            self.message = {"kind": "error", "key": "error.office_unreachable"}
        except OfficeError as err:
            logger.info("office refused %s: %s %s", op, err.status, err.code)
            self.message = {"kind": "error", "key": f"error.{err.code}", "fallback": "error.generic"}
            # The error body's text fields (office_closed: the next opening) for a "<key>.detail" text.
            self.message |= {k: v for k, v in err.values.items() if k not in self.message}
        finally:
            self.busy = None
        self._publish()

    async def _op_touch(self, _: dict[str, Any]) -> None:
        return None

    async def _op_start(self, m: dict[str, Any]) -> None:
        lang = "en" if m.get("lang") == "en" else "zh-CN"
        self._event(Event.START, language=lang, elder_mode=bool(m.get("elder", False)))
        self.screen_step = "category"

    async def _op_settings(self, m: dict[str, Any]) -> None:
        if "lang" in m:
            self.session.data.language = "en" if m["lang"] == "en" else "zh-CN"
        if "elder" in m:
            self.session.data.elder_mode = bool(m["elder"])

    async def _op_category(self, m: dict[str, Any]) -> None:
        self._require(State.CHOOSING)
        self.category = str(m.get("code", ""))
        self.screen_step = "service"
        self.prompt = "prompt.choose_item"

    async def _op_service(self, m: dict[str, Any]) -> None:
        self._require(State.CHOOSING)
        sid = m.get("id")
        svc = next((s for s in self.catalog["services"] if s.get("id") == sid), None)
        if svc is None:
            self.message = {"kind": "error", "key": "error.unknown_service"}
            return
        self.service = svc
        self.session.data.service_code = str(svc.get("code", ""))
        self.screen_step = "materials"
        self.prompt = "prompt.materials"

    async def _op_back(self, _: dict[str, Any]) -> None:
        state = self.session.state
        if state is State.CHOOSING and self.screen_step in ("service", "materials", "checkin"):
            self.screen_step = {"service": "category", "materials": "service", "checkin": "category"}[
                self.screen_step
            ]
            if self.screen_step == "category":
                self.category = None
            self.prompt = "prompt.choose_service" if self.screen_step == "category" else "prompt.choose_item"
            return
        if state is State.IDENTIFYING and self.screen_step == "type_id":
            self.screen_step = "consent"
            return
        if state is State.BOOKING and self.hold is not None:
            await self._release_hold()
            return
        self._event(Event.BACK)
        if self.session.state is State.CHOOSING:
            self.screen_step = "materials" if self.service is not None else "category"
        elif self.session.state is State.IDENTIFIED:
            self.screen_step = ""

    async def _op_cancel(self, _: dict[str, Any]) -> None:
        if self.hold is not None:
            with contextlib.suppress(OfficeError, OfficeUnreachable):
                await self._release_hold()
        self._event(Event.CANCEL)

    async def _op_print_materials(self, _: dict[str, Any]) -> None:
        svc = self.service
        if svc is None:
            return
        en = self.slip_english
        lines = [_material_line(m, en) for m in svc.get("materials", [])]
        notice = slips.MaterialsNotice(
            office=self._office_name(en),
            service=str(svc.get("name_en" if en else "name", "")),
            materials=lines,
            issued_at=self._now(),
            time_limit=f"{svc.get('time_limit_days', 0)} 个工作日"
            if not en
            else f"{svc.get('time_limit_days', 0)} working days",
        )
        await self._print("materials", lambda p: p.print_materials_notice(notice), en)

    async def _op_identify(self, _: dict[str, Any]) -> None:
        if self.session.state is State.CHOOSING:
            self._event(Event.IDENTIFY)
        self._require(State.IDENTIFYING)
        self.screen_step = "consent"

    async def _op_read_card(self, _: dict[str, Any]) -> None:
        """The resident agreed on the consent screen: read the card on the reader."""
        self._require(State.IDENTIFYING)
        self.screen_step = "reading"
        self.prompt = "prompt.place_card"
        self.busy = "reading"
        self._publish()
        try:
            card = await asyncio.to_thread(self._read_card)
        except UserActionRequired:
            self.screen_step = "consent"
            self.message = {"kind": "error", "key": "error.no_card"}
            return
        except HardwareError as err:
            logger.warning("ID card reader failed at identification: %s", type(err).__name__)
            if "idcard" not in self.failing_devices:
                self.failing_devices = sorted({*self.failing_devices, "idcard"})
                self.alerts.append("device_failing:idcard")
                logger.warning("technician alert: idcard failing")
            self.screen_step = "consent"
            self.message = {"kind": "error", "key": "error.reader_failed"}
            return
        masked = card.masked()
        self.id_source = "card"
        self._identified({"name": masked["name"], "id_number": masked["id_number"]}, card.id_number)

    def _read_card(self) -> IdCardData:
        # The device service owns the reader (one handle, one operation at a time); identification
        # at the welcome flow uses the same reader as the agent's requests do.
        self.devices.prompt_resident("idcard", "place_card")
        return self.devices.read_card()

    async def _op_type_id(self, m: dict[str, Any]) -> None:
        """Show the keypad (or, with ``id_number``, accept the typed number)."""
        self._require(State.IDENTIFYING)
        if not self._typing_allowed():
            self.message = {"kind": "error", "key": "error.card_required"}
            return
        number = str(m.get("id_number", "")).strip().upper()
        if not number:
            self.screen_step = "type_id"
            self.prompt = "prompt.type_id"
            return
        if not _valid_id_number(number):
            self.message = {"kind": "error", "key": "error.bad_id_number"}
            return
        phone = str(m.get("phone", "")).strip()
        self.phone = phone or None
        self.id_source = "manual"
        self._identified({"name": "", "id_number": _mask_id(number)}, number)

    def _identified(self, masked: dict[str, str], id_number: str) -> None:
        self._event(Event.IDENTIFIED, identity=masked, id_number=id_number)
        self.screen_step = ""
        self.message = None

    async def _op_take_number(self, _: dict[str, Any]) -> None:
        svc = self._service()
        if self.session.state is State.CHOOSING and svc.get("needs_id_card", True):
            self.message = {"kind": "error", "key": "error.card_required"}
            return
        self.busy = "ticket"
        self._publish()
        t = await self.office.issue_ticket(
            int(svc["id"]), idempotency_key=self._key("ticket"), id_number=self.session.data.id_number
        )
        self.ticket_id = int(t["id"])
        self.ticket = _ticket_view(t)
        self._event(Event.TICKET_ISSUED, ticket={"number": str(t.get("number", ""))})
        en = self.slip_english
        estimate = t.get("estimate") or {}
        slip = slips.QueueTicket(
            office=self._office_name(en),
            service=str(t.get("service_name_en" if en else "service_name", "")),
            number=str(t.get("number", "")),
            people_ahead=max(0, int(estimate.get("position", 1)) - 1),
            issued_at=self._now(),
            wait_minutes=(int(estimate["low_min"]), int(estimate["high_min"])) if estimate else None,
            station=self._station_name(en),
        )
        await self._print("ticket", lambda p: p.print_ticket(slip), en)

    async def _op_book(self, _: dict[str, Any]) -> None:
        svc = self._service()
        self.busy = "slots"
        self._publish()
        data = await self.office.booking_slots(int(svc["id"]))
        self.slots = [
            {k: s[k] for k in ("starts_at", "ends_at", "local_date", "local_time", "remaining")}
            for s in data.get("slots", [])
            if s.get("remaining", 0) > 0
        ][:60]
        self._event(Event.BOOKING_STARTED)

    async def _op_hold(self, m: dict[str, Any]) -> None:
        self._require(State.BOOKING)
        svc = self._service()
        starts_at = str(m.get("starts_at", ""))
        if not any(s["starts_at"] == starts_at for s in self.slots):
            return
        if self.hold is not None:
            await self._release_hold()
        self.hold = await self.office.hold_slot(int(svc["id"]), starts_at, idempotency_key=self._key("hold"))
        self.prompt = "prompt.confirm_booking"

    async def _release_hold(self) -> None:
        hold, self.hold = self.hold, None
        if hold is not None:
            await self.office.release_hold(int(hold["hold_id"]), str(hold["hold_token"]))

    async def _op_confirm_booking(self, _: dict[str, Any]) -> None:
        self._require(State.BOOKING)
        if self.hold is None or self.session.data.id_number is None:
            return
        if self.id_source == "manual" and not self.phone:
            self.message = {"kind": "error", "key": "error.phone_required"}
            return
        self.busy = "booking"
        self._publish()
        b = await self.office.confirm_booking(
            int(self.hold["hold_id"]),
            str(self.hold["hold_token"]),
            self.session.data.id_number,
            id_source=self.id_source or "manual",
            phone=self.phone,
        )
        self.hold = None
        en = self.slip_english
        self.farewell = {"kind": "booked", "booking": _booking_view(b)}
        slip = slips.AppointmentSlip(
            office=self._office_name(en),
            service=str(b.get("service_name_en" if en else "service_name", "")),
            starts_at=datetime.fromisoformat(str(b["starts_at"])).astimezone(self._now().tzinfo),
            ends_at=datetime.fromisoformat(str(b["ends_at"])).astimezone(self._now().tzinfo),
            code=str(b.get("code", "")),
            issued_at=self._now(),
        )
        printed = await self._print("booking", lambda p: p.print_appointment(slip), en)
        self.farewell["printed"] = printed
        self._event(Event.BOOKED, booking_code=str(b.get("code", "")))

    async def _op_check_in(self, m: dict[str, Any]) -> None:
        number = self.session.data.id_number
        if number is None:
            return
        code = str(m.get("code", "")).strip().upper() or None
        self.busy = "checkin"
        self._publish()
        r = await self.office.check_in(number, code)
        t = r.get("ticket", {})
        self.ticket_id = int(t["id"])
        self.booking = _booking_view(r.get("booking", {}))
        self._event(Event.CHECKED_IN, ticket={"number": str(t.get("display_number", ""))})
        with contextlib.suppress(OfficeError, OfficeUnreachable):
            await self._refresh_ticket()
        en = self.slip_english
        ticket = self.ticket or {}
        slip = slips.QueueTicket(
            office=self._office_name(en),
            service=str(ticket.get("service_name_en" if en else "service_name", "")),
            number=str(t.get("display_number", "")),
            people_ahead=int(ticket.get("ahead", 0)),
            issued_at=self._now(),
            station=self._station_name(en),
        )
        await self._print("ticket", lambda p: p.print_ticket(slip), en)

    async def _op_cancel_booking(self, m: dict[str, Any]) -> None:
        number = self.session.data.id_number
        code = str(m.get("code", "")).strip().upper()
        if number is None or not code:
            self.message = {"kind": "error", "key": "error.code_required"}
            return
        b = await self.office.cancel_booking(code, number, "resident cancelled at the kiosk")
        self.farewell = {"kind": "booking_cancelled", "booking": _booking_view(b)}
        self._event(Event.BOOKING_CANCELLED)

    async def _op_checkin_screen(self, _: dict[str, Any]) -> None:
        self._require(State.IDENTIFIED)
        self.screen_step = "checkin"

    async def _op_leave_queue(self, _: dict[str, Any]) -> None:
        if self.ticket_id is not None:
            await self.office.leave_queue(self.ticket_id)
        self.farewell = {"kind": "left"}
        self._event(Event.LEAVE_QUEUE)

    async def _op_consent(self, m: dict[str, Any]) -> None:
        if self.hw is None or self._consent is None or self._consent.done():
            return
        if m.get("request_id") != self.hw.get("request_id"):
            return
        granted = m.get("granted") is True
        self.hw["phase"] = "working" if granted else "refused"
        self._consent.set_result(granted)

    async def _op_dismiss_hw(self, _: dict[str, Any]) -> None:
        if self.hw is not None and self.hw.get("phase") in ("ok", "failed", "refused"):
            self.hw = None

    async def _op_rate(self, m: dict[str, Any]) -> None:
        self._require(State.RATING)
        level = m.get("level")
        if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 5:
            return
        codes = {r["code"] for r in self.reasons}
        reasons = [str(r) for r in m.get("reasons", []) if r in codes][:10]
        if level <= 2 and not reasons:
            self.message = {"kind": "error", "key": "error.reasons_required"}
            return
        self.rated = {"level": level, "reasons": reasons, "recorded": False}
        if self.ticket_id is not None:
            try:
                answer = await self.office.rate(
                    self.ticket_id, level, reasons, content_version=CONTENT_VERSION, call_id=self.call_id
                )
                self.rated["recorded"] = answer is not None
            except OfficeError as err:
                if err.code != "already_rated":
                    raise
                self.rated["recorded"] = True
        self.farewell = {"kind": "rated", "level": level}
        self._event(Event.RATED)

    # -- calls and the agent's hardware requests (runtime hooks) -------------------------------------

    def on_call(self, call_id: str | None) -> None:
        """The runtime accepted a call (``call_id``) or the call ended (None)."""
        if call_id is not None:
            self.call_id = call_id
            self.call_phase = "ringing"
            if self.session.can(Event.CALL_STARTED):
                self._event(Event.CALL_STARTED, call_id=call_id)
            else:
                logger.warning("call %s arrived in session state %s", call_id, self.session.state.value)
        else:
            if self._consent is not None and not self._consent.done():
                self._consent.set_result(False)
            if self.session.can(Event.CALL_ENDED):
                self._event(Event.CALL_ENDED)
                self.hw = None
                self.document_jpeg = None
            if self.agent_video is not None:
                self.agent_video.clear()
            self.call_phase = "ended"
        self._publish()

    def set_call_phase(self, phase: str) -> None:
        """``connected`` / ``reconnecting`` from the call's media session."""
        if self.call_id is not None and phase != self.call_phase:
            self.call_phase = phase
            self._publish()

    async def consent(self, request: HwRequest) -> bool:
        """The device service's consent hook: show the prompt and wait for the resident's answer."""
        if self.session.state is not State.IN_CALL:
            return False
        loop = asyncio.get_running_loop()
        self._consent = loop.create_future()
        self.hw = {
            "request_id": request.request_id,
            "action": request.action.value,
            "guidance": _HW_GUIDANCE.get(request.action.value, "hw.generic"),
            "phase": "consent",
            "stage": "awaiting_consent",
            "error": None,
        }
        self.prompt = f"prompt.{self.hw['guidance']}.consent"
        self._publish()
        try:
            async with asyncio.timeout(self.consent_timeout):
                granted = await asyncio.shield(self._consent)
            if granted and request.action.value == "read_id_card":
                with contextlib.suppress(HardwareError):  # the read itself reports a broken reader
                    await asyncio.to_thread(self.devices.prompt_resident, "idcard", "place_card")
            return granted
        except TimeoutError:
            if self.hw is not None and self.hw.get("request_id") == request.request_id:
                self.hw["phase"] = "refused"
                self._publish()
            return False
        finally:
            self._consent = None

    def on_hw(self, request: HwRequest, stage: str, result: HwOutcomeData | None) -> None:
        """Progress and result of an agent's request (the runtime's ``on_hw`` hook)."""
        if request.action is HwAction.DOCUMENT_LIVE_STOP:
            if result is not None:
                self._publish()  # the live document view left the screen
            return
        hw = self.hw
        if (
            request.action in _SHOWN_WITHOUT_CONSENT
            and result is None
            and self.session.state is State.IN_CALL
            and (hw is None or hw.get("request_id") != request.request_id)
        ):
            guidance = _HW_GUIDANCE.get(request.action.value, "hw.generic")
            self.hw = hw = {
                "request_id": request.request_id,
                "action": request.action.value,
                "guidance": guidance,
                "phase": "working",
                "stage": stage,
                "error": None,
            }
            self.prompt = f"prompt.{guidance}.working"
        if hw is None or hw.get("request_id") != request.request_id:
            return
        if result is None:
            hw["stage"] = stage
            if stage == "reading":
                hw["phase"] = "working"
                self.prompt = f"prompt.{hw['guidance']}.working"
        else:
            if result.outcome is HwOutcome.OK:
                hw["phase"] = "ok"
                self.prompt = (
                    f"prompt.{hw['guidance']}.ok" if request.action in _SPOKEN_OK else "prompt.hw_done"
                )
                for name, blob in result.blobs:
                    if name in ("page", "still"):
                        self.document_jpeg = blob
                        if name == "page":
                            break
            elif result.outcome is HwOutcome.CONSENT_REFUSED:
                hw["phase"] = "refused"
            else:
                hw["phase"] = "failed"
                hw["error"] = result.error or result.outcome.value
                self.prompt = "prompt.hw_failed"
        self._publish()

    # -- helpers ----------------------------------------------------------------------------------

    def _require(self, state: State) -> None:
        if self.session.state is not state:
            raise IllegalEvent(self.session.state, Event.BACK)

    def _service(self) -> dict[str, Any]:
        if self.service is None:
            raise IllegalEvent(self.session.state, Event.TICKET_ISSUED)
        return self.service

    def _key(self, what: str) -> str:
        return f"{what}-{uuid.uuid4().hex}"

    def _now(self) -> datetime:
        """Now in the office's time zone (slips show office-local time)."""
        return datetime.now(ZoneInfo(self.identity.timezone if self.identity else "Asia/Shanghai"))

    def _office_name(self, en: bool) -> str:
        if self.identity is None:
            return ""
        return self.identity.office_name_en if en else self.identity.office_name

    def _station_name(self, en: bool) -> str:
        if self.identity is None:
            return ""
        return self.identity.station_name_en if en else self.identity.station_name

    async def _print(self, what: str, job: Callable[[TicketPrinter], int], en: bool) -> bool:
        """Print a slip; a failing printer becomes a message (and a technician alert), not an error."""
        self.busy = "printing"
        self._publish()

        def run() -> int:
            return job(self.devices.printer())  # the device service's one printer handle

        try:
            await asyncio.to_thread(run)
        except HardwareError as err:
            logger.warning("technician alert: printing the %s failed (%s)", what, type(err).__name__)
            self.alerts.append(f"device_failing:printer:{type(err).__name__}")
            self.message = {"kind": "error", "key": "error.printer"}
            return False
        self.message = {"kind": "info", "key": f"printed.{what}"}
        return True


def _healthy(report: dict[str, Any]) -> bool:
    if report.get("ok") is False:
        return False
    health = report.get("health")
    return not (isinstance(health, dict) and health.get("ok") is False)


def _service_view(svc: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "id",
        "code",
        "category",
        "name",
        "name_en",
        "description",
        "description_en",
        "time_limit_days",
        "expected_minutes",
        "needs_id_card",
        "needs_fingerprint",
        "needs_appointment",
        "fees",
        "materials",
    )
    return {k: svc.get(k) for k in keys}


def _ticket_view(t: dict[str, Any]) -> dict[str, Any]:
    estimate = t.get("estimate") or None
    return {
        "id": t.get("id"),
        "number": t.get("number"),
        "state": t.get("state"),
        "service_name": t.get("service_name"),
        "service_name_en": t.get("service_name_en"),
        "ahead": None if estimate is None else max(0, int(estimate.get("position", 1)) - 1),
        "low_min": None if estimate is None else estimate.get("low_min"),
        "high_min": None if estimate is None else estimate.get("high_min"),
        "window_no": t.get("window_no"),
    }


def _booking_view(b: dict[str, Any]) -> dict[str, Any]:
    return {
        k: b.get(k)
        for k in (
            "code",
            "state",
            "service_name",
            "service_name_en",
            "local_date",
            "local_start",
            "id_masked",
        )
    }


def _material_line(m: dict[str, Any], en: bool) -> str:
    name = m.get("name_en" if en else "name", "")
    count = m.get("count", 1)
    form = m.get("form", "")
    return f"{name} ×{count} ({form})" if en else f"{name} ×{count}（{_FORMS_ZH.get(form, form)}）"


_FORMS_ZH = {"original": "原件", "copy": "复印件", "original_and_copy": "原件及复印件"}

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _valid_id_number(number: str) -> bool:
    """GB 11643: 17 digits and a MOD 11-2 check character."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == number[17]


def _mask_id(number: str) -> str:
    return number[:4] + "*" * (len(number) - 8) + number[-4:]
