"""Calls over HTTP: start a call for a ticket, call records, media reports, ICE servers, kiosks online.

``POST /api/calls/next`` is *call next* and *start the call* in one request (the console's call-next
button): the agent waits for one round trip instead of two before the kiosk is rung.

Signaling itself runs on ``/ws/signaling`` (:mod:`office.signaling_ws`); these routes are the
parts that are plain request/response. Staff see their own office's calls (admins: all); a report
comes from one of the call's two parties only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import select

from office.api.common import MAX_ID, AnyStaff, OfficeStaff, PrefixRouter, StrictModel
from office.api.queue import TicketOut, _ticket_out
from office.auth import Allow, AuthUser, Principal, ctx_of
from office.calls import agent_party, deliver, ice_servers, kiosk_party, report, start_call
from office.calls.service import load_call
from office.calls.signals import run_on_hub
from office.context import OfficeContext
from office.errors import ApiError
from office.models import Call, CallStatus, Kiosk, Role, Station, Ticket
from office.queue import calling
from signaling.messages import Role as PartyRole

__all__ = ["router"]

router = PrefixRouter(prefix="/api/calls", tags=["calls"])

CallTakers = Annotated[Principal, Depends(Allow(Role.AGENT, Role.SUPERVISOR))]
CallParties = Annotated[Principal, Depends(Allow(Role.AGENT, Role.SUPERVISOR, kiosk=True))]
CallIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such call in your office"}}


class StartCallIn(StrictModel):
    """Start the call for a ticket offered to (or ringing for) the caller."""

    ticket_id: int = Field(ge=1, le=MAX_ID)


class QualityIn(StrictModel):
    """One media-quality sample from a party (numbers only)."""

    rtt_ms: float | None = Field(default=None, ge=0, le=60_000, allow_inf_nan=False)
    packet_loss_pct: float | None = Field(default=None, ge=0, le=100, allow_inf_nan=False)
    jitter_ms: float | None = Field(default=None, ge=0, le=60_000, allow_inf_nan=False)
    fps: float | None = Field(default=None, ge=0, le=240, allow_inf_nan=False)
    freezes: int | None = Field(default=None, ge=0, le=100_000)


class ReportIn(StrictModel):
    """A party's report: media ``connected`` / ``reconnecting`` and/or a quality sample."""

    state: Literal["connected", "reconnecting"] | None = None
    quality: QualityIn | None = None


class CallOut(BaseModel):
    """A call record."""

    id: str
    office_id: int
    station_id: int
    ticket_id: int
    agent_id: int
    kiosk_id: int
    state: CallStatus
    created_at: datetime
    negotiating_at: datetime | None
    connected_at: datetime | None
    ended_at: datetime | None
    setup_ms: int | None = Field(description="connected_at - created_at")
    duration_ms: int | None = Field(description="ended_at - connected_at (0 if never connected)")
    end_reason: str
    ended_by: str
    reconnects: int
    quality: dict[str, float]


class NextCallOut(BaseModel):
    """Call next's result: the ticket offered (null: nobody is waiting for you) and its call."""

    ticket: TicketOut | None
    call: CallOut | None = Field(description="null when no ticket, or when the call could not start")
    call_error: str | None = Field(
        default=None,
        description="why the call did not start (e.g. no_kiosk); the ticket stays offered to you",
    )


class IceServerOut(BaseModel):
    """One RTCIceServer."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None


class IceServersOut(BaseModel):
    """The ICE servers to use now; TURN credentials expire after ``ttl_s``."""

    ice_servers: list[IceServerOut]
    ttl_s: int


class OnlineKiosksOut(BaseModel):
    """Kiosks of the caller's office that have a live signaling connection now."""

    kiosk_ids: list[int]


def _out(c: Call) -> CallOut:
    return CallOut(
        id=c.id,
        office_id=c.office_id,
        station_id=c.station_id,
        ticket_id=c.ticket_id,
        agent_id=c.agent_id,
        kiosk_id=c.kiosk_id,
        state=CallStatus(c.state),
        created_at=c.created_at,
        negotiating_at=c.negotiating_at,
        connected_at=c.connected_at,
        ended_at=c.ended_at,
        setup_ms=c.setup_ms,
        duration_ms=c.duration_ms,
        end_reason=c.end_reason,
        ended_by=c.ended_by,
        reconnects=c.reconnects,
        quality={k: float(v) for k, v in (c.quality or {}).items()},
    )


@router.get("/ice-servers", response_model=IceServersOut, summary="STUN/TURN servers for a call party")
def get_ice_servers(request: Request, p: CallParties) -> IceServersOut:
    ctx = ctx_of(request)
    party = kiosk_party(p.kiosk.id) if p.kiosk else agent_party(p.require_user().id)
    servers = ice_servers(ctx.settings, party.id, ctx.clock.now())
    return IceServersOut(
        ice_servers=[
            IceServerOut(urls=list(s.urls), username=s.username, credential=s.credential) for s in servers
        ],
        ttl_s=ctx.settings.turn_ttl_s,
    )


