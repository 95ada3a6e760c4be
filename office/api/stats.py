"""Statistics API for the supervisor dashboard: the live office, figures over office-local days,
and a CSV export of every table. Supervisors see their own office; administrators name one.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import select

from office.api.common import PrefixRouter
from office.auth import Allow, Principal, ctx_of
from office.calls.signals import kiosk_party, run_on_hub
from office.context import OfficeContext
from office.errors import ApiError
from office.models import Office, Role, Service, Station, User
from office.queue.numbering import business_date
from office.stats import Period, daily, live, period
from office.stats.tables import to_csv
from signaling.messages import Role as PartyRole

__all__ = ["router"]

router = PrefixRouter(prefix="/api/stats", tags=["statistics"])

Supervisors = Annotated[Principal, Depends(Allow(Role.SUPERVISOR, Role.ADMIN))]
OfficeQuery = Annotated[int | None, Query(ge=1, le=2**31 - 1, description="administrators: the office")]
TargetQuery = Annotated[
    int | None,
    Query(
        ge=1, le=240, description="one target wait in minutes for every service (default: each service's own)"
    ),
]


# --- models ---------------------------------------------------------------------------------------


class FiguresOut(BaseModel):
    """The period's figures for the office, a station or a service (rates are fractions 0…1)."""

    key: int | None
    name: str
    name_en: str
    issued: int
    served: int
    completed: int
    no_show: int
    abandoned: int
    unserved_at_close: int
    ended: int
    within_target: int
    no_show_rate: float | None
    abandonment_rate: float | None
    within_target_rate: float | None
    wait_mean_s: float | None
    wait_p90_s: float | None
    handling_mean_s: float | None
    handling_p90_s: float | None
    ratings: int
    default_ratings: int
    good_ratings: int
    bad_ratings: int
    good_rate: float | None
    mean_level: float | None
    active_rating_rate: float | None


class AgentFiguresOut(BaseModel):
    """One agent's period."""

    agent_id: int
    name: str
    served: int
    completed: int
    handling_mean_s: float | None
    handling_p90_s: float | None
    ratings: int
    good_rate: float | None
    mean_level: float | None


class HourOut(BaseModel):
    """Tickets whose first serve started in this office-local hour."""

    hour: int
    served: int


class WaitBinOut(BaseModel):
    """Served tickets with ``low_min`` ≤ wait < ``high_min`` (null: no upper bound)."""

    low_min: int
    high_min: int | None
    count: int


class TrendOut(BaseModel):
    """One day: served tickets and their ratings."""

    day: date
    served: int
    ratings: int
    good_ratings: int
    bad_ratings: int
    good_rate: float | None
    mean_level: float | None


class AccuracyOut(BaseModel):
    """Wait-estimate accuracy: predicted at issue vs actual issue → first call."""

    samples: int
    mae_s: float | None
    p90_error_s: float | None
    mean_wait_s: float | None


class PeriodOut(BaseModel):
    """Every period table of the dashboard."""

    office_id: int
    timezone: str
    first_day: date
    last_day: date
    #: The target wait given for every service; null: each service's own ``target_wait_min``.
    target_wait_min: int | None
    summary: FiguresOut
    stations: list[FiguresOut]
    services: list[FiguresOut]
    agents: list[AgentFiguresOut]
    hourly: list[HourOut]
    wait_distribution: list[WaitBinOut]
    trend: list[TrendOut]
    accuracy: AccuracyOut


class LiveStationOut(BaseModel):
    """A station now."""

    station_id: int
    code: str
    name: str
    name_en: str
    waiting: int
    longest_wait_s: float | None
    kiosks: int
    kiosks_online: int


class LiveAgentOut(BaseModel):
    """An agent now."""

    agent_id: int
    name: str
    state: str
    since: datetime
    window_no: int
    current_ticket_id: int | None


class LiveCallOut(BaseModel):
    """A call in progress."""

    call_id: str
    station_id: int
    agent_id: int
    ticket_id: int
    state: str
    created_at: datetime
    connected_at: datetime | None


class LiveOut(BaseModel):
    """The office now."""

    office_id: int
    at: datetime
    waiting: int
    longest_wait_s: float | None
    kiosks: int
    kiosks_online: int
    agent_states: dict[str, int]
    stations: list[LiveStationOut]
    agents: list[LiveAgentOut]
    calls: list[LiveCallOut]


class Table(StrEnum):
    """The tables the CSV export offers."""

    LIVE_STATIONS = "live-stations"
    LIVE_AGENTS = "live-agents"
    LIVE_CALLS = "live-calls"
    SUMMARY = "summary"
    STATIONS = "stations"
    SERVICES = "services"
    AGENTS = "agents"
    HOURLY = "hourly"
    WAIT_DISTRIBUTION = "wait-distribution"
    TREND = "trend"


# --- helpers --------------------------------------------------------------------------------------


