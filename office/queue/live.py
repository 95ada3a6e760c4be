"""Live queue events for consoles and boards: issued, called, ended, counts.

Published after the transaction commits; payloads carry ids, numbers, windows and counts, never a
resident's name or ID number.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from office.context import OfficeContext
from office.models import Ticket
from office.queue.lifecycle import QUEUED_STATES

__all__ = ["counts", "publish_change", "ticket_payload"]


def ticket_payload(t: Ticket) -> dict[str, Any]:
    """The public facts of a ticket."""
    return {
        "ticket_id": t.id,
        "number": t.display_number,
        "service_id": t.service_id,
        "station_id": t.station_id,
        "state": t.state,
        "window_no": t.window_no,
        "recall_count": t.recall_count,
    }


def counts(ctx: OfficeContext, office_id: int) -> dict[str, Any]:
    """Queued tickets of an office: total, per service, per station."""
    with ctx.read_db() as s:
        rows = s.execute(
            select(Ticket.service_id, Ticket.station_id, func.count())
            .where(Ticket.office_id == office_id, Ticket.state.in_(QUEUED_STATES))
            .group_by(Ticket.service_id, Ticket.station_id)
        ).all()
    by_service: dict[str, int] = {}
    by_station: dict[str, int] = {}
    for service_id, station_id, n in rows:
        by_service[str(service_id)] = by_service.get(str(service_id), 0) + n
        key = str(station_id) if station_id is not None else "staff"
        by_station[key] = by_station.get(key, 0) + n
    return {"waiting": sum(by_service.values()), "by_service": by_service, "by_station": by_station}


def publish_change(ctx: OfficeContext, office_id: int, topic: str, tickets: list[Ticket]) -> None:
    """Publish ``topic`` for each ticket, then the office's fresh counts."""
    for t in tickets:
        ctx.events.publish(office_id, topic, ticket_payload(t))
    local_only = ctx.settings.bus_url.startswith("memory://")
    if local_only and ctx.events.subscriber_count == 0:
        return  # nobody can receive counts: skip the query
    ctx.events.publish(office_id, "queue.counts", counts(ctx, office_id))
