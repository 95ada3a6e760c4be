"""Recording and moving cases (办件): one transaction per step, state-checked, stamped, audited.

Who may act on a case: staff of its office — its owner (首问负责), its assignee, or a supervisor
(兜底). Creating one needs the ticket's (or call's) agent, or a supervisor. A case pins the service
revision the ticket was issued under (or the current one if the agent changed the service), takes the
resident's identity read during the call (keyed hash + ciphertext), and — when accepted — its due
date: the service's legal time limit in working days after acceptance on the office's calendar.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from office import audit
from office.auth import AuthUser, Principal
from office.booking.schedules import load_calendar, office_zone
from office.calls.service import load_call
from office.cases.identity import call_identity
from office.cases.lifecycle import (
    DUE_STATES,
    NEW,
    OUTCOME_EVENTS,
    IllegalCaseTransition,
    case_next,
)
from office.cases.numbering import format_case_number, next_case_seq
from office.context import OfficeContext
from office.errors import ApiError
from office.models import (
    Call,
    Case,
    CaseEvent,
    CaseMaterial,
    CaseOutcome,
    CaseState,
    Document,
    Role,
    Service,
    ServiceMaterial,
    ServiceRevision,
    Ticket,
    TicketState,
    User,
)
from office.queue.actions import Caller, agent_step
from office.queue.numbering import business_date
from office.queue.txn import writing

__all__ = [
    "CaseRequest",
    "MaterialTick",
    "attach_documents",
    "case_identity",
    "complete_case",
    "create_case",
    "days_left",
    "escalate_case",
    "get_case",
    "is_overdue",
    "list_cases",
    "local_today",
    "material_notice",
    "replayed_case",
    "transfer_case",
]

log = logging.getLogger("office.cases")

_IDENTITY_CONTEXT = b"case-identity"


@dataclass(frozen=True, slots=True)
class MaterialTick:
    """One required material ticked (or not) against captured documents."""

    material_id: int
    document_ids: tuple[int, ...] = ()
    checked: bool = False


@dataclass(frozen=True, slots=True)
class CaseRequest:
    """What the agent records (contract C3)."""

    ticket_id: int
    outcome: CaseOutcome
    call_id: str | None = None
    service_id: int | None = None
    notes: str = ""
    reason: str = ""
    missing_material_ids: tuple[int, ...] = ()
    forward_agent_id: int | None = None
    forward_office_id: int | None = None
    materials: tuple[MaterialTick, ...] = field(default_factory=tuple)
    #: The client's Idempotency-Key: a repeat returns the case already recorded with it.
    idem_key: str | None = None


def local_today(s: Session, office_id: int, now: datetime) -> date:
    """The office-local date of ``now``."""
    return business_date(now, office_zone(s, office_id))


def days_left(case: Case, today: date) -> int | None:
    """Days until the due date, counted from the office's ``today`` (negative once overdue), for a
    case whose time limit runs; ``None`` otherwise."""
    if case.state not in DUE_STATES or case.due_date is None:
        return None
    return (case.due_date - today).days


def is_overdue(case: Case, today: date) -> bool:
    """Whether the case's time limit has passed (it runs only while in progress or escalated)."""
    return case.state in DUE_STATES and case.due_date is not None and case.due_date < today


def _illegal(err: IllegalCaseTransition) -> ApiError:
    return ApiError(
        409, "illegal_transition", f"case is {err.state or 'new'}; {err.event!r} is not allowed now"
    )


def _snapshot(s: Session, service_id: int, version: int) -> dict[str, Any]:
    snap = s.scalar(
        select(ServiceRevision.snapshot).where(
            ServiceRevision.service_id == service_id, ServiceRevision.version == version
        )
    )
    if snap is not None:
        return dict(snap)
    svc = s.get(Service, service_id)
    if svc is None:
        raise ApiError(404, "service_not_found", "no such service")
    return {"name": svc.name, "name_en": svc.name_en, "time_limit_days": svc.time_limit_days}


def _staff_of(s: Session, user_id: int, office_id: int) -> User:
    target = s.get(User, user_id)
    if (
        target is None
        or not target.active
        or target.office_id != office_id
        or target.role not in (Role.AGENT, Role.SUPERVISOR)
    ):
        raise ApiError(422, "invalid_agent", "no such active agent in this office")
    return target


