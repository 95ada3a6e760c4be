"""Ratings and follow-ups as transactions: record a kiosk's rating, apply default ratings, work a
follow-up through its lifecycle, raise overdue alerts, compute the §2.4 KPIs.

Every function is one unit of work on the office database; live events ("rating.created",
"followup.changed") are published after the commit and carry identifiers and codes only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from office import audit
from office.audit import Actor
from office.booking.schedules import load_calendar
from office.calendar import WorkingCalendar, local_instant
from office.context import OfficeContext
from office.crypto import DecryptionError, mask_id_number
from office.errors import ApiError
from office.models import Base, Call, FollowUp, FollowUpEvent, Office, Rating, Ticket, TicketState
from office.ratings.content import CONTENT_VERSION, is_bad, known_reason, known_version
from office.ratings.lifecycle import DUE_STEP, FollowUpState, IllegalFollowUpStep, next_state

__all__ = [
    "FollowUpActor",
    "Kpis",
    "RatingInput",
    "apply_default_ratings",
    "create_rating",
    "evaluator_identity",
    "followup_step",
    "kpis",
    "load_followup",
    "period_bounds",
    "process_overdue_followups",
]

log = logging.getLogger("office.ratings")
_SERVED = (TicketState.SERVING, TicketState.DONE)
#: How far back the default-rating job looks past its delay (a stopped office catches up this much).
_DEFAULT_LOOKBACK = timedelta(days=3)
_DEFAULT_BATCH = 500


@dataclass(frozen=True, slots=True)
class RatingInput:
    """A kiosk's rating (validated shape; rules are checked here)."""

    ticket_id: int
    level: int
    reasons: tuple[str, ...]
    comment: str
    content_version: str
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class FollowUpActor:
    """Who works a follow-up: a staff user with role flags and office (None: administrator)."""

    actor: Actor
    user_id: int
    supervisor: bool
    office_id: int | None


def _case_of(s: Session, ticket_id: int, call_id: str | None) -> int | None:
    """The case bound to this ticket (or call), if the cases module is present and has one."""
    cases = Base.metadata.tables.get("cases")
    if cases is None or "ticket_id" not in cases.c:
        return None
    cond = cases.c.ticket_id == ticket_id
    if call_id is not None and "call_id" in cases.c:
        cond = cond | (cases.c.call_id == call_id)
    found = s.execute(select(cases.c.id).where(cond).order_by(cases.c.id.desc()).limit(1)).scalar()
    return int(found) if found is not None else None


def _calendar(s: Session, office_id: int) -> WorkingCalendar:
    return load_calendar(s, office_id)


def _step_days(ctx: OfficeContext, step: str, classification: str, days: int | None) -> int:
    st = ctx.settings
    if step == "rectify":
        if classification == "ledger":
            return min(days, st.followup_ledger_days) if days is not None else st.followup_ledger_days
        return st.followup_fix_now_days
    table = {
        "contact": st.followup_contact_days,
        "classify": st.followup_contact_days,
        "review": st.followup_review_days,
        "feedback": st.followup_feedback_days,
        "revisit": st.followup_revisit_days,
    }
    return table[step]


def _open_followup(ctx: OfficeContext, s: Session, rating: Rating, now: datetime) -> FollowUp:
    cal = _calendar(s, rating.office_id)
    fu = FollowUp(
        office_id=rating.office_id,
        rating_id=rating.id,
        state=FollowUpState.OPEN,
        assignee_id=None,
        created_at=now,
        due_step="contact",
        due_date=cal.add_working_days(cal.local_date(now), ctx.settings.followup_contact_days),
    )
    s.add(fu)
    s.flush()
    s.add(
        FollowUpEvent(
            followup_id=fu.id, at=now, event="create", from_state="", to_state=fu.state, actor_id=None
        )
    )
    return fu


