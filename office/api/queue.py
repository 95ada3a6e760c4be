"""Queue API: kiosks take numbers and follow them; agents call, serve and end; staff manage intake.

Record-level access: kiosks act only on their own station's tickets; staff only on their office's
(administrators on any, naming the office). No response carries a resident's ID number or name.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Path, Query, Request, Response
from pydantic import BaseModel, Field

from office import audit
from office.api.common import OfficeStaff, PrefixRouter, StrictModel
from office.auth import Allow, Principal, ctx_of
from office.context import OfficeContext
from office.errors import ApiError
from office.models import AgentStatus, Office, QueueSettings, Role, Station, Ticket, User
from office.queue import actions, agents, calling, status
from office.queue.actions import Caller, Placement
from office.queue.config import QueueConfig, load_config
from office.queue.issue import IssueRequest, issue_ticket
from office.queue.numbering import business_date

__all__ = ["router"]

router = PrefixRouter(prefix="/api/queue", tags=["queue"])

#: Identifiers are INTEGER columns: larger values are refused with 422 before reaching the database.
MAX_DB_ID = 2**31 - 1
DbId = Annotated[int, Path(ge=1, le=MAX_DB_ID)]

KioskOrStaff = Annotated[Principal, Depends(Allow(Role.AGENT, Role.SUPERVISOR, Role.ADMIN, kiosk=True))]
Agents = Annotated[Principal, Depends(Allow(Role.AGENT, Role.SUPERVISOR))]
Supervisors = Annotated[Principal, Depends(Allow(Role.SUPERVISOR, Role.ADMIN))]

_TICKET_404: dict[int | str, dict[str, Any]] = {404: {"description": "no such ticket (or not yours)"}}
_STEP: dict[int | str, dict[str, Any]] = {
    **_TICKET_404,
    403: {"description": "not your ticket"},
    409: {"description": "illegal transition"},
}


# --- models ---------------------------------------------------------------------------------------


class TicketIssue(StrictModel):
    """Take a number. ``id_number`` binds it to the resident (stored hashed and encrypted only)."""

    service_id: int = Field(ge=1, le=MAX_DB_ID)
    id_number: str | None = Field(default=None, min_length=15, max_length=20)
    #: Staff only: grant statutory priority with this reason code (e.g. ``disability``).
    priority_reason: str = Field(default="", max_length=30, pattern=r"^[a-z_]*$")
    #: Staff only: the station the resident is at.
    station_id: int | None = Field(default=None, ge=1, le=MAX_DB_ID)


class EstimateOut(BaseModel):
    """Where a queued ticket stands; the wait as a range of minutes."""

    position: int
    expected_s: int
    low_min: int
    high_min: int
    agents_online: int


class TicketOut(BaseModel):
    """A ticket as kiosks and consoles see it (no personal data)."""

    id: int
    number: str
    office_id: int
    station_id: int | None
    service_id: int
    service_version: int
    service_name: str
    service_name_en: str
    state: str
    priority: int
    priority_basis: str
    resident_bound: bool
    agent_id: int | None
    window_no: int | None
    recall_count: int
    issued_at: datetime
    called_at: datetime | None
    served_at: datetime | None
    ended_at: datetime | None
    ended_by: str
    end_reason: str
    estimate: EstimateOut | None


class CallOut(BaseModel):
    """The result of call-next: the ticket offered, or null when nobody is waiting for you."""

    ticket: TicketOut | None


class CallSpecific(StrictModel):
    """Call one ticket out of order; the reason is logged."""

    reason: str = Field(min_length=2, max_length=200)


class Reason(StrictModel):
    """An optional reason."""

    reason: str = Field(default="", max_length=200)


class TransferIn(StrictModel):
    """Transfer to another service and/or a named agent."""

    service_id: int | None = Field(default=None, ge=1, le=MAX_DB_ID)
    agent_id: int | None = Field(default=None, ge=1, le=MAX_DB_ID)
    placement: Placement = Placement.AGE
    reason: str = Field(default="", max_length=200)


class PriorityIn(StrictModel):
    """Grant statutory priority (reason code such as ``disability`` or ``pregnancy``)."""

    reason_code: str = Field(min_length=2, max_length=30, pattern=r"^[a-z_]+$")


class AgentStateIn(StrictModel):
    """Set your own queue state."""

    state: AgentStatus
    reason: str = Field(default="", max_length=100)
    window_no: int | None = Field(default=None, ge=1, le=999)


class AgentOut(BaseModel):
    """An agent's queue state."""

    user_id: int
    display_name: str
    office_id: int
    state: str
    pause_reason: str
    since: datetime
    window_no: int
    current_ticket_id: int | None
    skills: list[str]


