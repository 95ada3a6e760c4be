"""Keep live capacity rows in step with the rota and the hours after staff change them.

A ``slot_capacity`` row is created with the rota's capacity on the slot's first hold; when the rota,
the weekly plan or a date override changes later, :func:`resync_capacity` recomputes every future
row of the office under row locks: ``remaining = new capacity − places in use``. Nothing already
held or booked is taken away: when the new capacity is below what is in use, the row keeps
``capacity = in use`` with nothing remaining and is reported as over-committed, for staff to resolve.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from office.booking.schedules import load_calendar, load_rota
from office.context import OfficeContext
from office.models import Service, SlotCapacity

__all__ = ["ResyncReport", "resync_capacity"]


@dataclass(frozen=True, slots=True)
class ResyncReport:
    """Rows whose capacity changed, and rows now carrying more than the rota can serve."""

    updated: int
    overcommitted: int


def resync_capacity(ctx: OfficeContext, office_id: int) -> ResyncReport:
    """Recompute the capacity of the office's future slot rows from its current rota and hours."""
    now = ctx.clock.now()
    updated = over = 0
    with ctx.db() as s, s.begin():
        calendar = load_calendar(s, office_id)
        rota = load_rota(s, office_id, calendar)
        rows = list(
            s.scalars(
                select(SlotCapacity)
                .where(SlotCapacity.office_id == office_id, SlotCapacity.starts_at > now)
                .order_by(SlotCapacity.id)
                .with_for_update()
            )
        )
        skills: dict[int, str] = {}
        if rows:
            for sid, skill in s.execute(
                select(Service.id, Service.skill).where(Service.id.in_({r.service_id for r in rows}))
            ):
                skills[sid] = skill
        grid: dict[tuple[object, object], set[object]] = {}
        for row in rows:
            length = row.ends_at - row.starts_at
            day = calendar.local_date(row.starts_at)
            key = (day, length)
            if key not in grid:
                grid[key] = set(calendar.slot_starts(day, length))
            fresh = rota.capacity(skills.get(row.service_id, ""), day, row.starts_at, length)
            if row.starts_at not in grid[key]:
                fresh = 0
            in_use = row.capacity - row.remaining
            if fresh >= in_use:
                new_capacity, new_remaining = fresh, fresh - in_use
            else:
                new_capacity, new_remaining = in_use, 0
                over += 1
            if (new_capacity, new_remaining) != (row.capacity, row.remaining):
                row.capacity, row.remaining = new_capacity, new_remaining
                updated += 1
    return ResyncReport(updated, over)
