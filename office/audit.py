"""Writing audit events. Callers pass identifiers and codes, never personal data values."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from office.logs import request_id_var
from office.models import AuditEvent

__all__ = ["Actor", "record"]

log = logging.getLogger("office.audit")

_FORBIDDEN_DETAIL_KEYS = frozenset(
    {"id_number", "name", "address", "photo", "fingerprint", "password", "token", "phone", "image"}
)


class Actor:
    """Who acted: a user, a kiosk, the system, or an anonymous client (with its address)."""

    __slots__ = ("id", "ip", "type")

    def __init__(self, type_: str, id_: str | int = "", ip: str = "") -> None:
        self.type = type_
        self.id = str(id_)
        self.ip = ip

    def __repr__(self) -> str:
        return f"Actor({self.type}:{self.id})"


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    target_type: str = "",
    target_id: str | int = "",
    success: bool = True,
    **details: Any,
) -> AuditEvent:
    """Add an audit event to ``session`` (committed with the caller's unit of work).

    Raises ``ValueError`` when a detail key names personal data: the audit trail records that a
    value was read, not the value.
    """
    bad = _FORBIDDEN_DETAIL_KEYS.intersection(details)
    if bad:
        raise ValueError(f"audit details may not carry personal data fields: {sorted(bad)}")
    event = AuditEvent(
        actor_type=actor.type,
        actor_id=actor.id,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        success=success,
        client_ip=actor.ip,
        request_id=request_id_var.get(),
        details=details,
    )
    session.add(event)
    log.info(
        "audit",
        extra={
            "action": action,
            "actor": f"{actor.type}:{actor.id}",
            "target": f"{target_type}:{target_id}",
            "success": success,
        },
    )
    return event
