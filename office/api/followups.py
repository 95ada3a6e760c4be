"""Follow-ups of bad ratings (差评整改) over HTTP: list, detail, lifecycle steps, assignee, evaluator.

Staff see their own office's follow-ups only (another office's answer 404); agents see the ones
about their own service or assigned to them and may work only those assigned to them; supervisors
work all of their office's. The evaluator's (masked) identity is for supervisors, audited per read.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import or_, select

from office import audit
from office.api.common import MAX_ID, IdPath, PrefixRouter, StrictModel
from office.auth import Allow, AuthUser, Principal, ctx_of
from office.booking.schedules import load_calendar
from office.errors import ApiError
from office.models import FollowUp, FollowUpEvent, Rating, Role, Service, Station, User
from office.ratings import FollowUpActor, FollowUpState, evaluator_identity, followup_step
from office.ratings.lifecycle import allowed_events
from office.ratings.service import load_followup

__all__ = ["router"]

router = PrefixRouter(prefix="/api/followups", tags=["ratings"])

Workers = Annotated[Principal, Depends(Allow(Role.AGENT, Role.SUPERVISOR, Role.ADMIN))]
Supervisors = Annotated[Principal, Depends(Allow(Role.SUPERVISOR, Role.ADMIN))]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such follow-up in your office"}}

StepName = Literal[
    "contact",
    "classify:fix_now",
    "classify:ledger",
    "classify:explain",
    "classify:appeal",
    "review:upheld",
    "review:excluded",
    "rectify",
    "feedback",
    "revisit",
    "close",
]


class StepIn(StrictModel):
    """One lifecycle step; ``days`` sets a ledger's deadline, ``recheck_level`` the revisit's rating."""

    event: StepName
    note: str = Field(default="", max_length=500)
    days: int | None = Field(default=None, ge=1, le=60)
    recheck_level: int | None = Field(default=None, ge=1, le=5)


class AssignIn(StrictModel):
    """Give the follow-up to a staff member of the office (``null``: nobody)."""

    user_id: int | None = Field(ge=1, le=MAX_ID)


class EventOut(BaseModel):
    """One stamped step."""

    at: datetime
    event: str
    from_state: str
    to_state: str
    actor_id: int | None
    note: str


class FollowUpOut(BaseModel):
    """A follow-up with its rating (level, reasons, comment) and where it stands."""

    id: int
    office_id: int
    rating_id: int
    state: FollowUpState
    classification: str
    appeal_outcome: str
    assignee_id: int | None
    created_at: datetime
    due_date: date
    due_step: str
    overdue: bool
    closed_at: datetime | None
    recheck_level: int | None
    level: int
    reasons: list[str]
    comment: str
    is_default: bool
    ticket_id: int
    case_id: int | None
    service_id: int
    service_name: str
    station_id: int | None
    station_name: str
    agent_id: int | None
    agent_name: str
    allowed: list[str]


class FollowUpDetail(FollowUpOut):
    """A follow-up and its history."""

    events: list[EventOut]


class EvaluatorOut(BaseModel):
    """The real-name evaluator behind a 差评, masked (for the call-back); every read is audited."""

    identified: bool
    id_number_masked: str | None
    ticket_id: int


def _who(p: Principal) -> FollowUpActor:
    user = p.require_user()
    return FollowUpActor(
        actor=p.actor,
        user_id=user.id,
        supervisor=user.role in (Role.SUPERVISOR, Role.ADMIN),
        office_id=None if user.role is Role.ADMIN else (user.office_id if user.office_id is not None else -1),
    )


def _outs(request: Request, rows: list[FollowUp]) -> list[FollowUpOut]:
    ctx = ctx_of(request)
    if not rows:
        return []
    with ctx.read_db() as s:
        ratings = {
            r.id: r for r in s.scalars(select(Rating).where(Rating.id.in_([f.rating_id for f in rows])))
        }
        services = {row[0]: row[1] for row in s.execute(select(Service.id, Service.name))}
        stations = {row[0]: row[1] for row in s.execute(select(Station.id, Station.name))}
        agent_ids = {r.agent_id for r in ratings.values() if r.agent_id is not None}
        agent_rows = s.execute(select(User.id, User.display_name).where(User.id.in_(agent_ids)))
        agents = {row[0]: row[1] for row in agent_rows}
        today = {o: load_calendar(s, o).local_date(ctx.clock.now()) for o in {f.office_id for f in rows}}
    out: list[FollowUpOut] = []
    for f in rows:
        r = ratings[f.rating_id]
        state = FollowUpState(f.state)
        out.append(
            FollowUpOut(
                id=f.id,
                office_id=f.office_id,
                rating_id=f.rating_id,
                state=state,
                classification=f.classification,
                appeal_outcome=f.appeal_outcome,
                assignee_id=f.assignee_id,
                created_at=f.created_at,
                due_date=f.due_date,
                due_step=f.due_step,
                overdue=state is not FollowUpState.CLOSED and f.due_date < today[f.office_id],
                closed_at=f.closed_at,
                recheck_level=f.recheck_level,
                level=r.level,
                reasons=list(r.reasons),
                comment=r.comment,
                is_default=r.is_default,
                ticket_id=r.ticket_id,
                case_id=r.case_id,
                service_id=r.service_id,
                service_name=services.get(r.service_id, ""),
                station_id=r.station_id,
                station_name=stations.get(r.station_id, "") if r.station_id is not None else "",
                agent_id=r.agent_id,
                agent_name=agents.get(r.agent_id, "") if r.agent_id is not None else "",
                allowed=allowed_events(state),
            )
        )
    return out


def _scope(q: Any, user: AuthUser) -> Any:
    if user.role is Role.ADMIN:
        return q
    q = q.where(FollowUp.office_id == (user.office_id if user.office_id is not None else -1))
    if user.role is Role.AGENT:
        q = q.where(or_(FollowUp.assignee_id == user.id, Rating.agent_id == user.id))
    return q


@router.get(
    "", response_model=list[FollowUpOut], summary="Follow-ups of the office (open first, by due date)"
)
def list_followups(
    request: Request,
    p: Workers,
    state: Annotated[Literal["open", "closed", "all"], Query()] = "open",
    overdue: Annotated[bool | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[FollowUpOut]:
    user = p.require_user()
    q = _scope(select(FollowUp).join(Rating, Rating.id == FollowUp.rating_id), user)
    if state == "open":
        q = q.where(FollowUp.state != FollowUpState.CLOSED)
    elif state == "closed":
        q = q.where(FollowUp.state == FollowUpState.CLOSED)
    with ctx_of(request).read_db() as s:
        rows = list(s.scalars(q.order_by(FollowUp.due_date, FollowUp.id).limit(limit)))
    out = _outs(request, rows)
    if overdue is not None:
        out = [f for f in out if f.overdue is overdue]
    return out


def _visible(request: Request, p: Principal, followup_id: int) -> FollowUp:
    user = p.require_user()
    with ctx_of(request).read_db() as s:
        fu = load_followup(s, followup_id, _who(p))
        if user.role is Role.AGENT:
            rating = s.get(Rating, fu.rating_id)
            if fu.assignee_id != user.id and (rating is None or rating.agent_id != user.id):
                raise ApiError(404, "followup_not_found", "no such follow-up in your office")
        return fu


def _detail(request: Request, fu: FollowUp) -> FollowUpDetail:
    (base,) = _outs(request, [fu])
    with ctx_of(request).read_db() as s:
        events = list(
            s.scalars(
                select(FollowUpEvent).where(FollowUpEvent.followup_id == fu.id).order_by(FollowUpEvent.id)
            )
        )
    return FollowUpDetail(
        **base.model_dump(),
        events=[
            EventOut(
                at=e.at,
                event=e.event,
                from_state=e.from_state,
                to_state=e.to_state,
                actor_id=e.actor_id,
                note=e.note,
            )
            for e in events
        ],
    )


@router.get(
    "/{followup_id}",
    response_model=FollowUpDetail,
    summary="One follow-up and its history",
    responses=_NOT_FOUND,
)
def get_followup(followup_id: IdPath, request: Request, p: Workers) -> FollowUpDetail:
    return _detail(request, _visible(request, p, followup_id))


@router.post(
    "/{followup_id}/steps",
    response_model=FollowUpDetail,
    summary="Take one lifecycle step (contact, classify, rectify, feedback, revisit, close …)",
    responses={**_NOT_FOUND, 409: {"description": "step not allowed in the current state"}},
)
def post_step(followup_id: IdPath, body: StepIn, request: Request, p: Workers) -> FollowUpDetail:
    _visible(request, p, followup_id)
    if body.days is not None and body.event != "classify:ledger":
        raise ApiError(422, "days_not_allowed", "days only set a ledger's deadline")
    if body.recheck_level is not None and body.event != "revisit":
        raise ApiError(422, "recheck_not_allowed", "recheck_level belongs to the revisit")
    fu = followup_step(
        ctx_of(request),
        _who(p),
        followup_id,
        body.event,
        note=body.note,
        days=body.days,
        recheck_level=body.recheck_level,
    )
    return _detail(request, fu)


@router.put(
    "/{followup_id}/assignee",
    response_model=FollowUpDetail,
    summary="Assign to a staff member",
    responses=_NOT_FOUND,
)
def put_assignee(followup_id: IdPath, body: AssignIn, request: Request, p: Supervisors) -> FollowUpDetail:
    ctx = ctx_of(request)
    who = _who(p)
    with ctx.db() as s, s.begin():
        fu = load_followup(s, followup_id, who)
        if body.user_id is not None:
            target = s.get(User, body.user_id)
            if (
                target is None
                or target.office_id != fu.office_id
                or target.role not in (Role.AGENT, Role.SUPERVISOR)
            ):
                raise ApiError(422, "invalid_assignee", "assign to an agent or supervisor of this office")
        fu.assignee_id = body.user_id
        fu.version += 1
        audit.record(
            s, who.actor, "followup.assign", target_type="followup", target_id=fu.id, assignee=body.user_id
        )
        s.flush()
        s.expunge(fu)
    ctx.events.publish(
        fu.office_id,
        "followup.changed",
        {"followup_id": fu.id, "rating_id": fu.rating_id, "state": fu.state, "assignee_id": fu.assignee_id},
    )
    return _detail(request, fu)


@router.get(
    "/{followup_id}/evaluator",
    response_model=EvaluatorOut,
    summary="The evaluator behind a 差评, masked (supervisors; audited)",
    responses=_NOT_FOUND,
)
def get_evaluator(followup_id: IdPath, request: Request, p: Supervisors) -> EvaluatorOut:
    return EvaluatorOut(**evaluator_identity(ctx_of(request), _who(p), followup_id))