def create_rating(
    ctx: OfficeContext, kiosk_id: int, office_id: int, station_id: int, body: RatingInput
) -> tuple[Rating, FollowUp | None]:
    """Record a resident's rating from a kiosk of the ticket's station.

    Refusals: unknown ticket (404), ticket never served (409 ``not_served``), a real rating already
    recorded (409 ``already_rated``), unknown content version or reason (422), levels 1–2 without a
    reason (422 ``reasons_required``). A real rating replaces a default one recorded before it.
    """
    if not known_version(body.content_version):
        raise ApiError(422, "unknown_content_version", "rating content version not accepted")
    unknown = [r for r in body.reasons if not known_reason(r)]
    if unknown:
        raise ApiError(422, "unknown_reason", "unknown rating reason code")
    if is_bad(body.level) and not body.reasons:
        raise ApiError(422, "reasons_required", "levels 1 and 2 need at least one reason")
    now = ctx.clock.now()
    with ctx.db() as s, s.begin():
        ticket = s.get(Ticket, body.ticket_id)
        if ticket is None or ticket.office_id != office_id or ticket.station_id not in (station_id, None):
            raise ApiError(404, "ticket_not_found", "no such ticket at this station")
        if ticket.state not in _SERVED or ticket.served_at is None:
            raise ApiError(409, "not_served", "the ticket was not served")
        call: Call | None = None
        if body.call_id is not None:
            call = s.get(Call, body.call_id)
            if call is None or call.ticket_id != ticket.id:
                raise ApiError(404, "call_not_found", "no such call for this ticket")
        else:
            call = s.scalars(
                select(Call).where(Call.ticket_id == ticket.id).order_by(Call.created_at.desc()).limit(1)
            ).first()
        existing = s.scalars(select(Rating).where(Rating.ticket_id == ticket.id)).first()
        if existing is not None and not existing.is_default:
            raise ApiError(409, "already_rated", "this service was already rated")
        values: dict[str, Any] = {
            "office_id": ticket.office_id,
            "station_id": ticket.station_id,
            "kiosk_id": kiosk_id,
            "ticket_id": ticket.id,
            "call_id": call.id if call else None,
            "case_id": _case_of(s, ticket.id, call.id if call else None),
            "service_id": ticket.service_id,
            "agent_id": call.agent_id if call else ticket.agent_id,
            "level": body.level,
            "reasons": list(body.reasons),
            "comment": body.comment,
            "content_version": body.content_version,
            "is_default": False,
            "created_at": now,
        }
        if existing is not None:
            # Replace the default only if it is still a default (a concurrent real rating wins once).
            done = s.execute(
                update(Rating).where(Rating.id == existing.id, Rating.is_default.is_(True)).values(**values)
            ).rowcount  # type: ignore[attr-defined]
            if done != 1:
                raise ApiError(409, "already_rated", "this service was already rated")
            rating = existing
            s.refresh(rating)
        else:
            rating = Rating(**values)
            s.add(rating)
            try:
                s.flush()
            except IntegrityError:
                raise ApiError(409, "already_rated", "this service was already rated") from None
        followup = _open_followup(ctx, s, rating, now) if is_bad(body.level) else None
        audit.record(
            s,
            Actor("kiosk", kiosk_id),
            "rating.create",
            target_type="rating",
            target_id=rating.id,
            level=body.level,
            followup=followup is not None,
        )
        result = (rating, followup)
    _publish_rating(ctx, rating, followup)
    return result


def _publish_rating(ctx: OfficeContext, rating: Rating, followup: FollowUp | None) -> None:
    ctx.events.publish(
        rating.office_id,
        "rating.created",
        {
            "rating_id": rating.id,
            "ticket_id": rating.ticket_id,
            "station_id": rating.station_id,
            "service_id": rating.service_id,
            "agent_id": rating.agent_id,
            "level": rating.level,
            "is_default": rating.is_default,
            "followup_id": followup.id if followup else None,
        },
    )
    if followup is not None:
        _publish_followup(ctx, followup)


def _publish_followup(ctx: OfficeContext, fu: FollowUp, **extra: Any) -> None:
    ctx.events.publish(
        fu.office_id,
        "followup.changed",
        {
            "followup_id": fu.id,
            "rating_id": fu.rating_id,
            "state": fu.state,
            "due_date": fu.due_date.isoformat(),
            "due_step": fu.due_step,
            **extra,
        },
    )


