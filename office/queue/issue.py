"""Issuing tickets: from a kiosk (device token) or by staff, optionally bound to the resident's ID.

One transaction: idempotency look-up, office and service checks, one-active-ticket look-up, counter
increment, insert, stamped ``issue`` event, stored prediction. The database has the last word: a
concurrent duplicate (same idempotency key, or same resident and service) fails the UNIQUE
constraint, the transaction rolls back (its counter increment with it) and the retry finds and
returns the ticket that won.

Intake hours: a walk-in number taken at a kiosk is refused (409 ``office_closed``, with the next
opening in the error body — ``next_open_at`` (UTC, ISO 8601), ``next_open_local`` ("YYYY-MM-DD
HH:MM" in the office's zone) and ``timezone`` — nothing written) outside the office's opening hours
for the day, in the office's time zone — from the day's first opening to its last closing (a resident
may take a number during the lunch break and is called after it). Where the office has stored weekly
hours (``office_schedules``) those apply with holidays, make-up days and the per-date overrides
(closures, special hours); an office without stored weekly hours is open around the clock except
where a per-date override closes it or sets its hours. Staff-issued numbers (a desk serving a
resident who arrived before closing, 延时服务) and appointment check-ins (booked within the hours;
check-in opens before the slot) are not bound by the hours. The manual switch
(``accepting_tickets``) stops every kind of issue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from office import audit
from office.audit import Actor
from office.booking.schedules import date_override, weekly_plan
from office.calendar import WeeklyPlan, WorkingCalendar
from office.context import OfficeContext
from office.errors import ApiError
from office.models import (
    CalendarOverride,
    Office,
    OfficeSchedule,
    Priority,
    QueueSettings,
    Service,
    Ticket,
    TicketState,
)
from office.queue.config import CONFIG_FIELDS, QueueConfig, config_of
from office.queue.estimate import Estimate, estimate_for
from office.queue.live import publish_change
from office.queue.numbering import business_date, numbered_insert
from office.queue.resident import InvalidIdNumber, is_statutory_age, validate_id_number
from office.queue.txn import writing

__all__ = ["IssueRequest", "Issued", "active_key", "intake_calendar", "issue_ticket"]

_ATTEMPTS = 4
_LAST_ID = 2**31 - 1  # larger than any id (INTEGER primary keys)

# The look-ups of an issue, built once and executed with parameters (Core: no ORM compile step).
_o, _q, _p = Office.__table__.c, QueueSettings.__table__.c, OfficeSchedule.__table__.c
#: The office with its queue settings (NULL: defaults) and stored weekly plan (NULL: none), one row.
_OFFICE = (
    select(
        _o.id,
        _o.timezone,
        _q.office_id.label("settings_id"),
        *(_q[name] for name in CONFIG_FIELDS),
        _p.office_id.label("schedule_id"),
        _p.plan,
    )
    .select_from(
        Office.__table__.outerjoin(QueueSettings.__table__, _q.office_id == _o.id).outerjoin(
            OfficeSchedule.__table__, _p.office_id == _o.id
        )
    )
    .where(_o.id == bindparam("office_id"))
)
_c = CalendarOverride.__table__.c
_OVERRIDES = select(_c.day, _c.closed, _c.hours, _c.working_day, _c.note).where(
    _c.office_id == bindparam("office_id"), _c.day >= bindparam("first")
)
_sv = Service.__table__.c
_t = Ticket.__table__.c
_BY_IDEM = select(_t.id).where(_t.idem_scope == bindparam("scope"), _t.idem_key == bindparam("idem_key"))
_BY_ACTIVE_KEY = select(_t.id).where(_t.active_key == bindparam("active_key"))
#: Everything an issue reads before it writes, one row: :data:`_OFFICE`, the requested service
#: (NULL: unknown) and the ids of the tickets the idempotency key and the active key name (NULL: none).
_FACTS = _OFFICE.add_columns(
    _sv.id.label("service_id"),
    _sv.active.label("service_active"),
    _sv.queue_prefix.label("service_prefix"),
    _sv.version.label("service_version"),
    _sv.skill.label("service_skill"),
    _BY_IDEM.scalar_subquery().label("idem_ticket_id"),
    _BY_ACTIVE_KEY.scalar_subquery().label("active_ticket_id"),
).outerjoin(Service.__table__, _sv.id == bindparam("service_id"))
_ALWAYS_OPEN = WeeklyPlan.always_open()


@dataclass(frozen=True, slots=True)
class _Probe:
    """The ordering fields of a ticket about to be inserted."""

    id: int
    priority: int
    order_at: datetime
    queued_at: datetime


@dataclass(frozen=True, slots=True)
class IssueRequest:
    """What to issue. Exactly one of ``kiosk_id`` / ``user_id`` names the issuer."""

    office_id: int
    service_id: int
    station_id: int | None = None
    kiosk_id: int | None = None
    user_id: int | None = None
    id_number: str | None = None
    #: Staff-set statutory priority reason code (disability, pregnancy, …); "" for none.
    staff_priority: str = ""
    idempotency_key: str | None = None
    #: A checked-in appointment: ordered by its booked time at appointment priority.
    appointment_ref: str | None = None
    appointment_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Issued:
    """The ticket, and whether this request created it (False: an existing one was returned)."""

    ticket: Ticket
    created: bool
    #: The estimate computed at issue (created tickets only).
    estimate: Estimate | None = None


def active_key(office_id: int, resident_hash: str, service_id: int) -> str:
    """The UNIQUE key that allows one active ticket per resident and service in an office."""
    return f"{office_id}:{resident_hash}:{service_id}"


def issue_ticket(ctx: OfficeContext, req: IssueRequest, actor: Actor) -> Issued:
    """Issue (or return the existing) ticket for ``req``."""
    id_number: str | None = None
    if req.id_number:
        try:
            id_number = validate_id_number(req.id_number)
        except InvalidIdNumber as err:
            raise ApiError(422, "invalid_id_number", str(err)) from None
    resident_hash = ctx.cipher.lookup_hash(id_number) if id_number else None
    scope = f"kiosk:{req.kiosk_id}" if req.kiosk_id is not None else f"user:{req.user_id}"
    for _ in range(_ATTEMPTS):
        try:
            with writing(ctx) as s:
                params = {
                    "office_id": req.office_id,
                    "service_id": req.service_id,
                    "scope": scope,
                    "idem_key": req.idempotency_key,
                    "active_key": (
                        active_key(req.office_id, resident_hash, req.service_id) if resident_hash else None
                    ),
                }
                facts = s.execute(_FACTS, params).first()
                found = _existing(s, req, params, facts)
                if found is not None:
                    return Issued(found, created=False)
                if facts is None:
                    raise ApiError(404, "office_not_found", "no such office")
                ticket, estimate = _insert(ctx, s, req, facts, scope, id_number, resident_hash, actor)
        except IntegrityError:
            continue  # a concurrent duplicate won; the next attempt finds it
        publish_change(ctx, req.office_id, "queue.issued", [ticket])
        return Issued(ticket, created=True, estimate=estimate)
    raise ApiError(409, "issue_conflict", "the ticket could not be issued; try again")


def intake_calendar(s: Session, office_id: int, now: datetime) -> WorkingCalendar:
    """The calendar that bounds walk-in intake (see the module docstring)."""
    office = s.execute(_OFFICE, {"office_id": office_id}).first()
    if office is None:
        raise ApiError(404, "not_found", "no such office")
    return _intake_calendar(s, office, now)


def _intake_calendar(s: Session, office: Any, now: datetime) -> WorkingCalendar:
    """:func:`intake_calendar` from the office's row of :data:`_OFFICE`."""
    weekly = weekly_plan(office.plan) if office.schedule_id is not None else _ALWAYS_OPEN
    first = (now - timedelta(days=2)).date()
    overrides = [date_override(o) for o in s.execute(_OVERRIDES, {"office_id": office.id, "first": first})]
    return WorkingCalendar(office.timezone, weekly=weekly, overrides=overrides)


