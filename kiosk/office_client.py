"""The kiosk's HTTP client for the office: bearer token, typed methods, clear errors, retries.

Errors (split by who is at fault)::

    OfficeError                    the office answered with an error (``status``, machine ``code``)
    ├── Unauthorized               401/403: token unknown, revoked or wrong (re-enroll; no retry)
    OfficeUnreachable              no answer after the retries (network, office down)

Connection errors and 502/503/504 are retried with capped exponential backoff (``attempts``
times); other errors are not. The token is never logged and never part of an error message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Self

import httpx
from pydantic import BaseModel, ConfigDict

__all__ = [
    "DeviceToken",
    "IceServer",
    "KioskIdentity",
    "OfficeClient",
    "OfficeError",
    "OfficeUnreachable",
    "Unauthorized",
]

logger = logging.getLogger(__name__)

_RETRY_STATUS = frozenset({502, 503, 504})


class OfficeError(Exception):
    """The office refused a request."""

    def __init__(self, status: int, code: str, path: str, values: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{path}: office answered {status} {code}")
        self.status = status
        self.code = code
        self.path = path
        #: The error body's other text fields (e.g. ``next_open_local`` of ``office_closed``) for
        #: the message shown; the office puts no personal data in error bodies.
        self.values: dict[str, str] = dict(values or {})


class Unauthorized(OfficeError):
    """The device token is not (or no longer) valid: enroll again."""


class OfficeUnreachable(Exception):
    """The office did not answer after all retries."""

    def __init__(self, path: str, attempts: int, cause: str) -> None:
        super().__init__(f"{path}: office unreachable after {attempts} attempts ({cause})")
        self.path = path
        self.attempts = attempts


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class DeviceToken(_Lenient):
    """The answer to enrollment: who we are and our token (keep it secret)."""

    kiosk_id: int
    station_id: int
    office_id: int
    token: str

    def __repr__(self) -> str:
        return (
            f"DeviceToken(kiosk_id={self.kiosk_id}, station_id={self.station_id}, office_id={self.office_id})"
        )

    __str__ = __repr__


class IceServer(_Lenient):
    """One ``RTCIceServer`` as the office hands it out."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None

    def __repr__(self) -> str:
        return f"IceServer(urls={self.urls!r})"  # never the TURN credential


class KioskIdentity(_Lenient):
    """``GET /api/kiosk/me``: this kiosk's station and office."""

    kiosk_id: int
    name: str
    station_id: int
    station_name: str
    station_name_en: str
    office_id: int
    office_name: str
    office_name_en: str
    timezone: str