def apply_default_ratings(ctx: OfficeContext) -> int:
    """Job: record the configured default level for served tickets left unrated past the delay.

    Never touches a ticket that has a rating (the unique key makes a race with a real rating lose
    quietly). Returns how many defaults were recorded.
    """
    now = ctx.clock.now()
    cutoff = now - timedelta(minutes=ctx.settings.rating_default_after_min)
    level = ctx.settings.rating_default_level
    # Per office and business day, so the (office_id, business_date) index bounds the scan; the
    # day range is widened by one on each side for the office's offset from UTC.
    first_day = (cutoff - _DEFAULT_LOOKBACK).date() - timedelta(days=1)
    last_day = cutoff.date() + timedelta(days=1)
    created: list[tuple[Rating, FollowUp | None]] = []
    ticket_ids: list[int] = []
    with ctx.read_db() as s:
        for office_id in list(s.scalars(select(Office.id).order_by(Office.id))):
            q = (
                select(Ticket.id)
                .where(
                    Ticket.office_id == office_id,
                    Ticket.business_date >= first_day,
                    Ticket.business_date <= last_day,
                    Ticket.state == TicketState.DONE,
                    Ticket.served_at.is_not(None),
                    Ticket.ended_at <= cutoff,
                    Ticket.ended_at > cutoff - _DEFAULT_LOOKBACK,
                    ~exists().where(Rating.ticket_id == Ticket.id),
                )
                .order_by(Ticket.ended_at)
                .limit(_DEFAULT_BATCH)
            )
            ticket_ids.extend(s.scalars(q))
    for ticket_id in ticket_ids:
        try:
            with ctx.db() as s, s.begin():
                ticket = s.get(Ticket, ticket_id)
                if ticket is None or s.scalar(select(Rating.id).where(Rating.ticket_id == ticket_id)):
                    continue
                call = s.scalars(
                    select(Call).where(Call.ticket_id == ticket.id).order_by(Call.created_at.desc()).limit(1)
                ).first()
                rating = Rating(
                    office_id=ticket.office_id,
                    station_id=ticket.station_id,
                    kiosk_id=ticket.kiosk_id,
                    ticket_id=ticket.id,
                    call_id=call.id if call else None,
                    case_id=_case_of(s, ticket.id, call.id if call else None),
                    service_id=ticket.service_id,
                    agent_id=call.agent_id if call else ticket.agent_id,
                    level=level,
                    reasons=[],
                    comment="",
                    content_version=CONTENT_VERSION,
                    is_default=True,
                    created_at=now,
                )
                s.add(rating)
                s.flush()
                followup = _open_followup(ctx, s, rating, now) if is_bad(level) else None
                audit.record(
                    s,
                    Actor("system", "ratings"),
                    "rating.default",
                    target_type="rating",
                    target_id=rating.id,
                    level=level,
                )
                s.flush()
                s.expunge_all()
        except IntegrityError:
            continue  # rated meanwhile: the real rating stands
        created.append((rating, followup))
    for rating, followup in created:
        _publish_rating(ctx, rating, followup)
    if created:
        log.info("default ratings recorded", extra={"count": len(created)})
    return len(created)


def load_followup(s: Session, followup_id: int, who: FollowUpActor) -> FollowUp:
    """The follow-up if ``who`` may see it: staff of its office (admins: all); 404 otherwise."""
    fu = s.get(FollowUp, followup_id)
    if fu is None or (who.office_id is not None and fu.office_id != who.office_id):
        raise ApiError(404, "followup_not_found", "no such follow-up in your office")
    return fu


