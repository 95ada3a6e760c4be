"""Reminders and notices, each sent at most once per (appointment, kind).

A notice is *claimed* by inserting its ``appointment_notices`` row (UNIQUE on appointment and kind)
in a committed transaction before anything is sent; a second worker's insert fails and it moves on.
The outcome (``sent``, ``failed:<reason>``, ``no_contact``) is written afterwards. A failed send is
not retried: at most once, never twice.

Kinds: ``day_before`` (due from 24 h before the slot, for bookings made earlier than that),
``hour_before`` (due from 1 h before), ``closure`` (the day was closed). Reminder kinds carry the
booking's reschedule count, so a rescheduled booking is reminded of its new time.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from office.booking.notify import NotificationFailed, Notifier
from office.context import OfficeContext
from office.models import Appointment, AppointmentNotice, AppointmentState, Office, Service

__all__ = ["REMINDERS", "message_for", "send_due_reminders", "send_notice"]

log = logging.getLogger("office.booking.reminders")

#: Reminder kind → how long before the slot it becomes due.
REMINDERS: dict[str, timedelta] = {"day_before": timedelta(hours=24), "hour_before": timedelta(hours=1)}


def message_for(kind: str, service: str, office: str, local_start: datetime, code: str) -> str:
    """The zh-CN SMS text (residents are Chinese first; the code is what they need)."""
    when = f"{local_start.month}月{local_start.day}日 {local_start:%H:%M}"
    if kind == "closure":
        return f"【家门口】因{office}临时闭馆，您{when}的{service}预约（预约码{code}）已取消，请重新预约。"
    return f"【家门口】提醒：您预约的{service}将于{when}在{office}办理，预约码{code}，请提前到服务站签到。"


def _claim(ctx: OfficeContext, appointment_id: int, kind: str, now: datetime) -> bool:
    try:
        with ctx.db() as s, s.begin():
            s.add(AppointmentNotice(appointment_id=appointment_id, kind=kind, claimed_at=now))
    except IntegrityError:
        return False
    return True


def send_notice(ctx: OfficeContext, notifier: Notifier, appointment_id: int, kind: str) -> str:
    """Claim and send one notice; returns the outcome (``duplicate`` when already claimed)."""
    now = ctx.clock.now()
    if not _claim(ctx, appointment_id, kind, now):
        return "duplicate"
    with ctx.read_db() as r:
        row = r.execute(
            select(Appointment, Service.name, Office.name, Office.timezone)
            .join(Service, Service.id == Appointment.service_id)
            .join(Office, Office.id == Appointment.office_id)
            .where(Appointment.id == appointment_id)
        ).one()
    appt, service_name, office_name, zone = row
    outcome = "sent"
    if appt.phone_enc is None:
        outcome = "no_contact"
    else:
        phone = ctx.cipher.decrypt(appt.phone_enc, context=b"appointment-phone")
        local = appt.starts_at.astimezone(ZoneInfo(zone))
        text = message_for(kind.split(":")[0], service_name, office_name, local, appt.code or "")
        try:
            notifier.send(phone, text, ref=appt.code or str(appt.id), kind=kind)
        except NotificationFailed as err:
            outcome = f"failed:{err.reason}"[:32]
    with ctx.db() as s, s.begin():
        s.execute(
            update(AppointmentNotice)
            .where(AppointmentNotice.appointment_id == appointment_id, AppointmentNotice.kind == kind)
            .values(outcome=outcome, sent_at=ctx.clock.now() if outcome == "sent" else None)
        )
    return outcome


def send_due_reminders(ctx: OfficeContext, notifier: Notifier) -> dict[str, int]:
    """Send every reminder that is due now and was never claimed; returns counts per outcome.

    Idempotent: calling it again (or concurrently from another office process) sends nothing twice.
    """
    now = ctx.clock.now()
    horizon = max(REMINDERS.values())
    with ctx.read_db() as r:
        rows = r.execute(
            select(Appointment.id, Appointment.starts_at, Appointment.booked_at, Appointment.reschedule_count)
            .where(
                Appointment.state == AppointmentState.BOOKED.value,
                Appointment.starts_at > now,
                Appointment.starts_at <= now + horizon,
            )
            .order_by(Appointment.starts_at)
        ).all()
        claimed = {
            (a, k)
            for a, k in r.execute(
                select(AppointmentNotice.appointment_id, AppointmentNotice.kind).where(
                    AppointmentNotice.appointment_id.in_([row.id for row in rows])
                )
            )
        }
    counts: dict[str, int] = {}
    for row in rows:
        for base, lead in REMINDERS.items():
            due_from = row.starts_at - lead
            if now < due_from:
                continue
            if base == "day_before" and row.booked_at is not None and row.booked_at > due_from:
                continue  # booked inside the day-before window: the hour-before reminder suffices
            if base == "day_before" and now >= row.starts_at - REMINDERS["hour_before"]:
                continue  # too late for this one; the hour-before reminder is due instead
            kind = f"{base}:{row.reschedule_count}"
            if (row.id, kind) in claimed:
                continue
            outcome = send_notice(ctx, notifier, row.id, kind)
            key = outcome.split(":")[0]
            counts[key] = counts.get(key, 0) + 1
    return counts