def _office_for(p: Principal, office_id: int | None) -> int:
    u = p.require_user()
    if u.role is Role.ADMIN:
        if office_id is None:
            raise ApiError(422, "office_id_required", "administrators name the office (?office_id=)")
        return office_id
    if u.office_id is None:
        raise ApiError(403, "no_office", "your account belongs to no office")
    if office_id is not None and office_id != u.office_id:
        raise ApiError(403, "forbidden", "supervisors only see their own office")
    return u.office_id


def _zone(ctx: OfficeContext, office_id: int) -> str:
    with ctx.read_db() as s:
        office = s.get(Office, office_id)
        if office is None:
            raise ApiError(404, "office_not_found", "no such office")
        return office.timezone


def _period(ctx: OfficeContext, zone: str, first_day: date | None, last_day: date | None) -> Period:
    last = last_day or business_date(ctx.clock.now(), zone)
    try:
        return Period(first_day or last, last, zone)
    except ValueError as err:
        raise ApiError(422, "bad_period", str(err)) from None


def _figures_out(f: period.Figures, names: dict[int, tuple[str, str]]) -> FiguresOut:
    name, name_en = names.get(f.key, ("", "")) if f.key is not None else ("", "")
    sat = f.satisfaction
    return FiguresOut(
        key=f.key,
        name=name,
        name_en=name_en,
        issued=f.issued,
        served=f.served,
        completed=f.completed,
        no_show=f.no_show,
        abandoned=f.abandoned,
        unserved_at_close=f.unserved_at_close,
        ended=f.ended,
        within_target=f.within_target,
        no_show_rate=f.no_show_rate,
        abandonment_rate=f.abandonment_rate,
        within_target_rate=f.within_target_rate,
        wait_mean_s=f.wait_mean_s,
        wait_p90_s=f.wait_p90_s,
        handling_mean_s=f.handling_mean_s,
        handling_p90_s=f.handling_p90_s,
        ratings=sat.ratings,
        default_ratings=sat.defaults,
        good_ratings=sat.good,
        bad_ratings=sat.bad,
        good_rate=sat.good_rate,
        mean_level=sat.mean_level,
        active_rating_rate=f.active_rating_rate,
    )


def _period_out(ctx: OfficeContext, office_id: int, p: Period, target_min: int | None) -> PeriodOut:
    target_s = target_min * 60.0 if target_min is not None else None
    with ctx.read_db() as s:
        stations = {
            r.id: (r.name, r.name_en) for r in s.execute(select(Station.id, Station.name, Station.name_en))
        }
        services = {
            r.id: (r.name, r.name_en) for r in s.execute(select(Service.id, Service.name, Service.name_en))
        }
        (summary,) = daily.figures(s, office_id, p, target_s)
        by_station = daily.figures(s, office_id, p, target_s, by="station")
        by_service = daily.figures(s, office_id, p, target_s, by="service")
        agents = daily.agent_figures(s, office_id, p)
        names = dict(
            s.execute(
                select(User.id, User.display_name).where(User.id.in_([a.agent_id for a in agents]))
            ).all()
        )
        hourly = daily.served_per_hour(s, office_id, p)
        bins = daily.wait_distribution(s, office_id, p)
        trend = daily.satisfaction_trend(s, office_id, p)
        acc = daily.wait_accuracy(s, office_id, p)
    return PeriodOut(
        office_id=office_id,
        timezone=p.zone,
        first_day=p.first_day,
        last_day=p.last_day,
        target_wait_min=target_min,
        summary=_figures_out(summary, {}),
        stations=[_figures_out(f, stations) for f in by_station],
        services=[_figures_out(f, services) for f in by_service],
        agents=[
            AgentFiguresOut(
                agent_id=a.agent_id,
                name=names.get(a.agent_id, ""),
                served=a.served,
                completed=a.completed,
                handling_mean_s=a.handling_mean_s,
                handling_p90_s=a.handling_p90_s,
                ratings=a.satisfaction.ratings,
                good_rate=a.satisfaction.good_rate,
                mean_level=a.satisfaction.mean_level,
            )
            for a in agents
        ],
        hourly=[HourOut(hour=h.hour, served=h.served) for h in hourly],
        wait_distribution=[WaitBinOut(low_min=b.low_min, high_min=b.high_min, count=b.count) for b in bins],
        trend=[
            TrendOut(
                day=t.day,
                served=t.served,
                ratings=t.satisfaction.ratings,
                good_ratings=t.satisfaction.good,
                bad_ratings=t.satisfaction.bad,
                good_rate=t.satisfaction.good_rate,
                mean_level=t.satisfaction.mean_level,
            )
            for t in trend
        ],
        accuracy=AccuracyOut(
            samples=acc.samples, mae_s=acc.mae_s, p90_error_s=acc.p90_error_s, mean_wait_s=acc.mean_wait_s
        ),
    )


