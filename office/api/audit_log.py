"""Reading the audit trail (admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Query, Request
from pydantic import BaseModel
from sqlalchemy import select

from office.api.common import MAX_ID, AdminOnly, PrefixRouter
from office.auth import ctx_of
from office.models import AuditEvent

router = PrefixRouter(prefix="/api/audit", tags=["audit"])


class AuditOut(BaseModel):
    """One audit event."""

    id: int
    at: datetime
    actor_type: str
    actor_id: str
    action: str
    target_type: str
    target_id: str
    success: bool
    client_ip: str
    request_id: str
    details: dict[str, Any]


@router.get("", response_model=list[AuditOut], summary="Search the audit trail, newest first")
def search(
    request: Request,
    _: AdminOnly,
    action: str | None = Query(default=None, max_length=64),
    target_type: str | None = Query(default=None, max_length=32),
    target_id: str | None = Query(default=None, max_length=64),
    before_id: int | None = Query(default=None, ge=1, le=MAX_ID),
    limit: int = Query(default=100, ge=1, le=1000),
) -> list[AuditOut]:
    q = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if action:
        q = q.where(AuditEvent.action == action)
    if target_type:
        q = q.where(AuditEvent.target_type == target_type)
    if target_id:
        q = q.where(AuditEvent.target_id == target_id)
    if before_id:
        q = q.where(AuditEvent.id < before_id)
    with ctx_of(request).read_db() as s:
        return [
            AuditOut(
                id=e.id,
                at=e.at,
                actor_type=e.actor_type,
                actor_id=e.actor_id,
                action=e.action,
                target_type=e.target_type,
                target_id=e.target_id,
                success=e.success,
                client_ip=e.client_ip,
                request_id=e.request_id,
                details=e.details,
            )
            for e in s.scalars(q)
        ]
