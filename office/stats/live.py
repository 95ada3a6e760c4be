"""The office right now: every station's queue and kiosks, agents by state, calls in progress.

Kiosk presence comes from the signaling hub (the caller passes the set of online kiosk ids, see
:func:`office.calls.signals.run_on_hub` and ``/api/calls/kiosks-online``), everything else from the
database in three queries whatever the number of stations.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from office.calls.lifecycle import LIVE_STATES
from office.models import AgentState, AgentStatus, Call, Kiosk, Station, Ticket, User
from office.queue.lifecycle import QUEUED_STATES

__all__ = ["LiveAgent", "LiveCall", "LiveStation", "agent_counts", "agents", "calls", "stations"]


@dataclass(frozen=True, slots=True)
class LiveStation:
    """A station's queue and kiosks now."""

    station_id: int
    code: str
    name: str
    name_en: str
    waiting: int
    longest_wait_s: float | None
    kiosks: int
    kiosks_online: int


@dataclass(frozen=True, slots=True)
class LiveAgent:
    """An agent's queue state now."""

    agent_id: int
    name: str
    state: str
    since: datetime
    window_no: int
    current_ticket_id: int | None


@dataclass(frozen=True, slots=True)
class LiveCall:
    """A call not yet ended."""

    call_id: str
    station_id: int
    agent_id: int
    ticket_id: int
    state: str
    created_at: datetime
    connected_at: datetime | None


def stations(s: Session, office_id: int, now: datetime, online_kiosks: Collection[int]) -> list[LiveStation]:
    """Every station of the office: tickets waiting, the longest wait so far, kiosks (online)."""
    queued = [st.value for st in QUEUED_STATES]
    waiting = {
        row.station_id: (row.n, row.oldest)
        for row in s.execute(
            select(Ticket.station_id, func.count().label("n"), func.min(Ticket.issued_at).label("oldest"))
            .where(Ticket.office_id == office_id, Ticket.state.in_(queued))
            .group_by(Ticket.station_id)
        )
    }
    kiosks: dict[int, list[int]] = {}
    for kid, sid in s.execute(
        select(Kiosk.id, Kiosk.station_id)
        .join(Station, Station.id == Kiosk.station_id)
        .where(Station.office_id == office_id, Kiosk.revoked_at.is_(None))
    ):
        kiosks.setdefault(sid, []).append(kid)
    online = set(online_kiosks)
    out = []
    for st in s.execute(
        select(Station.id, Station.code, Station.name, Station.name_en)
        .where(Station.office_id == office_id)
        .order_by(Station.code, Station.id)
    ):
        n, oldest = waiting.get(st.id, (0, None))
        oldest_at = _aware(oldest)
        ks = kiosks.get(st.id, [])
        out.append(
            LiveStation(
                station_id=st.id,
                code=st.code,
                name=st.name,
                name_en=st.name_en,
                waiting=int(n),
                longest_wait_s=(now - oldest_at).total_seconds() if oldest_at else None,
                kiosks=len(ks),
                kiosks_online=sum(1 for k in ks if k in online),
            )
        )
    return out


def _aware(value: datetime | str | None) -> datetime | None:
    """MIN() over a stored instant loses the column type on SQLite: parse it back to aware UTC."""
    if value is None:
        return None

    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def agents(s: Session, office_id: int) -> list[LiveAgent]:
    """Every agent with a queue state in the office (offline included), by state then name."""
    rows = s.execute(
        select(AgentState, User.display_name)
        .join(User, User.id == AgentState.user_id)
        .where(AgentState.office_id == office_id)
        .order_by(AgentState.state, User.display_name, User.id)
    ).all()
    return [
        LiveAgent(
            agent_id=a.user_id,
            name=name,
            state=a.state,
            since=a.since,
            window_no=a.window_no,
            current_ticket_id=a.current_ticket_id,
        )
        for a, name in rows
    ]


def agent_counts(live: list[LiveAgent]) -> dict[str, int]:
    """Agents per state (every state present, zeros included)."""
    counts = {st.value: 0 for st in AgentStatus}
    for a in live:
        counts[a.state] = counts.get(a.state, 0) + 1
    return counts


def calls(s: Session, office_id: int) -> list[LiveCall]:
    """Calls of the office that have not ended, oldest first."""
    live = [st.value for st in LIVE_STATES]
    return [
        LiveCall(
            call_id=c.id,
            station_id=c.station_id,
            agent_id=c.agent_id,
            ticket_id=c.ticket_id,
            state=c.state,
            created_at=c.created_at,
            connected_at=c.connected_at,
        )
        for c in s.scalars(
            select(Call)
            .where(and_(Call.office_id == office_id, Call.state.in_(live)))
            .order_by(Call.created_at)
        )
    ]