def _online_kiosks(ctx: OfficeContext) -> set[int]:
    if ctx.hub is None:
        return set()
    online = run_on_hub(ctx, ctx.hub.presence.online(PartyRole.KIOSK)) or set()
    prefix = kiosk_party(0).id[:-1]
    return {
        int(pid[len(prefix) :]) for pid in online if pid.startswith(prefix) and pid[len(prefix) :].isdigit()
    }


def _live_out(ctx: OfficeContext, office_id: int) -> LiveOut:
    now = ctx.clock.now()
    online = _online_kiosks(ctx)
    with ctx.read_db() as s:
        if s.get(Office, office_id) is None:
            raise ApiError(404, "office_not_found", "no such office")
        sts = live.stations(s, office_id, now, online)
        ags = live.agents(s, office_id)
        cls = live.calls(s, office_id)
    waits = [st.longest_wait_s for st in sts if st.longest_wait_s is not None]
    return LiveOut(
        office_id=office_id,
        at=now,
        waiting=sum(st.waiting for st in sts),
        longest_wait_s=max(waits) if waits else None,
        kiosks=sum(st.kiosks for st in sts),
        kiosks_online=sum(st.kiosks_online for st in sts),
        agent_states=live.agent_counts(ags),
        stations=[LiveStationOut(**_fields(st)) for st in sts],
        agents=[LiveAgentOut(**_fields(a)) for a in ags],
        calls=[LiveCallOut(**_fields(c)) for c in cls],
    )


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}


# --- routes ---------------------------------------------------------------------------------------

_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "another office"},
    404: {"description": "no such office"},
}


@router.get(
    "/live",
    response_model=LiveOut,
    summary="The office now: stations, agents by state, calls",
    responses=_ERRORS,
)
def get_live(request: Request, p: Supervisors, office_id: OfficeQuery = None) -> LiveOut:
    ctx = ctx_of(request)
    return _live_out(ctx, _office_for(p, office_id))


@router.get(
    "/period",
    response_model=PeriodOut,
    summary="Figures over office-local days (default today): summary, by station/service/agent, charts",
    responses={**_ERRORS, 422: {"description": "bad period"}},
)
def get_period(
    request: Request,
    p: Supervisors,
    office_id: OfficeQuery = None,
    first_day: date | None = None,
    last_day: date | None = None,
    target_wait_min: TargetQuery = None,
) -> PeriodOut:
    ctx = ctx_of(request)
    oid = _office_for(p, office_id)
    zone = _zone(ctx, oid)
    return _period_out(ctx, oid, _period(ctx, zone, first_day, last_day), target_wait_min)


def _rows(
    table: Table, ctx: OfficeContext, oid: int, per: Period | None, target: int | None
) -> list[dict[str, Any]]:
    if table in (Table.LIVE_STATIONS, Table.LIVE_AGENTS, Table.LIVE_CALLS):
        lv = _live_out(ctx, oid)
        items: list[BaseModel] = {
            Table.LIVE_STATIONS: lv.stations,
            Table.LIVE_AGENTS: lv.agents,
            Table.LIVE_CALLS: lv.calls,
        }[table]  # type: ignore[assignment]
        return [i.model_dump() for i in items]
    assert per is not None
    out = _period_out(ctx, oid, per, target)
    chosen: list[BaseModel] = {
        Table.SUMMARY: [out.summary],
        Table.STATIONS: out.stations,
        Table.SERVICES: out.services,
        Table.AGENTS: out.agents,
        Table.HOURLY: out.hourly,
        Table.WAIT_DISTRIBUTION: out.wait_distribution,
        Table.TREND: out.trend,
    }[table]  # type: ignore[assignment]
    return [i.model_dump() for i in chosen]


_COLUMNS: dict[Table, type[BaseModel]] = {
    Table.LIVE_STATIONS: LiveStationOut,
    Table.LIVE_AGENTS: LiveAgentOut,
    Table.LIVE_CALLS: LiveCallOut,
    Table.SUMMARY: FiguresOut,
    Table.STATIONS: FiguresOut,
    Table.SERVICES: FiguresOut,
    Table.AGENTS: AgentFiguresOut,
    Table.HOURLY: HourOut,
    Table.WAIT_DISTRIBUTION: WaitBinOut,
    Table.TREND: TrendOut,
}


@router.get(
    "/export/{table}.csv",
    summary="One dashboard table as CSV (same query parameters as /period)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **_ERRORS, 422: {"description": "bad period"}},
)
def export_csv(
    table: Table,
    request: Request,
    p: Supervisors,
    office_id: OfficeQuery = None,
    first_day: date | None = None,
    last_day: date | None = None,
    target_wait_min: TargetQuery = None,
) -> Response:
    ctx = ctx_of(request)
    oid = _office_for(p, office_id)
    zone = _zone(ctx, oid)
    per = _period(ctx, zone, first_day, last_day)
    rows = _rows(table, ctx, oid, per, target_wait_min)
    body = to_csv(list(_COLUMNS[table].model_fields), rows)
    name = f"{table.value}-{per.first_day.isoformat()}-{per.last_day.isoformat()}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