class SkillsIn(StrictModel):
    """An agent's skills; empty = generalist (全科)."""

    skills: list[Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$")]] = Field(
        max_length=20
    )


class QueueSettingsIO(StrictModel):
    """An office's queue switches and tunables."""

    accepting_tickets: bool = True
    closed_reason: str = Field(default="", max_length=200)
    ring_timeout_s: int = Field(default=20, ge=5, le=300)
    max_recalls: int = Field(default=2, ge=0, le=5)
    rejoin_window_min: int = Field(default=30, ge=0, le=24 * 60)
    max_wait_bound_min: int = Field(default=45, ge=1, le=24 * 60)
    estimate_window: int = Field(default=30, ge=1, le=500)
    estimate_min_samples: int = Field(default=10, ge=1, le=500)
    ring_overhead_s: int = Field(default=30, ge=0, le=600)


class AccuracyOut(BaseModel):
    """Predicted vs actual wait."""

    samples: int
    mae_s: float | None
    p90_error_s: float | None
    mean_wait_s: float | None


class StatsOut(BaseModel):
    """Counts by state and prediction accuracy over business days."""

    office_id: int
    first_day: date
    last_day: date
    by_state: dict[str, int]
    accuracy: AccuracyOut


# --- helpers --------------------------------------------------------------------------------------


def _caller(p: Principal) -> Caller:
    if p.kiosk is not None:
        return Caller(p.actor, office_id=p.kiosk.office_id, station_id=p.kiosk.station_id)
    u = p.require_user()
    office_id = None if u.role is Role.ADMIN else u.office_id
    if office_id is None and u.role is not Role.ADMIN:
        raise ApiError(403, "no_office", "your account belongs to no office")
    return Caller(p.actor, user_id=u.id, supervisor=u.role is Role.SUPERVISOR, office_id=office_id)


def _office_for(p: Principal, office_id: int | None) -> int:
    """The office a staff request acts on: the user's own, or (admins) the one named."""
    u = p.require_user()
    if u.role is Role.ADMIN:
        if office_id is None:
            raise ApiError(422, "office_id_required", "administrators name the office (?office_id=)")
        return office_id
    if u.office_id is None:
        raise ApiError(403, "no_office", "your account belongs to no office")
    if office_id is not None and office_id != u.office_id:
        raise ApiError(403, "forbidden", "staff only see their own office")
    return u.office_id


def _out(st: status.TicketStatus) -> TicketOut:
    t, e = st.ticket, st.estimate
    return TicketOut(
        id=t.id,
        number=t.display_number,
        office_id=t.office_id,
        station_id=t.station_id,
        service_id=t.service_id,
        service_version=t.service_version,
        service_name=st.service_name,
        service_name_en=st.service_name_en,
        state=t.state,
        priority=t.priority,
        priority_basis=t.priority_basis,
        resident_bound=t.resident_hash is not None,
        agent_id=t.agent_id,
        window_no=t.window_no,
        recall_count=t.recall_count,
        issued_at=t.issued_at,
        called_at=t.called_at,
        served_at=t.served_at,
        ended_at=t.ended_at,
        ended_by=t.ended_by,
        end_reason=t.end_reason,
        estimate=EstimateOut(
            position=e.position,
            expected_s=e.expected_s,
            low_min=e.low_min,
            high_min=e.high_min,
            agents_online=e.agents_online,
        )
        if e
        else None,
    )


def _ticket_out(ctx: OfficeContext, t: Ticket) -> TicketOut:
    return _out(status.ticket_status(ctx, t))


# --- kiosks and staff: numbers --------------------------------------------------------------------


