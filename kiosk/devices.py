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
leave the kiosk — images and templates never do). The live document view actions answer
``failed`` ``unsupported_action``.

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
from pathlib import Path
from typing import Any

from hardware import open_device, open_device_as
from hardware.camera import CaptureResult, DocumentCamera
from hardware.clock import Clock
from hardware.device import Device
from hardware.errors import Cancelled, ConfigurationError, DeviceFault, HardwareError, UserActionRequired
from hardware.fingerprint import FingerprintScanner
from hardware.health import HealthLevel
from hardware.idcard import IdCardData, IdCardReader
from signaling.messages import HwAction, HwOutcome, HwRequest

__all__ = [
    "ConsentHook",
    "DeviceService",
    "HwOutcomeData",
    "ProgressHook",
    "auto_grant",
    "auto_refuse",
    "card_payload",
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


_SUPPORTED = frozenset({HwAction.READ_ID_CARD, HwAction.CAPTURE_DOCUMENT, HwAction.VERIFY_FINGERPRINT})


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
    ) -> None:
        self.urls = dict(urls)
        self.clock = clock
        self.consent = consent
        self.stats_dir = stats_dir
        self.card_timeout = card_timeout
        self._devices: dict[str, Device] = {}
        self._busy = asyncio.Lock()
        self._current: Device | None = None

    async def handle(self, request: HwRequest, progress: ProgressHook) -> HwOutcomeData:
        """Run one agent request: consent, then the device; never raises for device trouble."""
        if self._busy.locked():
            return HwOutcomeData(HwOutcome.BUSY)
        async with self._busy:
            await progress("awaiting_consent")
            if not await self.consent(request):
                return HwOutcomeData(HwOutcome.CONSENT_REFUSED)
            await progress("consent_given")
            if request.action not in _SUPPORTED:
                return HwOutcomeData(HwOutcome.FAILED, error="unsupported_action")
            await progress("reading")
            try:
                if request.action is HwAction.READ_ID_CARD:
                    card = await asyncio.to_thread(self._read_card)
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

    async def health(self) -> dict[str, dict[str, Any]]:
        """Per configured kind: status and an internal health check (no personal data)."""
        return await asyncio.to_thread(self._health)

    async def close(self) -> None:
        """Close every opened device."""
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

    def _read_card(self) -> IdCardData:
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
