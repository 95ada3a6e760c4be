"""The resident panel of a call and look-up by ID number: masked, audited, office-scoped.

Look-up goes through the keyed hash only; the number itself is neither stored nor logged. Both reads
are audited (who, which call or that a look-up happened, how many cases), never the values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from office import audit
from office.auth import Principal
from office.calls.service import load_call
from office.cases.access import require_need
from office.cases.identity import call_identity, decrypt_identity, masked_identity
from office.cases.lifecycle import OPEN_STATES
from office.cases.service import is_overdue, local_today
from office.context import OfficeContext
from office.models import Case, Verification
from office.queue.status import service_names

__all__ = ["OpenCase", "ResidentPanel", "VerificationView", "lookup_resident", "resident_panel"]


@dataclass(frozen=True, slots=True)
class OpenCase:
    """An open case of a resident."""

    id: int
    number: str
    service_id: int
    service_name: str
    state: str
    due_date: date | None
    overdue: bool


@dataclass(frozen=True, slots=True)
class VerificationView:
    """A verification result of the call."""

    kind: str
    matched: bool
    score: int
    at: datetime


@dataclass(frozen=True, slots=True)
class ResidentPanel:
    """What the agent's resident panel shows for a call."""

    call_id: str
    resident_ref: str | None
    identity: dict[str, Any] | None
    verifications: list[VerificationView]
    open_cases: list[OpenCase]


def _open_cases(ctx: OfficeContext, s: Session, office_id: int, resident_hash: str) -> list[OpenCase]:
    today = local_today(s, office_id, ctx.clock.now())
    rows = s.scalars(
        select(Case)
        .where(Case.office_id == office_id, Case.resident_hash == resident_hash, Case.state.in_(OPEN_STATES))
        .order_by(Case.created_at.desc())
        .limit(50)
    )
    return [
        OpenCase(
            id=c.id,
            number=c.number,
            service_id=c.service_id,
            service_name=service_names(ctx, c.service_id, c.service_version)[0],
            state=c.state,
            due_date=c.due_date,
            overdue=is_overdue(c, today),
        )
        for c in rows
    ]


def resident_panel(ctx: OfficeContext, p: Principal, call_id: str) -> ResidentPanel:
    """The masked identity, verifications and open cases of the resident in ``call_id``."""
    user = p.require_user()
    with ctx.read_db() as s:
        call = load_call(s, call_id)
        office_id, agent_id = call.office_id, call.agent_id
    require_need(
        ctx,
        p,
        user,
        office_id=office_id,
        agents={agent_id},
        action="resident.read",
        target_type="call",
        target_id=call_id,
    )
    with ctx.read_db() as s:
        call = load_call(s, call_id)
        row = call_identity(s, call)
        identity = None
        cases: list[OpenCase] = []
        if row is not None:
            today = local_today(s, office_id, ctx.clock.now())
            identity = masked_identity(decrypt_identity(ctx, row), today)
            cases = _open_cases(ctx, s, office_id, row.resident_hash)
        verifications = [
            VerificationView(v.kind, v.matched, v.score, v.at)
            for v in s.scalars(
                select(Verification).where(Verification.call_id == call_id).order_by(Verification.id)
            )
        ]
        ref = row.ref if row is not None else None
    with ctx.db() as s, s.begin():
        audit.record(
            s,
            p.actor,
            "resident.read",
            target_type="call",
            target_id=call_id,
            identity=identity is not None,
            open_cases=len(cases),
        )
    return ResidentPanel(call_id, ref, identity, verifications, cases)


def lookup_resident(ctx: OfficeContext, p: Principal, id_number: str) -> list[OpenCase]:
    """Open cases in the caller's office of the resident with ``id_number`` (via the keyed hash)."""
    user = p.require_user()
    resident_hash = ctx.cipher.lookup_hash(id_number)
    with ctx.read_db() as s:
        cases = _open_cases(ctx, s, user.office_id or 0, resident_hash)
    with ctx.db() as s, s.begin():
        audit.record(
            s,
            p.actor,
            "resident.lookup",
            target_type="office",
            target_id=user.office_id or "",
            open_cases=len(cases),
        )
    return cases