def _load_case(s: Session, user: AuthUser, case_id: int) -> Case:
    case = s.get(Case, case_id)
    if case is None or case.office_id != user.office_id:
        raise ApiError(404, "case_not_found", "no such case in your office")
    return case


def _may_act(case: Case, user: AuthUser) -> None:
    if user.role is Role.SUPERVISOR:
        return
    if user.id not in (case.owner_agent_id, case.assigned_agent_id):
        raise ApiError(403, "not_your_case", "this case is with another agent")


def _step(
    s: Session,
    case: Case,
    event: str,
    now: datetime,
    actor_id: int | None,
    detail: dict[str, Any],
    **values: Any,
) -> None:
    """Apply ``event`` (state-checked, versioned) and stamp it; ``case`` is updated to match."""
    try:
        new = case_next(case.state, event)
    except IllegalCaseTransition as err:
        raise _illegal(err) from None
    old, version = case.state, case.version
    result = s.execute(
        update(Case)
        .where(Case.id == case.id, Case.state == old, Case.version == version)
        .values(state=new.value, version=version + 1, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ApiError(409, "case_changed", "the case was changed by someone else; reload it")
    s.expunge(case)
    for name, value in {"state": new.value, "version": version + 1, "updated_at": now, **values}.items():
        setattr(case, name, value)
    s.add(
        CaseEvent(
            case_id=case.id,
            at=now,
            actor_id=actor_id,
            action=event,
            from_state=old,
            to_state=new.value,
            detail=detail,
        )
    )


def _check_documents(
    s: Session, office_id: int, ids: set[int], case_id: int | None, *, ticket_id: int | None, agent_id: int
) -> list[Document]:
    """The documents ``ids``: of this office, captured during a call of the case's ticket or a call
    of the acting agent, and not in another case; else 422/409."""
    if not ids:
        return []
    docs = list(s.scalars(select(Document).where(Document.id.in_(ids))))
    if len(docs) != len(ids) or any(d.office_id != office_id for d in docs):
        raise ApiError(422, "invalid_document", "a document id is unknown in this office")
    calls = {d.call_id for d in docs}
    allowed = set(
        s.scalars(
            select(Call.id).where(
                Call.id.in_([c for c in calls if c is not None]),
                (Call.ticket_id == ticket_id) | (Call.agent_id == agent_id),
            )
        )
    )
    if any(d.call_id not in allowed and d.case_id != case_id for d in docs):
        raise ApiError(422, "invalid_document", "a document is not from this resident's calls or yours")
    if any(d.case_id is not None and d.case_id != case_id for d in docs):
        raise ApiError(409, "document_in_other_case", "a document already belongs to another case")
    return docs


def _notice(snap: dict[str, Any], missing: list[ServiceMaterial]) -> dict[str, Any]:
    return {
        "service_name": str(snap.get("name", "")),
        "service_name_en": str(snap.get("name_en", "")),
        "missing": [
            {
                "material_id": m.id,
                "name": m.name,
                "name_en": m.name_en,
                "count": m.count,
                "form": m.form,
                "notes": m.notes,
            }
            for m in missing
        ],
    }


def material_notice(ctx: OfficeContext, case: Case) -> dict[str, Any] | None:
    """一次性告知 of a ``needs_materials`` case (materials since deleted from the catalog are left out)."""
    if case.outcome != CaseOutcome.NEEDS_MATERIALS or not case.missing_material_ids:
        return None
    with ctx.read_db() as s:
        snap = _snapshot(s, case.service_id, case.service_version)
        rows = {
            m.id: m
            for m in s.scalars(
                select(ServiceMaterial).where(ServiceMaterial.id.in_(case.missing_material_ids))
            )
        }
    return _notice(snap, [rows[i] for i in case.missing_material_ids if i in rows])


def _replayed(ctx: OfficeContext, office_id: int | None, key: str | None) -> int | None:
    if key is None:
        return None
    with ctx.read_db() as s:
        return s.scalar(select(Case.id).where(Case.office_id == office_id, Case.idem_key == key))


def create_case(ctx: OfficeContext, p: Principal, req: CaseRequest) -> tuple[int, dict[str, Any] | None]:
    """Record a case; returns its id and, for ``needs_materials``, the one-time notice to print.

    With an idempotency key already used in the office, nothing is written and the earlier case's id
    is returned with notice ``None`` (see :func:`replayed_case`).
    """
    user = p.require_user()
    earlier = _replayed(ctx, user.office_id, req.idem_key)
    if earlier is not None:
        return earlier, None
    try:
        return _create(ctx, p, user, req)
    except IntegrityError:
        earlier = _replayed(ctx, user.office_id, req.idem_key)
        if earlier is None:
            raise
        return earlier, None


def replayed_case(ctx: OfficeContext, p: Principal, key: str | None) -> int | None:
    """The case already recorded in the caller's office with Idempotency-Key ``key``, if any."""
    return _replayed(ctx, p.require_user().office_id, key)


def _create(
    ctx: OfficeContext, p: Principal, user: AuthUser, req: CaseRequest
) -> tuple[int, dict[str, Any] | None]:
    now = ctx.clock.now()
    if req.outcome is CaseOutcome.REJECTED and not req.reason.strip():
        raise ApiError(422, "reason_required", "a rejection needs a reason")
    if req.outcome is CaseOutcome.NEEDS_MATERIALS and not req.missing_material_ids:
        raise ApiError(422, "missing_materials_required", "list the missing materials")
    if req.outcome is CaseOutcome.FORWARDED and (req.forward_agent_id is None) == (
        req.forward_office_id is None
    ):
        raise ApiError(422, "forward_to_required", "forward to exactly one agent or one office")
    notice: dict[str, Any] | None = None
    ticket_serving = False
    with writing(ctx) as s:
        ticket = s.get(Ticket, req.ticket_id)
        if ticket is None or ticket.office_id != user.office_id:
            raise ApiError(404, "ticket_not_found", "no such ticket in your office")
        call: Call | None = None
        if req.call_id is not None:
            call = load_call(s, req.call_id)
            if call.office_id != user.office_id or call.ticket_id != ticket.id:
                raise ApiError(404, "call_not_found", "no such call for this ticket")
        else:
            call = s.scalar(
                select(Call).where(Call.ticket_id == ticket.id).order_by(Call.created_at.desc()).limit(1)
            )
        if user.role is not Role.SUPERVISOR and user.id not in (
            ticket.agent_id,
            call.agent_id if call else None,
        ):
            raise ApiError(403, "not_your_ticket", "this ticket is with another agent")
        if req.service_id is None or req.service_id == ticket.service_id:
            service_id, version = ticket.service_id, ticket.service_version
        else:
            svc = s.get(Service, req.service_id)
            if svc is None or not svc.active:
                raise ApiError(422, "invalid_service", "no such active service")
            service_id, version = svc.id, svc.version
        snap = _snapshot(s, service_id, version)
        materials = {
            m.id: m
            for m in s.scalars(select(ServiceMaterial).where(ServiceMaterial.service_id == service_id))
        }
        wanted = {t.material_id for t in req.materials} | set(req.missing_material_ids)
        if not wanted <= materials.keys():
            raise ApiError(422, "invalid_material", "a material id is not one of the service's materials")
        forward_office = None
        if req.forward_agent_id is not None:
            _staff_of(s, req.forward_agent_id, ticket.office_id)
        if req.forward_office_id is not None:
            forward_office = req.forward_office_id
            if forward_office == ticket.office_id:
                raise ApiError(422, "invalid_office", "forward to another office")
            office_zone(s, forward_office)  # 404 when unknown
        doc_ids = {d for t in req.materials for d in t.document_ids}
        docs = _check_documents(s, ticket.office_id, doc_ids, None, ticket_id=ticket.id, agent_id=user.id)
        if call is not None:
            docs += [
                d
                for d in s.scalars(
                    select(Document).where(Document.call_id == call.id, Document.case_id.is_(None))
                )
                if d.id not in doc_ids
            ]
        resident_hash, resident_enc = ticket.resident_hash, None
        identity = call_identity(s, call) if call is not None else None
        if identity is not None:
            resident_hash = identity.resident_hash
            resident_enc = ctx.cipher.encrypt_bytes(
                ctx.cipher.decrypt_bytes(identity.identity_enc, context=f"identity:{identity.ref}".encode()),
                context=_IDENTITY_CONTEXT,
            )
        event = OUTCOME_EVENTS[req.outcome]
        state = case_next(NEW, event)
        zone = office_zone(s, ticket.office_id)
        day = business_date(now, zone)
        seq = next_case_seq(s, ticket.office_id, day)
        accepted = req.outcome is CaseOutcome.ACCEPTED
        due = None
        if accepted:
            limit = int(snap.get("time_limit_days", 0))
            due = load_calendar(s, ticket.office_id, first=day).due_date(now, limit)
        case = Case(
            office_id=ticket.office_id,
            number=format_case_number(day, seq),
            business_date=day,
            seq=seq,
            ticket_id=ticket.id,
            call_id=call.id if call else None,
            service_id=service_id,
            service_version=version,
            resident_hash=resident_hash,
            resident_enc=resident_enc,
            owner_agent_id=user.id,
            assigned_agent_id=req.forward_agent_id or user.id,
            state=state.value,
            outcome=req.outcome.value,
            reason=req.reason,
            notes=req.notes,
            forward_to_agent_id=req.forward_agent_id,
            forward_to_office_id=forward_office,
            missing_material_ids=list(req.missing_material_ids),
            accepted_at=now if accepted else None,
            due_date=due,
            completed_at=now if state is CaseState.COMPLETED else None,
            created_at=now,
            updated_at=now,
            idem_key=req.idem_key,
        )
        s.add(case)
        s.flush()
        for tick in req.materials:
            s.add(
                CaseMaterial(
                    case_id=case.id,
                    material_id=tick.material_id,
                    name=materials[tick.material_id].name,
                    document_ids=list(tick.document_ids),
                    checked=tick.checked,
                )
            )
        for d in docs:
            d.case_id = case.id
        detail: dict[str, Any] = {"outcome": req.outcome.value, "ticket_id": ticket.id}
        if due is not None:
            detail["due_date"] = due.isoformat()
        if req.forward_agent_id is not None:
            detail["to_agent_id"] = req.forward_agent_id
        if forward_office is not None:
            detail["to_office_id"] = forward_office
        if req.missing_material_ids:
            detail["missing_material_ids"] = list(req.missing_material_ids)
        s.add(
            CaseEvent(
                case_id=case.id, at=now, actor_id=user.id, action=event, to_state=state.value, detail=detail
            )
        )
        audit.record(
            s,
            p.actor,
            "case.created",
            target_type="case",
            target_id=case.id,
            outcome=req.outcome.value,
            documents=len(docs),
            identity=identity is not None,
        )
        if req.outcome is CaseOutcome.NEEDS_MATERIALS:
            notice = _notice(snap, [materials[mid] for mid in req.missing_material_ids])
        case_id = case.id
        ticket_serving = ticket.state == TicketState.SERVING
        ticket_id = ticket.id
    if ticket_serving:
        caller = Caller(
            actor=p.actor,
            user_id=user.id,
            supervisor=user.role is Role.SUPERVISOR,
            office_id=user.office_id,
        )
        try:
            agent_step(ctx, ticket_id, "complete", caller)
        except ApiError as err:  # the case stands; the ticket is settled by its own agent or the call
            log.info("ticket not completed with its case", extra={"ticket": ticket_id, "code": err.code})
    return case_id, notice


def transfer_case(ctx: OfficeContext, p: Principal, case_id: int, agent_id: int, reason: str) -> None:
    """指定: hand the case to a named agent of the office (owner unchanged)."""
    user = p.require_user()
    now = ctx.clock.now()
    with writing(ctx) as s:
        case = _load_case(s, user, case_id)
        if not (case.state == CaseState.ESCALATED and user.role is Role.SUPERVISOR):
            _may_act(case, user)
        _staff_of(s, agent_id, case.office_id)
        detail = {"from_agent_id": case.assigned_agent_id, "to_agent_id": agent_id, "reason": reason}
        _step(s, case, "transfer", now, user.id, detail, assigned_agent_id=agent_id, reason=reason)
        audit.record(
            s, p.actor, "case.transferred", target_type="case", target_id=case_id, to_agent_id=agent_id
        )
    ctx.events.publish(case.office_id, "case.changed", {"case_id": case_id, "state": case.state})


def escalate_case(ctx: OfficeContext, p: Principal, case_id: int, reason: str) -> None:
    """兜底: hand the case to the office's supervisors."""
    user = p.require_user()
    now = ctx.clock.now()
    with writing(ctx) as s:
        case = _load_case(s, user, case_id)
        _may_act(case, user)
        detail = {"from_agent_id": case.assigned_agent_id, "reason": reason}
        _step(s, case, "escalate", now, user.id, detail, assigned_agent_id=None, reason=reason)
        audit.record(s, p.actor, "case.escalated", target_type="case", target_id=case_id)
    ctx.events.publish(case.office_id, "case.escalated", {"case_id": case_id, "number": case.number})


def complete_case(ctx: OfficeContext, p: Principal, case_id: int, notes: str) -> None:
    """办结: finish an open case."""
    user = p.require_user()
    now = ctx.clock.now()
    with writing(ctx) as s:
        case = _load_case(s, user, case_id)
        _may_act(case, user)
        values: dict[str, Any] = {"completed_at": now}
        if notes:
            values["notes"] = (case.notes + "\n" + notes).strip()
        _step(s, case, "complete", now, user.id, {}, **values)
        audit.record(s, p.actor, "case.completed", target_type="case", target_id=case_id)
    ctx.events.publish(case.office_id, "case.changed", {"case_id": case_id, "state": case.state})


def attach_documents(ctx: OfficeContext, p: Principal, case_id: int, document_ids: list[int]) -> None:
    """Add captured documents of the office to an open case."""
    user = p.require_user()
    now = ctx.clock.now()
    with writing(ctx) as s:
        case = _load_case(s, user, case_id)
        _may_act(case, user)
        docs = _check_documents(
            s, case.office_id, set(document_ids), case.id, ticket_id=case.ticket_id, agent_id=user.id
        )
        _step(s, case, "attach", now, user.id, {"document_ids": sorted(set(document_ids))})
        for d in docs:
            s.execute(update(Document).where(Document.id == d.id).values(case_id=case.id))
        audit.record(s, p.actor, "case.documents", target_type="case", target_id=case_id, n=len(docs))


def get_case(ctx: OfficeContext, p: Principal, case_id: int) -> Case:
    """One case of the caller's office (detached)."""
    user = p.require_user()
    with ctx.read_db() as s:
        case = _load_case(s, user, case_id)
        s.expunge(case)
        return case


def list_cases(
    ctx: OfficeContext,
    p: Principal,
    *,
    state: CaseState | None = None,
    overdue: bool | None = None,
    mine: bool = False,
    limit: int = 100,
) -> list[Case]:
    """Cases of the caller's office, newest first."""
    user = p.require_user()
    with ctx.read_db() as s:
        q = select(Case).where(Case.office_id == user.office_id)
        if state is not None:
            q = q.where(Case.state == state.value)
        if mine:
            q = q.where((Case.assigned_agent_id == user.id) | (Case.owner_agent_id == user.id))
        if overdue is not None:
            today = local_today(s, user.office_id or 0, ctx.clock.now())
            late = Case.state.in_(DUE_STATES) & (Case.due_date < today)
            q = q.where(late if overdue else ~late | Case.due_date.is_(None))
        rows = list(s.scalars(q.order_by(Case.created_at.desc(), Case.id.desc()).limit(limit)))
        for r in rows:
            s.expunge(r)
        return rows


def case_identity(ctx: OfficeContext, case: Case) -> dict[str, Any] | None:
    """The decrypted identity of a case (callers audit the read)."""
    if case.resident_enc is None:
        return None
    data: dict[str, Any] = json.loads(ctx.cipher.decrypt(case.resident_enc, context=_IDENTITY_CONTEXT))
    return data
