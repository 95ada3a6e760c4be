"""What a display board (叫号屏) shows: calls in progress, recent calls, people waiting.

Numbers, windows and service names only; never a resident's name or ID.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from office.context import OfficeContext
from office.errors import ApiError
from office.models import Office, Service, Station, Ticket, TicketState
from office.queue.lifecycle import QUEUED_STATES
from office.queue.numbering import business_date

__all__ = ["BoardCall", "BoardSnapshot", "BoardWaiting", "snapshot"]

_CALLING = (TicketState.OFFERED, TicketState.RINGING)
_RECENT = 10


@dataclass(frozen=True, slots=True)
class BoardCall:
    """A number called to a video window."""

    ticket_id: int
    number: str
    window_no: int | None
    station_id: int | None
    state: str
    called_at: datetime | None
    service_name: str
    service_name_en: str


@dataclass(frozen=True, slots=True)
class BoardWaiting:
    """People waiting for one service."""

    service_id: int
    service_name: str
    service_name_en: str
    waiting: int


@dataclass(frozen=True, slots=True)
class BoardSnapshot:
    """The board's whole content for an office (or one of its stations)."""

    office_id: int
    office_name: str
    office_name_en: str
    station_id: int | None
    station_name: str
    current: list[BoardCall] = field(default_factory=list)
    recent: list[BoardCall] = field(default_factory=list)
    waiting_total: int = 0
    waiting: list[BoardWaiting] = field(default_factory=list)


def snapshot(ctx: OfficeContext, office_id: int, station_id: int | None = None) -> BoardSnapshot:
    """The board for ``office_id`` (optionally limited to one station's residents)."""
    now = ctx.clock.now()
    with ctx.read_db() as s:
        office = s.get(Office, office_id)
        if office is None:
            raise ApiError(404, "office_not_found", "no such office")
        station_name = ""
        if station_id is not None:
            st = s.get(Station, station_id)
            if st is None or st.office_id != office_id:
                raise ApiError(404, "station_not_found", "no such station in this office")
            station_name = st.name
        today = business_date(now, office.timezone)
        base = [Ticket.office_id == office_id]
        if station_id is not None:
            base.append(Ticket.station_id == station_id)
        services = {sv.id: sv for sv in s.scalars(select(Service))}

        def call(t: Ticket) -> BoardCall:
            sv = services.get(t.service_id)
            return BoardCall(
                t.id,
                t.display_number,
                t.window_no,
                t.station_id,
                t.state,
                t.called_at,
                sv.name if sv else "",
                sv.name_en if sv else "",
            )

        current = s.scalars(
            select(Ticket)
            .where(*base, Ticket.state.in_(_CALLING))
            .order_by(Ticket.called_at.desc())
            .limit(_RECENT)
        )
        recent = s.scalars(
            select(Ticket)
            .where(*base, Ticket.business_date == today, Ticket.called_at.is_not(None))
            .order_by(Ticket.called_at.desc(), Ticket.id.desc())
            .limit(_RECENT)
        )
        counts = s.execute(
            select(Ticket.service_id, func.count())
            .where(*base, Ticket.state.in_(QUEUED_STATES))
            .group_by(Ticket.service_id)
            .order_by(Ticket.service_id)
        ).all()
        waiting = [
            BoardWaiting(
                sid,
                services[sid].name if sid in services else "",
                services[sid].name_en if sid in services else "",
                n,
            )
            for sid, n in counts
        ]
        return BoardSnapshot(
            office_id=office.id,
            office_name=office.name,
            office_name_en=office.name_en,
            station_id=station_id,
            station_name=station_name,
            current=[call(t) for t in current],
            recent=[call(t) for t in recent],
            waiting_total=sum(w.waiting for w in waiting),
            waiting=waiting,
        )
