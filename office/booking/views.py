"""What callers get back about a booking: identifiers, times, masked identity, printable lines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from office.booking.identity import mask_phone
from office.context import OfficeContext
from office.crypto import mask_id_number
from office.errors import ApiError
from office.models import Appointment, Office, Service

__all__ = ["BookingView", "find_by_code", "view_of"]


@dataclass(frozen=True, slots=True)
class BookingView:
    """A booking with masked identity; safe to return to a kiosk or a staff console."""

    id: int
    code: str
    state: str
    office_id: int
    service_id: int
    service_name: str
    service_name_en: str
    office_name: str
    starts_at: datetime
    ends_at: datetime
    local_date: date
    local_start: str
    id_masked: str
    phone_masked: str | None
    ics_token: str
    ticket_id: int | None

    def print_lines(self) -> list[str]:
        """The confirmation slip for the kiosk's ticket printer (no personal data beyond the mask)."""
        return [
            "预约凭条 / Appointment",
            f"{self.office_name}",
            f"服务 Service: {self.service_name}",
            f"时间 Time: {self.local_start}",
            f"预约码 Code: {self.code}",
            f"身份证 ID: {self.id_masked}",
            "请按预约时间提前到服务站签到 / please check in at the station before your time",
        ]


def view_of(ctx: OfficeContext, s: Session, appt: Appointment) -> BookingView:
    """Build the view (decrypts only to mask)."""
    service = s.get(Service, appt.service_id)
    office = s.get(Office, appt.office_id)
    assert service is not None and office is not None
    local = appt.starts_at.astimezone(ZoneInfo(office.timezone))
    id_masked = mask_id_number(ctx.cipher.decrypt(appt.id_enc, context=b"appointment")) if appt.id_enc else ""
    phone = ctx.cipher.decrypt(appt.phone_enc, context=b"appointment-phone") if appt.phone_enc else None
    return BookingView(
        id=appt.id,
        code=appt.code or "",
        state=appt.state,
        office_id=appt.office_id,
        service_id=appt.service_id,
        service_name=service.name,
        service_name_en=service.name_en,
        office_name=office.name,
        starts_at=appt.starts_at,
        ends_at=appt.ends_at,
        local_date=appt.local_date,
        local_start=local.strftime("%Y-%m-%d %H:%M"),
        id_masked=id_masked,
        phone_masked=mask_phone(phone) if phone else None,
        ics_token=appt.ics_token or "",
        ticket_id=appt.ticket_id,
    )


def find_by_code(
    ctx: OfficeContext, s: Session, office_id: int, code: str, id_number: str | None, *, lock: bool = False
) -> Appointment:
    """The booking with ``code`` at ``office_id`` whose resident is ``id_number`` (when given).

    Unknown code and wrong ID look the same (404 ``unknown_code``) so the pair cannot be probed.
    """
    q = select(Appointment).where(
        Appointment.code == code.strip().upper(), Appointment.office_id == office_id
    )
    if lock:
        q = q.with_for_update()
    appt = s.scalar(q)
    if appt is None or (id_number is not None and appt.id_hash != ctx.cipher.lookup_hash(id_number)):
        raise ApiError(404, "unknown_code", "预约码或身份证号不正确 / unknown booking code for this ID")
    return appt
