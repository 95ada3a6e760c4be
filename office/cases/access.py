"""Who may see a call's or case's personal data, and the audited refusal when someone may not.

Staff of the record's office with a need: the call's agent, the case's owner or assignee, or a
supervisor of that office. Another office's record is answered 404 (its existence is not revealed)
and the refusal is audited; a same-office agent without a need gets 403, audited too.
"""

from __future__ import annotations

from office import audit
from office.auth import AuthUser, Principal
from office.context import OfficeContext
from office.errors import ApiError
from office.models import Role

__all__ = ["refuse", "require_need"]


def refuse(
    ctx: OfficeContext, p: Principal, action: str, target_type: str, target_id: str | int, why: str
) -> ApiError:
    """Audit a refused read in its own transaction; the error to raise (404 other office, else 403)."""
    with ctx.db() as s, s.begin():
        audit.record(
            s, p.actor, action, target_type=target_type, target_id=target_id, success=False, refused=why
        )
    if why == "other_office":
        return ApiError(404, f"{target_type}_not_found", f"no such {target_type} in your office")
    return ApiError(403, "forbidden", f"you have no need to see this {target_type}")


def require_need(
    ctx: OfficeContext,
    p: Principal,
    user: AuthUser,
    *,
    office_id: int,
    agents: set[int | None],
    action: str,
    target_type: str,
    target_id: str | int,
) -> None:
    """Raise (after auditing) unless ``user`` is staff of ``office_id`` with a need."""
    if user.office_id != office_id:
        raise refuse(ctx, p, action, target_type, target_id, "other_office")
    if user.role is Role.SUPERVISOR:
        return
    if user.role is Role.AGENT and user.id in agents:
        return
    raise refuse(ctx, p, action, target_type, target_id, "no_need")