class OfficeClient:
    """Typed calls to the office's kiosk API over one ``httpx.AsyncClient``."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        attempts: int = 4,
        first_delay: float = 0.5,
        max_delay: float = 5.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        timeout: float = 10.0,
    ) -> None:
        headers = {"User-Agent": "doorstep-kiosk/0.1"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.AsyncClient(
            base_url=base_url, headers=headers, transport=transport, timeout=timeout, trust_env=False
        )
        self.attempts = attempts
        self.first_delay = first_delay
        self.max_delay = max_delay
        self._sleep = sleep

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- API --------------------------------------------------------------------------------------

    async def enroll(self, code: str) -> DeviceToken:
        """Exchange a one-time enrollment code for a device token."""
        return DeviceToken.model_validate(
            await self._request("POST", "/api/kiosk/enroll", json={"code": code})
        )

    async def me(self) -> KioskIdentity:
        """This kiosk's station and office (also proves the token works)."""
        return KioskIdentity.model_validate(await self._request("GET", "/api/kiosk/me"))

    async def services(self) -> list[dict[str, Any]]:
        """The service catalog with materials (for the resident UI)."""
        data = await self._request("GET", "/api/catalog/services")
        return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []

    async def issue_ticket(
        self, service_id: int, *, idempotency_key: str, id_number: str | None = None
    ) -> dict[str, Any]:
        """Take a number for a service (the key makes a retried tap return the same ticket)."""
        body: dict[str, Any] = {"service_id": service_id}
        if id_number is not None:
            body["id_number"] = id_number
        data = await self._request(
            "POST", "/api/queue/tickets", json=body, headers={"Idempotency-Key": idempotency_key}
        )
        return data if isinstance(data, dict) else {}

    async def ticket(self, ticket_id: int) -> dict[str, Any]:
        """A ticket's status and wait estimate."""
        data = await self._request("GET", f"/api/queue/tickets/{ticket_id}")
        return data if isinstance(data, dict) else {}

    async def report_call(self, call_id: str, state: str) -> None:
        """Report this kiosk's media ``connected`` / ``reconnecting`` for a call."""
        await self._request("POST", f"/api/calls/{call_id}/report", json={"state": state})

    async def ice_servers(self) -> list[IceServer]:
        """The STUN/TURN servers to use for a call now (TURN credentials expire)."""
        return (await self.ice_servers_ttl())[0]

    async def ice_servers_ttl(self) -> tuple[list[IceServer], int]:
        """The STUN/TURN servers and how many seconds their TURN credentials stay valid."""
        data = await self._request("GET", "/api/calls/ice-servers")
        servers = data.get("ice_servers", []) if isinstance(data, dict) else []
        ttl = data.get("ttl_s", 0) if isinstance(data, dict) else 0
        return [IceServer.model_validate(item) for item in servers], ttl if isinstance(ttl, int) else 0

    async def report_health(self, report: dict[str, Any]) -> bool:
        """Send a device-health report (``POST /api/kiosk/health``); False when the office has no such endpoint."""
        try:
            await self._request("POST", "/api/kiosk/health", json=report)
        except OfficeError as err:
            if err.status in (404, 405):
                logger.info("office has no device-health endpoint yet; report kept local")
                return False
            raise
        return True

    # -- resident UI: catalog, queue, booking, ratings (kiosk/journey.py) -----------------------------

    async def categories(self) -> list[dict[str, Any]]:
        """The service categories (code, name, name_en)."""
        data = await self._request("GET", "/api/catalog/categories")
        return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []

    async def leave_queue(self, ticket_id: int, reason: str = "resident left at the kiosk") -> dict[str, Any]:
        """Leave the queue with a ticket (``POST /api/queue/tickets/{id}/leave``)."""
        data = await self._request("POST", f"/api/queue/tickets/{ticket_id}/leave", json={"reason": reason})
        return data if isinstance(data, dict) else {}

    async def booking_slots(self, service_id: int, days: int | None = None) -> dict[str, Any]:
        """Bookable slots of a service at this kiosk's office."""
        params: dict[str, Any] = {"service_id": service_id}
        if days is not None:
            params["days"] = days
        data = await self._request("GET", "/api/kiosk/booking/slots", params=params)
        return data if isinstance(data, dict) else {}

    async def hold_slot(self, service_id: int, starts_at: str, *, idempotency_key: str) -> dict[str, Any]:
        """Hold a place in a slot (``hold_token`` in the answer proves ownership)."""
        data = await self._request(
            "POST",
            "/api/kiosk/booking/holds",
            json={"service_id": service_id, "starts_at": starts_at},
            headers={"Idempotency-Key": idempotency_key},
        )
        return data if isinstance(data, dict) else {}

    async def release_hold(self, hold_id: int, hold_token: str) -> None:
        """Give a hold back."""
        await self._request(
            "POST", f"/api/kiosk/booking/holds/{hold_id}/release", json={"hold_token": hold_token}
        )

    async def confirm_booking(
        self, hold_id: int, hold_token: str, id_number: str, *, id_source: str, phone: str | None = None
    ) -> dict[str, Any]:
        """Confirm a hold with the resident's identity; the booking (code, slot, print lines)."""
        body: dict[str, Any] = {"hold_token": hold_token, "id_number": id_number, "id_source": id_source}
        if phone:
            body["phone"] = phone
        data = await self._request("POST", f"/api/kiosk/booking/holds/{hold_id}/confirm", json=body)
        return data if isinstance(data, dict) else {}

    async def cancel_booking(self, code: str, id_number: str, reason: str) -> dict[str, Any]:
        """Cancel a booking (code + ID number), before the cut-off."""
        data = await self._request(
            "POST",
            "/api/kiosk/appointments/cancel",
            json={"code": code, "id_number": id_number, "reason": reason},
        )
        return data if isinstance(data, dict) else {}

    async def check_in(self, id_number: str, code: str | None = None) -> dict[str, Any]:
        """Check in for a booking (by ID number, and the code when the resident has it)."""
        body: dict[str, Any] = {"id_number": id_number}
        if code:
            body["code"] = code
        data = await self._request("POST", "/api/kiosk/appointments/check-in", json=body)
        return data if isinstance(data, dict) else {}

    async def rating_reasons(self) -> list[dict[str, Any]] | None:
        """Reasons offered for levels 1–2 (``[{code, zh, en}]``); None when the office has no such endpoint."""
        try:
            data = await self._request("GET", "/api/kiosk/rating-reasons")
        except OfficeError as err:
            if err.status in (404, 405):
                return None
            raise
        return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []

    async def rate(
        self,
        ticket_id: int,
        level: int,
        reasons: list[str],
        *,
        content_version: str,
        call_id: str | None = None,
        comment: str | None = None,
    ) -> dict[str, Any] | None:
        """Record the resident's rating (contract C4); None when the office has no ratings endpoint yet.

        A second rating for the same ticket raises :class:`OfficeError` 409 ``already_rated``.
        """
        body: dict[str, Any] = {
            "ticket_id": ticket_id,
            "level": level,
            "reasons": reasons,
            "content_version": content_version,
        }
        if call_id is not None:
            body["call_id"] = call_id
        if comment:
            body["comment"] = comment
        try:
            data = await self._request("POST", "/api/kiosk/ratings", json=body)
        except OfficeError as err:
            if err.status in (404, 405) and err.code in ("error", "not_found"):
                logger.info("office has no ratings endpoint yet; rating kept local")
                return None
            raise
        return data if isinstance(data, dict) else {}

    async def upload_identity(self, call_id: str, identity: dict[str, str]) -> str:
        """Store the ID card read during ``call_id`` at the office (unmasked, over this authenticated
        connection only); returns the opaque ``resident_ref``. The values are never logged."""
        data = await self._request("POST", f"/api/kiosk/calls/{call_id}/identity", json=identity)
        return str(data["resident_ref"]) if isinstance(data, dict) else ""

    async def upload_document(
        self, call_id: str, body: bytes, *, mime: str = "image/jpeg", kind: str = "page", request_id: str = ""
    ) -> int:
        """Upload a captured still of ``call_id`` (stored encrypted by the office); its document id."""
        headers = {"Content-Type": mime, "X-Document-Kind": kind}
        if request_id:
            headers["X-Request-Id"] = request_id
        data = await self._request(
            "POST", f"/api/kiosk/calls/{call_id}/documents", content=body, headers=headers
        )
        return int(data["document_id"]) if isinstance(data, dict) else 0

    async def record_verification(
        self, call_id: str, *, matched: bool, score: int, kind: str = "fingerprint"
    ) -> None:
        """Record a verification result (matched, score) on the call; never the fingerprint itself."""
        await self._request(
            "POST",
            f"/api/kiosk/calls/{call_id}/verifications",
            json={"kind": kind, "matched": matched, "score": score},
        )

    # -- internals --------------------------------------------------------------------------------

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        delay = self.first_delay
        cause = ""
        for attempt in range(1, self.attempts + 1):
            try:
                response = await self._http.request(method, path, **kwargs)
            except httpx.TransportError as err:
                cause = type(err).__name__
            else:
                if response.status_code not in _RETRY_STATUS:
                    return _decode(response, path)
                cause = f"HTTP {response.status_code}"
            if attempt < self.attempts:
                logger.info("%s %s failed (%s); retry %d in %.1f s", method, path, cause, attempt, delay)
                await self._sleep(delay)
                delay = min(delay * 2, self.max_delay)
        raise OfficeUnreachable(path, self.attempts, cause)


def _decode(response: httpx.Response, path: str) -> Any:
    if response.status_code < 400:
        return response.json() if response.content else None
    code = "error"
    values: dict[str, str] = {}
    with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
        body = response.json()["error"]
        code = str(body["code"])
        values = {
            k: v for k, v in body.items() if isinstance(v, str) and k not in ("code", "message", "request_id")
        }
    error = Unauthorized if response.status_code in (401, 403) else OfficeError
    raise error(response.status_code, code, path, values)