@router.post(
    "/tickets",
    response_model=TicketOut,
    status_code=201,
    summary="Take a number (kiosk or staff); Idempotency-Key honoured; one active ticket per resident",
    responses={
        200: {"description": "an existing ticket (same key, or same resident and service)"},
        404: {"description": "unknown service"},
        409: {"description": "office closed, service not offered"},
        422: {"description": "invalid input or ID number"},
    },
)
def issue(
    body: TicketIssue,
    request: Request,
    response: Response,
    p: KioskOrStaff,
    idempotency_key: str | None = Header(default=None, min_length=8, max_length=100),
) -> TicketOut:
    ctx = ctx_of(request)
    if p.kiosk is not None:
        if body.priority_reason or body.station_id is not None:
            raise ApiError(403, "forbidden", "kiosks cannot set priority or station")
        req = IssueRequest(
            office_id=p.kiosk.office_id,
            station_id=p.kiosk.station_id,
            kiosk_id=p.kiosk.id,
            service_id=body.service_id,
            id_number=body.id_number,
            idempotency_key=idempotency_key,
        )
    else:
        user = p.require_user()
        if user.office_id is None:
            raise ApiError(403, "no_office", "issue numbers from an office account")
        if body.station_id is not None:
            with ctx.read_db() as s:
                st = s.get(Station, body.station_id)
            if st is None or st.office_id != user.office_id:
                raise ApiError(404, "station_not_found", "no such station in your office")
        req = IssueRequest(
            office_id=user.office_id,
            station_id=body.station_id,
            user_id=user.id,
            service_id=body.service_id,
            id_number=body.id_number,
            staff_priority=body.priority_reason,
            idempotency_key=idempotency_key,
        )
    issued = issue_ticket(ctx, req, p.actor)
    out = _out(status.ticket_status(ctx, issued.ticket, issued.estimate))
    if not issued.created:
        response.status_code = 200
    return out


@router.get(
    "/tickets/{ticket_id}", response_model=TicketOut, summary="A ticket's status", responses=_TICKET_404
)
def get_ticket(ticket_id: DbId, request: Request, p: KioskOrStaff) -> TicketOut:
    ctx = ctx_of(request)
    caller = _caller(p)
    with ctx.read_db() as s:
        t = s.get(Ticket, ticket_id)
    if (
        t is None
        or (caller.station_id is not None and t.station_id != caller.station_id)
        or (caller.office_id is not None and t.office_id != caller.office_id)
    ):
        raise ApiError(404, "ticket_not_found", "no such ticket")
    return _ticket_out(ctx, t)


@router.post(
    "/tickets/{ticket_id}/leave", response_model=TicketOut, summary="Leave the queue", responses=_STEP
)
def leave(ticket_id: DbId, body: Reason, request: Request, p: KioskOrStaff) -> TicketOut:
    ctx = ctx_of(request)
    return _ticket_out(ctx, actions.leave(ctx, ticket_id, _caller(p), body.reason))


@router.post(
    "/tickets/{ticket_id}/rejoin",
    response_model=TicketOut,
    summary="A missed resident rejoins (within the office's window)",
    responses=_STEP,
)
def rejoin(ticket_id: DbId, request: Request, p: KioskOrStaff) -> TicketOut:
    ctx = ctx_of(request)
    return _ticket_out(ctx, actions.rejoin(ctx, ticket_id, _caller(p)))


@router.get("/tickets", response_model=list[TicketOut], summary="Queued tickets in call order")
def list_queued(
    request: Request,
    p: OfficeStaff,
    office_id: int | None = Query(default=None, ge=1, le=MAX_DB_ID),
    estimates: bool = Query(
        default=True, description="false: no per-ticket estimate (fast, for queue panels)"
    ),
) -> list[TicketOut]:
    ctx = ctx_of(request)
    return [_out(st) for st in status.queued_list(ctx, _office_for(p, office_id), estimates=estimates)]


@router.put(
    "/tickets/{ticket_id}/priority",
    response_model=TicketOut,
    summary="Grant statutory priority (audited)",
    responses=_STEP,
)
def set_priority(ticket_id: DbId, body: PriorityIn, request: Request, p: OfficeStaff) -> TicketOut:
    ctx = ctx_of(request)
    return _ticket_out(ctx, actions.set_staff_priority(ctx, ticket_id, _caller(p), body.reason_code))


# --- agents: calling and serving ------------------------------------------------------------------


@router.post(
    "/call-next",
    response_model=CallOut,
    summary="Offer me the next ticket I may take",
    responses={409: {"description": "you are not available"}},
)
async def call_next(request: Request, p: Agents) -> CallOut:
    # On the event loop: presses arriving together are claimed in one batch in a worker thread.
    ctx = ctx_of(request)
    user = p.require_user()
    t = await calling.call_next_async(ctx, user.id, _office_for(p, None))
    return CallOut(ticket=_ticket_out(ctx, t) if t else None)


