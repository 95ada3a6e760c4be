"""Read side of the queue: one ticket's status with its estimate, the office's queued list, stats."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Engine, func, select

from office.context import OfficeContext
from office.models import Service, ServiceRevision, Ticket
from office.queue.config import load_config
from office.queue.estimate import Accuracy, Estimate, ServiceTimes, accuracy, estimate_ticket
from office.queue.lifecycle import QUEUED_STATES
from office.queue.ordering import sort_key

__all__ = ["QueueStats", "TicketStatus", "queued_list", "service_names", "stats", "ticket_status"]


@dataclass(frozen=True, slots=True)
class TicketStatus:
    """A ticket and, while it is queued, its estimate."""

    ticket: Ticket
    service_name: str
    service_name_en: str
    estimate: Estimate | None


#: (service id, version) → (name, English name), per engine. Revisions are immutable, so entries
#: never go stale; the bound only caps memory.
_names: weakref.WeakKeyDictionary[Engine, dict[tuple[int, int], tuple[str, str]]] = (
    weakref.WeakKeyDictionary()
)
_NAMES_MAX = 4096


def service_names(ctx: OfficeContext, service_id: int, version: int) -> tuple[str, str]:
    """The service's names as of ``version`` (what the ticket was issued under)."""
    cache = _names.setdefault(ctx.engine, {})
    key = (service_id, version)
    found = cache.get(key)
    if found is None:
        with ctx.read_db() as s:
            snap = s.scalar(
                select(ServiceRevision.snapshot).where(
                    ServiceRevision.service_id == service_id, ServiceRevision.version == version
                )
            )
            if snap is None:  # no revision row (data created outside the catalog): current names
                svc = s.get(Service, service_id)
                snap = {"name": svc.name, "name_en": svc.name_en} if svc else {"name": "", "name_en": ""}
        found = (str(snap.get("name", "")), str(snap.get("name_en", "")))
        if len(cache) >= _NAMES_MAX:
            cache.clear()
        cache[key] = found
    return found


def ticket_status(ctx: OfficeContext, ticket: Ticket, estimate: Estimate | None = None) -> TicketStatus:
    """The status of ``ticket`` now (``estimate``: one just computed, to reuse)."""
    est = estimate
    if est is None and ticket.state in QUEUED_STATES:
        with ctx.read_db() as s:
            est = estimate_ticket(s, ticket, load_config(s, ticket.office_id), ctx.clock.now())
    name, name_en = service_names(ctx, ticket.service_id, ticket.service_version)
    return TicketStatus(ticket, name, name_en, est)


def queued_list(ctx: OfficeContext, office_id: int, *, estimates: bool = True) -> list[TicketStatus]:
    """Queued tickets of an office in call order, each with its estimate (``estimates=False``: without,
    one query instead of one per ticket, for the consoles' queue panel)."""
    now = ctx.clock.now()
    with ctx.read_db() as s:
        cfg = load_config(s, office_id)
        tickets = list(
            s.scalars(select(Ticket).where(Ticket.office_id == office_id, Ticket.state.in_(QUEUED_STATES)))
        )
        tickets.sort(key=lambda t: sort_key(t, now, cfg.max_wait_bound_min))
        names = {
            sv.id: sv
            for sv in s.scalars(select(Service).where(Service.id.in_({t.service_id for t in tickets})))
        }
        times = ServiceTimes(s, cfg)
        out = []
        for t in tickets:
            sv = names.get(t.service_id)
            estimate = estimate_ticket(s, t, cfg, now, times) if estimates else None
            out.append(TicketStatus(t, sv.name if sv else "", sv.name_en if sv else "", estimate))
    return out


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Counts by state and the accuracy of wait predictions over a period."""

    office_id: int
    first_day: date
    last_day: date
    by_state: dict[str, int]
    accuracy: Accuracy
    computed_at: datetime


def stats(ctx: OfficeContext, office_id: int, first_day: date, last_day: date) -> QueueStats:
    """Ticket counts by state and prediction accuracy (MAE, p90) for business days in the period."""
    with ctx.read_db() as s:
        rows = s.execute(
            select(Ticket.state, func.count())
            .where(
                Ticket.office_id == office_id,
                Ticket.business_date >= first_day,
                Ticket.business_date <= last_day,
            )
            .group_by(Ticket.state)
        ).all()
        acc = accuracy(s, office_id, first_day, last_day)
    return QueueStats(office_id, first_day, last_day, dict(rows), acc, ctx.clock.now())
