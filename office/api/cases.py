"""Cases (办件) over HTTP (contract C3): record, list, read, transfer (指定), escalate (兜底),
complete, attach documents. Office-scoped; agents and supervisors only."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request, Response
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select

from office.api.common import MAX_ID, IdPath, PrefixRouter, StrictModel
from office.auth import Allow, Principal, ctx_of
from office.cases.lifecycle import FINAL_STATES
from office.cases.service import (
    CaseRequest,
    MaterialTick,
    attach_documents,
    complete_case,
    create_case,
    days_left,
    escalate_case,
    get_case,
    is_overdue,
    list_cases,
    local_today,
    material_notice,
    replayed_case,
    transfer_case,
)
from office.context import OfficeContext
from office.models import Case, CaseEvent, CaseMaterial, CaseOutcome, CaseState, Document, Role
from office.queue.status import service_names

__all__ = ["router"]

router = PrefixRouter(prefix="/api/cases", tags=["cases"])

CaseStaff = Annotated[Principal, Depends(Allow(Role.AGENT, Role.SUPERVISOR))]

_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "the case (or ticket) is with another agent"},
    404: {"description": "no such case in your office"},
    409: {"description": "not allowed in the case's state, or changed meanwhile"},
}


class MaterialIn(StrictModel):
    """A required material ticked against captured documents."""

    material_id: int = Field(ge=1, le=MAX_ID)
    document_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(default_factory=list, max_length=50)
    checked: bool = False


class ForwardTo(StrictModel):
    """Forward to a named agent of the office, or to another office (exactly one)."""

    agent_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    office_id: int | None = Field(default=None, ge=1, le=MAX_ID)

    @model_validator(mode="after")
    def _exactly_one(self) -> ForwardTo:
        if (self.agent_id is None) == (self.office_id is None):
            raise ValueError("give agent_id or office_id")
        return self


class CaseIn(StrictModel):
    """Record the case of a ticket served (or being served)."""

    ticket_id: int = Field(ge=1, le=MAX_ID)
    call_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    service_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    outcome: CaseOutcome
    notes: str = Field(default="", max_length=4000)
    reason: str = Field(default="", max_length=1000)
    missing_material_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        default_factory=list, max_length=50
    )
    forward_to: ForwardTo | None = None
    materials: list[MaterialIn] = Field(default_factory=list, max_length=50)


class TransferIn(StrictModel):
    """指定: the named agent who takes the case over, and why."""

    agent_id: int = Field(ge=1, le=MAX_ID)
    reason: str = Field(default="", max_length=1000)


class EscalateIn(StrictModel):
    """兜底: why the supervisors must take it."""

    reason: str = Field(min_length=1, max_length=1000)


class CompleteIn(StrictModel):
    """办结, with closing notes."""

    notes: str = Field(default="", max_length=4000)


class AttachIn(StrictModel):
    """Documents of this office to add to the case."""

    document_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(min_length=1, max_length=50)


class MaterialOut(BaseModel):
    """A material tick."""

    material_id: int
    name: str
    document_ids: list[int]
    checked: bool


class CaseDocumentOut(BaseModel):
    """A document of the case (metadata; bytes at ``GET /api/documents/{id}``)."""

    document_id: int
    kind: str
    mime: str
    width: int
    height: int
    bytes: int
    created_at: datetime


class HistoryOut(BaseModel):
    """One stamped step."""

    at: datetime
    actor_id: int | None
    action: str
    from_state: str
    to_state: str
    detail: dict[str, Any]


class NoticeItem(BaseModel):
    """One missing material of the one-time notice."""

    material_id: int
    name: str
    name_en: str
    count: int
    form: str
    notes: str


class NoticeOut(BaseModel):
    """一次性告知: everything missing, once, printable at the kiosk."""

    service_name: str
    service_name_en: str
    missing: list[NoticeItem]


class CaseOut(BaseModel):
    """A case with its materials, documents and history."""

    id: int
    number: str
    office_id: int
    ticket_id: int | None
    call_id: str | None
    service_id: int
    service_version: int
    service_name: str
    state: CaseState
    outcome: CaseOutcome
    owner_agent_id: int | None = Field(description="首问负责: the first agent who accepted it")
    assigned_agent_id: int | None = Field(description="who holds it now (null: the supervisors)")
    has_resident: bool
    accepted_at: datetime | None
    due_date: date | None
    overdue: bool
    days_left: int | None = Field(
        description="days to the due date from the office's today; null when no limit runs"
    )
    completed_at: datetime | None
    reason: str
    notes: str
    missing_material_ids: list[int]
    forward_to_agent_id: int | None
    forward_to_office_id: int | None
    created_at: datetime
    materials: list[MaterialOut]
    documents: list[CaseDocumentOut]
    history: list[HistoryOut]
    notice: NoticeOut | None = Field(default=None, description="一次性告知, for needs_materials cases")


class CaseSummaryOut(BaseModel):
    """A case in a list."""

    id: int
    number: str
    service_id: int
    service_name: str
    state: CaseState
    outcome: CaseOutcome
    owner_agent_id: int | None
    assigned_agent_id: int | None
    due_date: date | None
    overdue: bool
    days_left: int | None = Field(
        description="days to the due date from the office's today; null when no limit runs"
    )
    created_at: datetime


def _full(ctx: OfficeContext, case: Case) -> CaseOut:
    notice = material_notice(ctx, case)
    with ctx.read_db() as s:
        today = local_today(s, case.office_id, ctx.clock.now())
        materials = list(
            s.scalars(select(CaseMaterial).where(CaseMaterial.case_id == case.id).order_by(CaseMaterial.id))
        )
        docs = list(s.scalars(select(Document).where(Document.case_id == case.id).order_by(Document.id)))
        events = list(s.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)))
    return CaseOut(
        id=case.id,
        number=case.number,
        office_id=case.office_id,
        ticket_id=case.ticket_id,
        call_id=case.call_id,
        service_id=case.service_id,
        service_version=case.service_version,
        service_name=service_names(ctx, case.service_id, case.service_version)[0],
        state=CaseState(case.state),
        outcome=CaseOutcome(case.outcome),
        owner_agent_id=case.owner_agent_id,
        assigned_agent_id=case.assigned_agent_id,
        has_resident=case.resident_hash is not None,
        accepted_at=case.accepted_at,
        due_date=case.due_date,
        overdue=is_overdue(case, today),
        days_left=days_left(case, today),
        completed_at=case.completed_at,
        reason=case.reason,
        notes=case.notes,
        missing_material_ids=list(case.missing_material_ids or []),
        forward_to_agent_id=case.forward_to_agent_id,
        forward_to_office_id=case.forward_to_office_id,
        created_at=case.created_at,
        materials=[
            MaterialOut(
                material_id=m.material_id, name=m.name, document_ids=list(m.document_ids), checked=m.checked
            )
            for m in materials
        ],
        documents=[
            CaseDocumentOut(
                document_id=d.id,
                kind=d.kind,
                mime=d.mime,
                width=d.width,
                height=d.height,
                bytes=d.size_bytes,
                created_at=d.created_at,
            )
            for d in docs
        ],
        history=[
            HistoryOut(
                at=e.at,
                actor_id=e.actor_id,
                action=e.action,
                from_state=e.from_state,
                to_state=e.to_state,
                detail=dict(e.detail or {}),
            )
            for e in events
        ],
        notice=NoticeOut.model_validate(notice) if notice else None,
    )


@router.post(
    "",
    response_model=CaseOut,
    status_code=201,
    summary="Record the case of a ticket; Idempotency-Key honoured",
    responses={**_ERRORS, 200: {"description": "the case already recorded with this Idempotency-Key"}},
)
def post_case(
    body: CaseIn,
    request: Request,
    response: Response,
    p: CaseStaff,
    idempotency_key: Annotated[str | None, Header(min_length=8, max_length=100)] = None,
) -> CaseOut:
    ctx = ctx_of(request)
    earlier = replayed_case(ctx, p, idempotency_key)
    if earlier is not None:
        response.status_code = 200
        return _full(ctx, get_case(ctx, p, earlier))
    req = CaseRequest(
        ticket_id=body.ticket_id,
        outcome=body.outcome,
        call_id=body.call_id,
        service_id=body.service_id,
        notes=body.notes,
        reason=body.reason,
        missing_material_ids=tuple(dict.fromkeys(body.missing_material_ids)),
        forward_agent_id=body.forward_to.agent_id if body.forward_to else None,
        forward_office_id=body.forward_to.office_id if body.forward_to else None,
        materials=tuple(
            MaterialTick(m.material_id, tuple(dict.fromkeys(m.document_ids)), m.checked)
            for m in {m.material_id: m for m in body.materials}.values()
        ),
        idem_key=idempotency_key,
    )
    case_id, _notice = create_case(ctx, p, req)
    return _full(ctx, get_case(ctx, p, case_id))


@router.get("", response_model=list[CaseSummaryOut], summary="Cases of your office, newest first")
def get_cases(
    request: Request,
    p: CaseStaff,
    state: CaseState | None = None,
    overdue: bool | None = None,
    mine: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[CaseSummaryOut]:
    ctx = ctx_of(request)
    user = p.require_user()
    rows = list_cases(ctx, p, state=state, overdue=overdue, mine=mine, limit=limit)
    with ctx.read_db() as s:
        today = local_today(s, user.office_id or 0, ctx.clock.now()) if rows else None
    return [
        CaseSummaryOut(
            id=c.id,
            number=c.number,
            service_id=c.service_id,
            service_name=service_names(ctx, c.service_id, c.service_version)[0],
            state=CaseState(c.state),
            outcome=CaseOutcome(c.outcome),
            owner_agent_id=c.owner_agent_id,
            assigned_agent_id=c.assigned_agent_id,
            due_date=c.due_date,
            overdue=today is not None and c.state not in FINAL_STATES and is_overdue(c, today),
            days_left=None if today is None else days_left(c, today),
            created_at=c.created_at,
        )
        for c in rows
    ]


@router.get("/{case_id}", response_model=CaseOut, summary="One case with history", responses=_ERRORS)
def get_one(case_id: IdPath, request: Request, p: CaseStaff) -> CaseOut:
    ctx = ctx_of(request)
    return _full(ctx, get_case(ctx, p, case_id))


@router.post(
    "/{case_id}/transfer", response_model=CaseOut, summary="指定: hand to a named agent", responses=_ERRORS
)
def post_transfer(case_id: IdPath, body: TransferIn, request: Request, p: CaseStaff) -> CaseOut:
    ctx = ctx_of(request)
    transfer_case(ctx, p, case_id, body.agent_id, body.reason)
    return _full(ctx, get_case(ctx, p, case_id))


@router.post(
    "/{case_id}/escalate", response_model=CaseOut, summary="兜底: hand to the supervisors", responses=_ERRORS
)
def post_escalate(case_id: IdPath, body: EscalateIn, request: Request, p: CaseStaff) -> CaseOut:
    ctx = ctx_of(request)
    escalate_case(ctx, p, case_id, body.reason)
    return _full(ctx, get_case(ctx, p, case_id))


@router.post(
    "/{case_id}/complete", response_model=CaseOut, summary="办结: finish an open case", responses=_ERRORS
)
def post_complete(case_id: IdPath, body: CompleteIn, request: Request, p: CaseStaff) -> CaseOut:
    ctx = ctx_of(request)
    complete_case(ctx, p, case_id, body.notes)
    return _full(ctx, get_case(ctx, p, case_id))


@router.post(
    "/{case_id}/documents", response_model=CaseOut, summary="Attach documents to a case", responses=_ERRORS
)
def post_documents(case_id: IdPath, body: AttachIn, request: Request, p: CaseStaff) -> CaseOut:
    ctx = ctx_of(request)
    attach_documents(ctx, p, case_id, body.document_ids)
    return _full(ctx, get_case(ctx, p, case_id))
