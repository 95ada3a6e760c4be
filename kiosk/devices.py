"""The kiosk's devices as the call needs them: ``hw.request`` in, ``hw.progress``/``hw.result`` out.

:class:`DeviceService` opens devices by URL through :func:`hardware.open_device` on first use,
runs every device operation in a worker thread (drivers are synchronous), one operation at a time
(a second request while one runs is answered ``busy``), and asks the resident for consent first
through a :data:`ConsentHook`. The resident UI implements that hook (it shows the consent screen);
until it is plugged in, :func:`auto_grant` grants consent and logs that it did, and
:func:`auto_refuse` refuses — chosen explicitly by ``KIOSK_CONSENT``.

Actions: ``read_id_card`` (the card's fields in ``data``), ``capture_document`` (the still's
metadata in ``data``; the full-resolution JPEG and the straightened page as ``blobs`` that the
runtime sends over the call's data channel) and ``verify_fingerprint`` (1:1 against the kiosk's
template ``slot`` when given, else a 1:N search of its library; only ``matched``/``score``/``slot``
leave the kiosk — images and templates never do).

The live document view: ``document_live_start`` (after consent) checks the document camera with one
read and switches :attr:`DeviceService.document` (a :class:`~kiosk.document_live.DocumentFeed`, the
call's second video track) to live frames; ``document_live_stop`` (no consent needed, never
``busy``) and :meth:`DeviceService.end_call` switch it back to the idle frame and release the camera.
While it is live, stills can still be captured (the device serialises its reads).

``print_notice`` (no consent: the slip carries no personal data) prints the needs-materials notice
(补正告知) the agent sends: ``params`` ``service`` (its name), ``reference`` (the case number) and
``m1`` … ``m14``, each ``"<count>|<form>|<material name>"`` with form ``original``, ``copy`` or
``original_and_copy``; ``data`` says how many lines were printed.

Public device access for the resident journey (same handles, same one-operation-at-a-time rule):
:meth:`DeviceService.read_card`, :meth:`DeviceService.prompt_resident` and
:meth:`DeviceService.printer` (worker thread only).

Driver errors are translated at this one boundary (``UserActionRequired`` → ``failed`` with the
prompt as ``error``; ``DeviceFault`` → ``failed`` with the error's class name). The card's data
goes to the agent masked (``card_payload``), as do the logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hardware import open_device, open_device_as
from hardware.camera import CaptureResult, DocumentCamera
from hardware.clock import Clock
from hardware.device import Device
from hardware.errors import Cancelled, ConfigurationError, DeviceFault, HardwareError, UserActionRequired
from hardware.fingerprint import FingerprintScanner
from hardware.health import HealthLevel
from hardware.idcard import IdCardData, IdCardReader
from hardware.printer import ticket as slips
from hardware.printer.device import TicketPrinter
from kiosk.document_live import DocumentFeed
from signaling.messages import HwAction, HwOutcome, HwRequest

__all__ = [
    "ConsentHook",
    "DeviceService",
    "HwOutcomeData",
    "ProgressHook",
    "auto_grant",
    "auto_refuse",
    "card_payload",
    "notice_lines",
]

logger = logging.getLogger(__name__)

ConsentHook = Callable[[HwRequest], Awaitable[bool]]
"""Ask the resident to consent to ``request`` (the UI's job); True when they agree."""

ProgressHook = Callable[[str], Awaitable[None]]
"""Report a stage (``awaiting_consent``, ``consent_given``, ``reading``) to the agent."""


async def auto_grant(request: HwRequest) -> bool:
    """Headless/demo consent: grant without asking, and log that consent was not asked."""
    logger.warning(
        "consent for %s granted automatically (KIOSK_CONSENT=grant, no resident UI)", request.action
    )
    return True


async def auto_refuse(request: HwRequest) -> bool:
    """Consent that is always refused (a kiosk that must never read devices unattended)."""
    logger.info("consent for %s refused automatically (KIOSK_CONSENT=refuse)", request.action)
    return False


_SUPPORTED = frozenset(
    {
        HwAction.READ_ID_CARD,
        HwAction.CAPTURE_DOCUMENT,
        HwAction.VERIFY_FINGERPRINT,
        HwAction.DOCUMENT_LIVE_START,
        HwAction.PRINT_NOTICE,
    }
)
#: Actions that ask no consent: they read nothing of the resident.
_NO_CONSENT = frozenset({HwAction.DOCUMENT_LIVE_STOP, HwAction.PRINT_NOTICE})
_FORMS_ZH = {"original": "原件", "copy": "复印件", "original_and_copy": "原件及复印件"}
MAX_NOTICE_ITEMS = 14
"""``m1`` … ``m14``: with ``service`` and ``reference``, the 16 parameters a request may carry."""


def notice_lines(params: Mapping[str, object]) -> list[str]:
    """The printed lines of a ``print_notice`` request (``名称 ×1（原件）``); ValueError when malformed."""
    lines: list[str] = []
    for n in range(1, MAX_NOTICE_ITEMS + 1):
        value = params.get(f"m{n}")
        if value is None:
            break
        if not isinstance(value, str):
            raise ValueError(f"m{n} is not text")
        count_text, form, name = [*value.split("|", 2), "", ""][:3]
        name = name.strip()
        if not count_text.isdigit() or not 1 <= int(count_text) <= 99 or form not in _FORMS_ZH:
            raise ValueError(f"m{n} is not <count>|<form>|<name>")
        if not name or len(name) > 64:
            raise ValueError(f"m{n} has no usable name")
        lines.append(f"{name} ×{int(count_text)}（{_FORMS_ZH[form]}）")
    unknown = set(params) - {"service", "reference"} - {f"m{n}" for n in range(1, len(lines) + 1)}
    if not lines or unknown:
        raise ValueError("no materials, or parameters out of order")
    return lines


@dataclass(frozen=True)
class HwOutcomeData:
    """What goes into ``hw.result``."""

    outcome: HwOutcome
    data: dict[str, Any] | None = None
    error: str | None = None
    blobs: tuple[tuple[str, bytes], ...] = ()
    """Images to send over the call's data channel (``(name, JPEG bytes)``), never over signaling."""
    identity: dict[str, str] | None = field(default=None, repr=False, compare=False)
    """The card's unmasked fields for the office's upload (contract C1); never put into ``data``,
    never logged, never sent over signaling."""


#: Card fields that travel to the agent, already masked (DESIGN: personal data is masked before it
#: reaches a screen; the photo and fingerprint never leave the kiosk this way).
_AGENT_FIELDS = (
    "card_type",
    "name",
    "english_name",
    "gender",
    "ethnicity",
    "birth_date",
    "address",
    "id_number",
    "issuer",
    "valid_from",
    "valid_until",
    "nationality",
)


def card_identity(card: IdCardData) -> dict[str, str]:
    """The card's unmasked fields as the office's identity upload takes them (contract C1)."""
    return {
        "name": card.name,
        "sex": card.gender,
        "nation": card.ethnicity,
        "birth_date": card.birth_date.isoformat(),
        "address": card.address,
        "id_number": card.id_number,
        "issuer": card.issuer,
        "valid_from": card.valid_from.isoformat(),
        "valid_to": "长期" if card.valid_until is None else card.valid_until.isoformat(),
        "card_type": card.card_type.value,
    }


def card_payload(card: IdCardData) -> dict[str, Any]:
    """The card as the agent's screen may show it: masked fields only (never logged either).

    The unmasked identity is for the office's case record (keyed hash + ciphertext), which gets it
    over an authenticated upload, not through signaling.
    """
    masked = card.masked()
    return {"masked": True, **{key: masked[key] for key in _AGENT_FIELDS}}


class DeviceService:
    """Devices by kind, opened lazily from ``urls``; one operation at a time, in a worker thread."""

    def __init__(
        self,
        urls: Mapping[str, str],
        *,
        consent: ConsentHook = auto_refuse,
        stats_dir: Path | None = None,
        card_timeout: float = 30.0,
        clock: Clock | None = None,
        document: DocumentFeed | None = None,
        office_name: str = "",
        timezone: str = "Asia/Shanghai",
    ) -> None:
        self.urls = dict(urls)
        self.document = document or DocumentFeed()
        """The live document-camera view (the call's second video track reads it)."""
        self.office_name = office_name
        """Printed at the top of the needs-materials notice."""
        self.timezone = timezone
        """The office's time zone (slips show office-local time)."""
        self.clock = clock
        self.consent = consent
        self.stats_dir = stats_dir
        self.card_timeout = card_timeout
        self._devices: dict[str, Device] = {}
        self._busy = asyncio.Lock()
        self._current: Device | None = None

    async def handle(self, request: HwRequest, progress: ProgressHook) -> HwOutcomeData:
        """Run one agent request: consent, then the device; never raises for device trouble."""
        if request.action is HwAction.DOCUMENT_LIVE_STOP:  # never busy: the agent can always stop it
            was_live = self.document.live
            await asyncio.to_thread(self.document.stop)
            return HwOutcomeData(HwOutcome.OK, data={"live": False, "was_live": was_live})
        if self._busy.locked():
            return HwOutcomeData(HwOutcome.BUSY)
        async with self._busy:
            if request.action not in _NO_CONSENT:
                await progress("awaiting_consent")
                if not await self.consent(request):
                    return HwOutcomeData(HwOutcome.CONSENT_REFUSED)
                await progress("consent_given")
            if request.action not in _SUPPORTED:
                return HwOutcomeData(HwOutcome.FAILED, error="unsupported_action")
            if request.action is HwAction.PRINT_NOTICE:
                try:
                    lines = notice_lines(request.params)
                except ValueError:
                    return HwOutcomeData(HwOutcome.FAILED, error="invalid_params")
            await progress("printing" if request.action is HwAction.PRINT_NOTICE else "reading")
            try:
                if request.action is HwAction.PRINT_NOTICE:
                    await asyncio.to_thread(self._print_notice, request.params, lines)
                    logger.info("print_notice ok: %d materials", len(lines))
                    return HwOutcomeData(HwOutcome.OK, data={"printed": True, "items": len(lines)})
                if request.action is HwAction.DOCUMENT_LIVE_START:
                    size = await asyncio.to_thread(self._start_live)
                    return HwOutcomeData(
                        HwOutcome.OK,
                        data={"live": True, "width": size[0], "height": size[1], "fps": self.document.fps},
                    )
                if request.action is HwAction.READ_ID_CARD:
                    card = await asyncio.to_thread(self.read_card)
                    logger.info("read_id_card ok: %s", card.masked()["id_number"])
                    return HwOutcomeData(HwOutcome.OK, data=card_payload(card), identity=card_identity(card))
                if request.action is HwAction.VERIFY_FINGERPRINT:
                    slot = request.params.get("slot")
                    if slot is not None and (not isinstance(slot, int) or isinstance(slot, bool) or slot < 0):
                        return HwOutcomeData(HwOutcome.FAILED, error="invalid_params")
                    match = await asyncio.to_thread(self._verify_finger, slot)
                    logger.info("verify_fingerprint: matched=%s", match["matched"])
                    return HwOutcomeData(HwOutcome.OK, data=match)
                require = request.params.get("require_quality", True) is not False
                still = await asyncio.to_thread(self._capture_document, require)
            except Cancelled:
                return HwOutcomeData(HwOutcome.CANCELLED)
            except UserActionRequired as err:
                return HwOutcomeData(HwOutcome.FAILED, error=str(err.prompt))
            except DeviceFault as err:
                logger.warning("%s failed: %s", request.action, type(err).__name__)
                return HwOutcomeData(HwOutcome.FAILED, error="device_unavailable")
            except HardwareError as err:  # configuration: wrong URL, backend missing
                logger.error("%s misconfigured: %s", request.action, type(err).__name__)
                return HwOutcomeData(HwOutcome.FAILED, error="device_unavailable")
            blobs = [("still", still.jpeg)] + ([("page", still.page_jpeg)] if still.page_jpeg else [])
            logger.info("capture_document ok: %dx%d, %d images", still.width, still.height, len(blobs))
            return HwOutcomeData(HwOutcome.OK, data=still.metadata(), blobs=tuple(blobs))

    def cancel(self) -> None:
        """Cancel the running device operation (thread-safe; it raises ``Cancelled`` at its next poll)."""
        device = self._current
        if device is not None:
            device.cancel()

    async def end_call(self) -> None:
        """The call ended: cancel what runs and switch the live document view off (camera released)."""
        self.cancel()
        await asyncio.to_thread(self.document.stop)

    async def health(self) -> dict[str, dict[str, Any]]:
        """Per configured kind: status and an internal health check (no personal data)."""
        return await asyncio.to_thread(self._health)

    async def close(self) -> None:
        """Stop the live view and close every opened device."""
        await asyncio.to_thread(self.document.stop)
        devices, self._devices = list(self._devices.values()), {}
        for device in devices:
            with contextlib.suppress(HardwareError):
                await asyncio.to_thread(device.close)

    # -- worker-thread side ---------------------------------------------------------------------

    def _device(self, kind: str) -> Device:
        device = self._devices.get(kind)
        if device is None:
            url = self.urls.get(kind)
            if url is None:
                raise ConfigurationError(f"no {kind} configured")
            if kind == "idcard":
                device = open_device_as(
                    IdCardReader, url, stats_dir=self.stats_dir, name=f"{kind}.main", clock=self.clock
                )
            else:
                device = open_device(
                    kind, url, stats_dir=self.stats_dir, name=f"{kind}.main", clock=self.clock
                )
            device.open()
            device.claim()
            device.enable()
            self._devices[kind] = device
        return device

    def read_card(self) -> IdCardData:
        """Wait up to ``card_timeout`` for a card on the reader and read it (worker thread only).

        Raises ``UserActionRequired`` (prompt ``place_card``) when none came, and the reader's
        ``HardwareError`` otherwise; the journey's identification step and the agent's request use
        this same reader handle."""
        reader = self._device("idcard")
        assert isinstance(reader, IdCardReader)
        self._current = reader
        try:
            if not reader.wait_for_card(self.card_timeout):
                raise UserActionRequired("no card placed in time", prompt="place_card")
            return reader.read_card()
        finally:
            self._current = None

    def _verify_finger(self, slot: int | None) -> dict[str, Any]:
        scanner = self._device("fingerprint")
        if not isinstance(scanner, FingerprintScanner):
            raise ConfigurationError("fingerprint URL is not a fingerprint scanner")
        self._current = scanner
        try:
            if slot is not None:
                result = scanner.verify(slot)
                return {"mode": "verify", "matched": result.matched, "score": result.score, "slot": slot}
            found = scanner.search()
            return {"mode": "search", "matched": found.found, "score": found.score, "slot": found.slot}
        finally:
            self._current = None

    def prompt_resident(self, kind: str, prompt: str) -> None:
        """The screen asks the resident to act (``place_card``): tell the ``kind`` device, so a
        simulator acts for them; a real device ignores it. Opens the device; worker thread only."""
        self._device(kind).prompt_user(prompt)

    def printer(self) -> TicketPrinter:
        """The kiosk's ticket printer (opened on first use; one handle). Worker thread only."""
        printer = self._device("printer")
        if not isinstance(printer, TicketPrinter):
            raise ConfigurationError("printer URL is not a ticket printer")
        return printer

    def _print_notice(self, params: Mapping[str, object], lines: list[str]) -> None:
        service, reference = params.get("service", ""), params.get("reference", "")
        notice = slips.MaterialsNotice(
            office=self.office_name,
            service=service if isinstance(service, str) else "",
            materials=lines,
            issued_at=datetime.now(ZoneInfo(self.timezone)),
            missing=True,
            reference=reference if isinstance(reference, str) else "",
        )
        self.printer().print_materials_notice(notice)

    def _start_live(self) -> tuple[int, int]:
        """Check the document camera with one read, then start the live feed; the frame size sent."""
        camera = self._device("document_camera")
        if not isinstance(camera, DocumentCamera):
            raise ConfigurationError("document_camera URL is not a document camera")
        first = camera.read_frame()
        self.document.start(camera.read_frame)
        height, width = first.shape[:2]
        scale = min(1.0, self.document.max_width / width)
        return int(width * scale) // 2 * 2, int(height * scale) // 2 * 2

    def _capture_document(self, require_quality: bool) -> CaptureResult:
        camera = self._device("document_camera")
        if not isinstance(camera, DocumentCamera):
            raise ConfigurationError("document_camera URL is not a document camera")
        self._current = camera
        try:
            return camera.capture_still(require_quality=require_quality)
        finally:
            self._current = None

    def _health(self) -> dict[str, dict[str, Any]]:
        report: dict[str, dict[str, Any]] = {}
        for kind in sorted(self.urls):
            try:
                device = self._device(kind)
                result = device.check_health(HealthLevel.INTERNAL)
                report[kind] = {"status": device.status().to_dict(), "health": result.to_dict()}
            except HardwareError as err:
                report[kind] = {"ok": False, "error": type(err).__name__}
        return report
