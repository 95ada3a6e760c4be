"""Overdue detection (限时办结): a background job stamps each late case once and alerts consoles.

A case is late when it is in progress or escalated and its due date is before the office-local
today. The job marks it (``overdue_at``, an ``overdue`` event) with a state-checked update, so
several office instances running the job at once alert once, then publishes ``case.overdue``
{case_id, number, due_date} to the office's live events.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from office.cases.lifecycle import DUE_STATES, case_next
from office.context import OfficeContext
from office.models import Case, CaseEvent, Office
from office.queue.numbering import business_date
from office.queue.txn import writing

__all__ = ["process_overdue"]


def process_overdue(ctx: OfficeContext) -> int:
    """Mark and announce newly overdue cases; the number announced."""
    now = ctx.clock.now()
    announced: list[tuple[int, dict[str, Any]]] = []
    with ctx.read_db() as s:
        zones: dict[int, str] = {
            row.id: row.timezone for row in s.execute(select(Office.id, Office.timezone))
        }
    for office_id, zone in zones.items():
        today = business_date(now, zone)
        with writing(ctx) as s:
            late = list(
                s.scalars(
                    select(Case).where(
                        Case.office_id == office_id,
                        Case.state.in_(DUE_STATES),
                        Case.due_date < today,
                        Case.overdue_at.is_(None),
                    )
                )
            )
            for case in late:
                case_next(case.state, "overdue")  # the table allows it in every due state
                hit = s.execute(
                    update(Case)
                    .where(Case.id == case.id, Case.overdue_at.is_(None), Case.version == case.version)
                    .values(overdue_at=now, version=case.version + 1)
                    .execution_options(synchronize_session=False)
                )
                if hit.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                assert case.due_date is not None
                s.add(
                    CaseEvent(
                        case_id=case.id,
                        at=now,
                        actor_id=None,
                        action="overdue",
                        from_state=case.state,
                        to_state=case.state,
                        detail={"due_date": case.due_date.isoformat()},
                    )
                )
                announced.append(
                    (
                        office_id,
                        {"case_id": case.id, "number": case.number, "due_date": case.due_date.isoformat()},
                    )
                )
    for office_id, payload in announced:
        ctx.events.publish(office_id, "case.overdue", payload)
    return len(announced)