def _check_hours(s: Session, office: Any, now: datetime) -> None:
    calendar = _intake_calendar(s, office, now)
    span = calendar.day_span(calendar.local_date(now))
    if span is not None and now in span:
        return
    next_open = calendar.next_opening(now)
    local = next_open.astimezone(calendar.zone).strftime("%Y-%m-%d %H:%M") if next_open else None
    raise ApiError(
        409,
        "office_closed",
        f"the office is closed now; numbers can be taken from {local or 'a later date'}",
        extra={
            "next_open_at": next_open.isoformat() if next_open else None,
            "next_open_local": local,
            "timezone": calendar.zone.key,
        },
    )


def _existing(s: Session, req: IssueRequest, params: dict[str, Any], facts: Any) -> Ticket | None:
    """The ticket this request already has: same idempotency key (same service, else 422), or the
    resident's active ticket for the service. ``facts``: the row of :data:`_FACTS` (None: no such
    office, then looked up on their own)."""
    if req.idempotency_key:
        found = facts.idem_ticket_id if facts is not None else s.scalar(_BY_IDEM, params)
        if found is not None:
            t = s.get(Ticket, found)
            if t is not None and t.service_id != req.service_id:
                raise ApiError(
                    422, "idempotency_key_reused", "this Idempotency-Key was used for another request"
                )
            return t
    if params["active_key"] is not None:
        found = facts.active_ticket_id if facts is not None else s.scalar(_BY_ACTIVE_KEY, params)
        return s.get(Ticket, found) if found is not None else None
    return None