@router.get("/kiosks-online", response_model=OnlineKiosksOut, summary="Kiosks connected to signaling now")
def kiosks_online(request: Request, p: AnyStaff) -> OnlineKiosksOut:
    ctx = ctx_of(request)
    user = p.require_user()
    online: set[str] = set()
    if ctx.hub is not None:
        online = run_on_hub(ctx, ctx.hub.presence.online(PartyRole.KIOSK)) or set()
    with ctx.read_db() as s:
        q = select(Kiosk.id).join(Station, Station.id == Kiosk.station_id).where(Kiosk.revoked_at.is_(None))
        if user.office_id is not None and user.role is not Role.ADMIN:
            q = q.where(Station.office_id == user.office_id)
        ids = [k for k in s.scalars(q.order_by(Kiosk.id)) if kiosk_party(k).id in online]
    return OnlineKiosksOut(kiosk_ids=ids)


@router.post(
    "",
    response_model=CallOut,
    status_code=201,
    summary="Call the kiosk of a ticket offered to you (sends call.invite)",
    responses={
        403: {"description": "the ticket is with another agent"},
        404: {"description": "no such ticket in your office"},
        409: {"description": "ticket not offered/ringing, no kiosk, or a live call exists"},
    },
)
def create_call(body: StartCallIn, request: Request, p: CallTakers) -> CallOut:
    ctx = ctx_of(request)
    call, _ = start_call(ctx, p.require_user(), body.ticket_id, announce=lambda n: deliver(ctx, n))
    return _out(call)


@router.post(
    "/next",
    response_model=NextCallOut,
    summary="Call next and ring its kiosk (call.invite) in one request",
    responses={409: {"description": "you are not available"}},
)
async def call_next_and_start(request: Request, p: CallTakers) -> NextCallOut:
    # On the event loop: presses arriving together are claimed in one batch (as /api/queue/call-next);
    # ringing the kiosk and reading the rung ticket back run in a worker thread.
    ctx = ctx_of(request)
    user = p.require_user()
    if user.office_id is None:
        raise ApiError(403, "no_office", "your account belongs to no office")
    ticket = await calling.call_next_async(ctx, user.id, user.office_id)
    if ticket is None:
        return NextCallOut(ticket=None, call=None)
    return await run_in_threadpool(_ring, ctx, user, ticket)


def _ring(ctx: OfficeContext, user: AuthUser, ticket: Ticket) -> NextCallOut:
    try:
        call, _ = start_call(ctx, user, ticket.id, announce=lambda n: deliver(ctx, n))
    except ApiError as err:  # the ticket is offered to the agent all the same (e.g. issued by staff)
        return NextCallOut(ticket=_ticket_out(ctx, ticket), call=None, call_error=err.code)
    with ctx.read_db() as s:
        rung = s.get(Ticket, ticket.id)
    return NextCallOut(ticket=_ticket_out(ctx, rung or ticket), call=_out(call))


@router.get("", response_model=list[CallOut], summary="Call records of your office, newest first")
def list_calls(
    request: Request,
    p: OfficeStaff,
    state: CallStatus | None = None,
    ticket_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[CallOut]:
    user = p.require_user()
    q = select(Call).order_by(Call.created_at.desc(), Call.id).limit(limit)
    if user.role is not Role.ADMIN:
        q = q.where(Call.office_id == user.office_id)
    if state is not None:
        q = q.where(Call.state == state.value)
    if ticket_id is not None:
        q = q.where(Call.ticket_id == ticket_id)
    with ctx_of(request).read_db() as s:
        return [_out(c) for c in s.scalars(q)]


@router.get("/{call_id}", response_model=CallOut, summary="One call record", responses=_NOT_FOUND)
def get_call(call_id: CallIdPath, request: Request, p: OfficeStaff) -> CallOut:
    user = p.require_user()
    with ctx_of(request).read_db() as s:
        call = load_call(s, call_id)
        if user.role is not Role.ADMIN and call.office_id != user.office_id:
            raise ApiError(404, "call_not_found", "no such call")
        return _out(call)


@router.post(
    "/{call_id}/report",
    response_model=CallOut,
    summary="A party reports media connected/reconnecting and quality",
    responses={
        **_NOT_FOUND,
        403: {"description": "you are not a party of this call"},
        409: {"description": "the call ended or changed meanwhile"},
    },
)
def report_call(call_id: CallIdPath, body: ReportIn, request: Request, p: CallParties) -> CallOut:
    ctx = ctx_of(request)
    party = kiosk_party(p.kiosk.id) if p.kiosk else agent_party(p.require_user().id)
    quality = body.quality.model_dump(exclude_none=True) if body.quality else {}
    call, notices = report(ctx, party, call_id, body.state, {k: float(v) for k, v in quality.items()})
    deliver(ctx, notices)
    return _out(call)