def followup_step(
    ctx: OfficeContext,
    who: FollowUpActor,
    followup_id: int,
    event: str,
    *,
    note: str = "",
    days: int | None = None,
    recheck_level: int | None = None,
) -> FollowUp:
    """Apply one lifecycle event (state-checked), set the next step's working-day due date.

    Supervisors of the office (and administrators) may work any follow-up; an agent only one
    assigned to them. ``days`` sets a ledger's deadline (capped by ``followup_ledger_days``).
    """
    now = ctx.clock.now()
    with ctx.db() as s, s.begin():
        fu = load_followup(s, followup_id, who)
        if not who.supervisor and fu.assignee_id != who.user_id:
            raise ApiError(403, "not_assignee", "only a supervisor or the assignee may work this follow-up")
        state = FollowUpState(fu.state)
        try:
            new_state = next_state(state, event)
        except IllegalFollowUpStep as err:
            raise ApiError(409, "illegal_step", str(err)) from None
        values: dict[str, Any] = {"state": new_state, "version": fu.version + 1, "overdue_alerted_at": None}
        kind, _, option = event.partition(":")
        if kind == "contact":
            values["contacted_at"] = now
        elif kind == "classify":
            values["classification"] = option
            values["classified_at"] = now
        elif kind == "review":
            values["appeal_outcome"] = option
        elif kind == "rectify":
            values["rectified_at"] = now
        elif kind == "feedback":
            values["feedback_at"] = now
        elif kind == "revisit":
            values["revisited_at"] = now
            values["recheck_level"] = recheck_level
        elif kind == "close":
            values["closed_at"] = now
        if new_state is not FollowUpState.CLOSED:
            step = DUE_STEP[new_state]
            classification = values.get("classification", fu.classification)
            if kind == "review" and option == "upheld":
                classification = "ledger"
                values["classification"] = classification
            cal = _calendar(s, fu.office_id)
            n = _step_days(ctx, step, classification, days)
            values["due_step"] = step
            values["due_date"] = cal.add_working_days(cal.local_date(now), n)
        changed = s.execute(
            update(FollowUp)
            .where(FollowUp.id == fu.id, FollowUp.state == state, FollowUp.version == fu.version)
            .values(**values)
        ).rowcount  # type: ignore[attr-defined]
        if changed != 1:
            raise ApiError(409, "conflict", "the follow-up changed meanwhile; reload")
        s.add(
            FollowUpEvent(
                followup_id=fu.id,
                at=now,
                event=event,
                from_state=state,
                to_state=new_state,
                actor_id=who.user_id,
                note=note,
                detail={"days": days} if days is not None else {},
            )
        )
        audit.record(s, who.actor, "followup.step", target_type="followup", target_id=fu.id, event=event)
        s.flush()
        s.refresh(fu)
        s.expunge(fu)
    _publish_followup(ctx, fu)
    return fu


def process_overdue_followups(ctx: OfficeContext) -> int:
    """Job: alert once per step for follow-ups past their due date (office-local working calendar).

    The alert is the live event ``followup.changed`` with ``"overdue": true``; the follow-up is
    stamped so each step alerts once. Returns how many alerts were raised.
    """
    now = ctx.clock.now()
    alerts: list[FollowUp] = []
    with ctx.db() as s, s.begin():
        candidates = list(
            s.scalars(
                select(FollowUp).where(
                    FollowUp.state != FollowUpState.CLOSED,
                    FollowUp.overdue_alerted_at.is_(None),
                    FollowUp.due_date < (now + timedelta(days=1)).date(),
                )
            )
        )
        calendars: dict[int, WorkingCalendar] = {}
        for fu in candidates:
            cal = calendars.get(fu.office_id) or calendars.setdefault(
                fu.office_id, _calendar(s, fu.office_id)
            )
            if cal.local_date(now) <= fu.due_date:
                continue
            changed = s.execute(
                update(FollowUp)
                .where(
                    FollowUp.id == fu.id,
                    FollowUp.version == fu.version,
                    FollowUp.overdue_alerted_at.is_(None),
                )
                .values(overdue_alerted_at=now)
            ).rowcount  # type: ignore[attr-defined]
            if changed == 1:
                alerts.append(fu)
        for fu in alerts:
            s.expunge(fu)
    for fu in alerts:
        _publish_followup(ctx, fu, overdue=True)
    return len(alerts)


def evaluator_identity(ctx: OfficeContext, who: FollowUpActor, followup_id: int) -> dict[str, Any]:
    """The real-name evaluator behind a 差评, masked, for the supervisor who must call them back.

    Audited on every read (success or refusal). The ID number is decrypted only to mask it.
    """
    with ctx.db() as s, s.begin():
        try:
            fu = load_followup(s, followup_id, who)
        except ApiError:
            refused = True
        else:
            refused = False
    if refused:
        with ctx.db() as s, s.begin():
            audit.record(
                s,
                who.actor,
                "rating.evaluator_read",
                target_type="followup",
                target_id=followup_id,
                success=False,
            )
        raise ApiError(404, "followup_not_found", "no such follow-up in your office")
    with ctx.db() as s, s.begin():
        fu = load_followup(s, followup_id, who)
        rating = s.get(Rating, fu.rating_id)
        assert rating is not None
        ticket = s.get(Ticket, rating.ticket_id)
        masked: str | None = None
        if ticket is not None and ticket.resident_enc is not None:
            try:
                masked = mask_id_number(ctx.cipher.decrypt(ticket.resident_enc, context=b"ticket"))
            except DecryptionError:
                masked = None
        audit.record(
            s,
            who.actor,
            "rating.evaluator_read",
            target_type="followup",
            target_id=fu.id,
            rating_id=rating.id,
            identified=masked is not None,
        )
    return {"identified": masked is not None, "id_number_masked": masked, "ticket_id": rating.ticket_id}