def _insert(
    ctx: OfficeContext,
    s: Session,
    req: IssueRequest,
    office: Any,
    scope: str,
    id_number: str | None,
    resident_hash: str | None,
    actor: Actor,
) -> tuple[Ticket, Estimate]:
    """Check and write a new ticket; ``office``: the row of :data:`_FACTS`."""
    now = ctx.clock.now()
    cfg = config_of(office.id, office) if office.settings_id is not None else QueueConfig(office.id)
    if not cfg.accepting_tickets:
        raise ApiError(409, "office_closed", cfg.closed_reason or "the office is not taking numbers now")
    if req.kiosk_id is not None and req.appointment_at is None:
        _check_hours(s, office, now)
    if office.service_id is None:
        raise ApiError(404, "service_not_found", "no such service")
    if not office.service_active:
        raise ApiError(409, "service_unavailable", "this service is not offered now")
    day = business_date(now, office.timezone)
    priority, basis, order_at = Priority.NORMAL, "", now
    if req.appointment_at is not None:
        priority, basis, order_at = Priority.APPOINTMENT, "appointment", req.appointment_at
    elif req.staff_priority:
        priority, basis = Priority.STATUTORY, f"staff:{req.staff_priority}"[:40]
    elif id_number and is_statutory_age(id_number, day):
        priority, basis = Priority.STATUTORY, "age70"
    # The new ticket will have the largest id, so it sorts after equal keys: estimate before inserting.
    probe = _Probe(id=_LAST_ID, priority=priority, order_at=order_at, queued_at=now)
    estimate = estimate_for(s, probe, office.id, office.service_id, office.service_skill, cfg, now)
    values = {
        "office_id": office.id,
        "station_id": req.station_id,
        "kiosk_id": req.kiosk_id,
        "issued_by_user_id": req.user_id,
        "service_id": office.service_id,
        "service_version": office.service_version,
        "queue_prefix": office.service_prefix,
        "business_date": day,
        "state": TicketState.WAITING.value,
        "priority": priority,
        "priority_basis": basis,
        "order_at": order_at,
        "queued_at": now,
        "issued_at": now,
        "resident_hash": resident_hash,
        "resident_enc": ctx.cipher.encrypt(id_number, context=b"ticket") if id_number else None,
        "active_key": active_key(office.id, resident_hash, office.service_id) if resident_hash else None,
        "idem_scope": scope if req.idempotency_key else None,
        "idem_key": req.idempotency_key,
        "appointment_ref": req.appointment_ref,
        "predicted_wait_s": estimate.expected_s,
        "recall_count": 0,
        "ended_by": "",
        "end_reason": "",
        "version": 1,
    }
    event = {"at": now, "event": "issue", "actor": f"{actor.type}:{actor.id}", "reason": basis}
    # The counter row is locked from its increment to the commit: take it last, in one statement.
    ticket = numbered_insert(s, values, event)
    if actor.type == "user":
        audit.record(
            s,
            actor,
            "ticket.issued",
            target_type="ticket",
            target_id=ticket.id,
            service_id=office.service_id,
            priority_basis=basis,
        )
    s.flush()
    return ticket, estimate