@router.post(
    "/tickets/{ticket_id}/call",
    response_model=TicketOut,
    summary="Call one ticket out of order (reason logged)",
    responses=_STEP,
)
def call_specific(ticket_id: DbId, body: CallSpecific, request: Request, p: Agents) -> TicketOut:
    ctx = ctx_of(request)
    return _ticket_out(ctx, calling.call_ticket(ctx, p.require_user().id, ticket_id, body.reason, p.actor))


def _agent_step(event: str, summary: str) -> None:
    def handler(ticket_id: DbId, body: Reason, request: Request, p: Agents) -> TicketOut:
        ctx = ctx_of(request)
        return _ticket_out(ctx, actions.agent_step(ctx, ticket_id, event, _caller(p), body.reason))

    path = event.replace("mark_no_show", "no-show")
    handler.__name__ = f"ticket_{event}"
    router.add_api_route(
        f"/tickets/{{ticket_id}}/{path}",
        handler,
        methods=["POST"],
        response_model=TicketOut,
        summary=summary,
        responses=_STEP,
    )


_agent_step("ring", "The kiosk is being rung (the call layer reports it)")
_agent_step("answer", "The resident answered: serving starts")
_agent_step("decline", "Hand an offered ticket back to the queue (its place kept)")
_agent_step("mark_no_show", "The resident did not come: no-show")
_agent_step("complete", "Service finished: done")


@router.post(
    "/tickets/{ticket_id}/recall",
    response_model=TicketOut,
    summary="Ring the resident again",
    responses=_STEP,
)
def recall(ticket_id: DbId, request: Request, p: Agents) -> TicketOut:
    ctx = ctx_of(request)
    return _ticket_out(ctx, actions.recall(ctx, ticket_id, _caller(p)))


@router.post(
    "/tickets/{ticket_id}/transfer",
    response_model=TicketOut,
    summary="Transfer to another service or a named agent (front, end or by age)",
    responses=_STEP,
)
def transfer(ticket_id: DbId, body: TransferIn, request: Request, p: Agents) -> TicketOut:
    ctx = ctx_of(request)
    t = actions.transfer(
        ctx,
        ticket_id,
        _caller(p),
        service_id=body.service_id,
        agent_id=body.agent_id,
        placement=body.placement,
        reason=body.reason,
    )
    return _ticket_out(ctx, t)


@router.post("/tickets/{ticket_id}/hold", response_model=TicketOut, summary="Put on hold", responses=_STEP)
def hold(ticket_id: DbId, body: Reason, request: Request, p: Agents) -> TicketOut:
    ctx = ctx_of(request)
    return _ticket_out(ctx, actions.hold(ctx, ticket_id, _caller(p), body.reason))


@router.post(
    "/tickets/{ticket_id}/resume", response_model=TicketOut, summary="Resume a held ticket", responses=_STEP
)
def resume(ticket_id: DbId, request: Request, p: Agents) -> TicketOut:
    ctx = ctx_of(request)
    return _ticket_out(ctx, actions.resume(ctx, ticket_id, _caller(p)))


# --- agents: state and skills ---------------------------------------------------------------------


def _agent_out(v: agents.AgentView) -> AgentOut:
    return AgentOut(
        user_id=v.user_id,
        display_name=v.display_name,
        office_id=v.office_id,
        state=v.state,
        pause_reason=v.pause_reason,
        since=v.since,
        window_no=v.window_no,
        current_ticket_id=v.current_ticket_id,
        skills=v.skills,
    )


@router.put(
    "/agents/me/state",
    response_model=AgentOut,
    summary="Set my state: available, paused (with reason), wrap_up, offline",
    responses={409: {"description": "not allowed from the current state"}, 422: {"description": "bad state"}},
)
def set_my_state(body: AgentStateIn, request: Request, p: Agents) -> AgentOut:
    user = p.require_user()
    office_id = _office_for(p, None)
    view = agents.set_state(
        ctx_of(request), user.id, office_id, body.state, reason=body.reason, window_no=body.window_no
    )
    return _agent_out(view)