@dataclass(frozen=True, slots=True)
class Kpis:
    """The §2.4 KPIs over a period (rates are 0..1, ``None`` when their denominator is 0)."""

    served: int
    ratings: int
    active_ratings: int
    default_ratings: int
    good: int
    bad: int
    followups: int
    followed_up: int
    rectified: int
    closed: int
    overdue_open: int
    follow_up_rate: float | None
    rectification_rate: float | None
    active_rating_rate: float | None
    good_rate: float | None


def _rate(num: int, den: int) -> float | None:
    return num / den if den else None


def kpis(ctx: OfficeContext, office_id: int, start: datetime, end: datetime) -> Kpis:
    """KPIs for ratings created in ``[start, end)`` (and tickets served in it) of one office.

    - 主动评价率 active rating rate = real (non-default) ratings / served tickets;
    - 好评率 good rate = ratings of level 4–5 / all ratings (defaults included);
    - 回访率 follow-up rate = 差评 whose resident was contacted / 差评;
    - 整改率 rectification rate = 差评 whose handling finished (rectified, explained or excluded on
      appeal, i.e. feedback reached) / 差评.
    """
    today = ctx.clock.now()
    with ctx.read_db() as s:
        served = s.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(
                Ticket.office_id == office_id,
                Ticket.served_at.is_not(None),
                Ticket.served_at >= start,
                Ticket.served_at < end,
            )
        )
        period = and_(Rating.office_id == office_id, Rating.created_at >= start, Rating.created_at < end)
        row = s.execute(
            select(
                func.count(),
                func.sum(case((Rating.is_default.is_(False), 1), else_=0)),
                func.sum(case((Rating.is_default.is_(True), 1), else_=0)),
                func.sum(case((Rating.level >= 4, 1), else_=0)),
                func.sum(case((Rating.level <= 2, 1), else_=0)),
            ).where(period)
        ).one()
        fu_rows = s.execute(
            select(FollowUp.contacted_at, FollowUp.feedback_at, FollowUp.state, FollowUp.due_date)
            .join(Rating, Rating.id == FollowUp.rating_id)
            .where(period)
        ).all()
        cal = _calendar(s, office_id)
    local_today = cal.local_date(today)
    followups = len(fu_rows)
    followed_up = sum(1 for r in fu_rows if r.contacted_at is not None)
    rectified = sum(1 for r in fu_rows if r.feedback_at is not None)
    closed = sum(1 for r in fu_rows if r.state == FollowUpState.CLOSED)
    overdue = sum(1 for r in fu_rows if r.state != FollowUpState.CLOSED and r.due_date < local_today)
    total, active, defaults, good, bad = (int(v or 0) for v in row)
    served_n = int(served or 0)
    return Kpis(
        served=served_n,
        ratings=total,
        active_ratings=active,
        default_ratings=defaults,
        good=good,
        bad=bad,
        followups=followups,
        followed_up=followed_up,
        rectified=rectified,
        closed=closed,
        overdue_open=overdue,
        follow_up_rate=_rate(followed_up, followups),
        rectification_rate=_rate(rectified, followups),
        active_rating_rate=_rate(active, served_n),
        good_rate=_rate(good, total),
    )


def period_bounds(cal: WorkingCalendar, first: date, last: date) -> tuple[datetime, datetime]:
    """UTC instants bounding office-local days ``first``..``last`` inclusive."""
    return (
        local_instant(first, time(0), cal.zone),
        local_instant(last + timedelta(days=1), time(0), cal.zone),
    )