@router.get("/agents", response_model=list[AgentOut], summary="Agents' queue states in the office")
def list_agents(
    request: Request, p: OfficeStaff, office_id: int | None = Query(default=None, ge=1, le=MAX_DB_ID)
) -> list[AgentOut]:
    return [_agent_out(v) for v in agents.list_agents(ctx_of(request), _office_for(p, office_id))]


@router.put(
    "/agents/{user_id}/skills",
    response_model=AgentOut,
    summary="Set an agent's skills (empty = generalist)",
    responses={404: {"description": "no such agent in your office"}},
)
def set_skills(user_id: DbId, body: SkillsIn, request: Request, p: Supervisors) -> AgentOut:
    ctx = ctx_of(request)
    with ctx.read_db() as s:
        target = s.get(User, user_id)
    if target is None or target.office_id is None or target.role not in (Role.AGENT, Role.SUPERVISOR):
        raise ApiError(404, "agent_not_found", "no such agent")
    _office_for(p, target.office_id)
    return _agent_out(agents.set_skills(ctx, user_id, target.office_id, body.skills, p.actor))


# --- settings and stats ---------------------------------------------------------------------------


def _settings_out(cfg: QueueConfig) -> QueueSettingsIO:
    return QueueSettingsIO(
        accepting_tickets=cfg.accepting_tickets,
        closed_reason=cfg.closed_reason,
        ring_timeout_s=cfg.ring_timeout_s,
        max_recalls=cfg.max_recalls,
        rejoin_window_min=cfg.rejoin_window_min,
        max_wait_bound_min=cfg.max_wait_bound_min,
        estimate_window=cfg.estimate_window,
        estimate_min_samples=cfg.estimate_min_samples,
        ring_overhead_s=cfg.ring_overhead_s,
    )


@router.get("/settings", response_model=QueueSettingsIO, summary="The office's queue settings")
def get_settings(
    request: Request, p: OfficeStaff, office_id: int | None = Query(default=None, ge=1, le=MAX_DB_ID)
) -> QueueSettingsIO:
    with ctx_of(request).read_db() as s:
        return _settings_out(load_config(s, _office_for(p, office_id)))


@router.put(
    "/settings",
    response_model=QueueSettingsIO,
    summary="Change the office's queue settings (e.g. pause intake)",
    responses={404: {"description": "no such office"}},
)
def put_settings(
    body: QueueSettingsIO,
    request: Request,
    p: Supervisors,
    office_id: int | None = Query(default=None, ge=1, le=MAX_DB_ID),
) -> QueueSettingsIO:
    ctx = ctx_of(request)
    oid = _office_for(p, office_id)
    with ctx.db() as s, s.begin():
        if s.get(Office, oid) is None:
            raise ApiError(404, "office_not_found", "no such office")
        row = s.get(QueueSettings, oid)
        if row is None:
            row = QueueSettings(office_id=oid)
            s.add(row)
        for name, value in body.model_dump().items():
            setattr(row, name, value)
        audit.record(
            s, p.actor, "queue.settings_changed", target_type="office", target_id=oid, **body.model_dump()
        )
        s.flush()
        cfg = load_config(s, oid)
    return _settings_out(cfg)


@router.get(
    "/stats",
    response_model=StatsOut,
    summary="Counts and wait-estimate accuracy (MAE, p90)",
    responses={404: {"description": "no such office"}},
)
def get_stats(
    request: Request,
    p: OfficeStaff,
    office_id: int | None = Query(default=None, ge=1, le=MAX_DB_ID),
    first_day: date | None = None,
    last_day: date | None = None,
) -> StatsOut:
    ctx = ctx_of(request)
    oid = _office_for(p, office_id)
    with ctx.read_db() as s:
        office = s.get(Office, oid)
        if office is None:
            raise ApiError(404, "office_not_found", "no such office")
        tz = office.timezone
    today = business_date(ctx.clock.now(), tz)
    last = last_day or today
    first = first_day or last
    if first > last or last - first > timedelta(days=366):
        raise ApiError(422, "bad_period", "first_day must be on or before last_day, within a year")
    st = status.stats(ctx, oid, first, last)
    a = st.accuracy
    return StatsOut(
        office_id=oid,
        first_day=first,
        last_day=last,
        by_state=st.by_state,
        accuracy=AccuracyOut(
            samples=a.samples, mae_s=a.mae_s, p90_error_s=a.p90_error_s, mean_wait_s=a.mean_wait_s
        ),
    )
