"""Agents' queue states (offline, available, ringing, serving, wrap_up, paused) and skills.

Agents set ``available``, ``paused`` (with a reason), ``wrap_up`` and ``offline`` themselves; the
queue moves them through ``ringing`` and ``serving``. Every change is a compare-and-swap on the
agent's row through :data:`office.queue.lifecycle.AGENT_TRANSITIONS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from office import audit
from office.audit import Actor
from office.context import OfficeContext
from office.errors import ApiError
from office.models import AgentSkill, AgentState, AgentStatus, User
from office.queue.transitions import move_agent
from office.queue.txn import writing

__all__ = ["SELF_SERVICE_EVENTS", "AgentView", "list_agents", "set_skills", "set_state"]

#: The state an agent may ask for → the lifecycle event that gets there.
SELF_SERVICE_EVENTS = {
    AgentStatus.AVAILABLE: "go_available",
    AgentStatus.PAUSED: "pause",
    AgentStatus.WRAP_UP: "wrap_up",
    AgentStatus.OFFLINE: "go_offline",
}


@dataclass(frozen=True, slots=True)
class AgentView:
    """An agent's queue state as consoles show it (no personal data beyond the display name)."""

    user_id: int
    display_name: str
    office_id: int
    state: str
    pause_reason: str
    since: datetime
    window_no: int
    current_ticket_id: int | None
    skills: list[str]


def _ensure_row(s: Session, user_id: int, office_id: int, now: datetime) -> AgentState:
    row = s.get(AgentState, user_id)
    if row is None:
        row = AgentState(
            user_id=user_id,
            office_id=office_id,
            state=AgentStatus.OFFLINE.value,
            since=now,
            window_no=user_id,
        )
        s.add(row)
        s.flush()
    return row


def set_state(
    ctx: OfficeContext,
    user_id: int,
    office_id: int,
    state: AgentStatus,
    *,
    reason: str = "",
    window_no: int | None = None,
) -> AgentView:
    """Move the agent to ``state`` (one of :data:`SELF_SERVICE_EVENTS`)."""
    event = SELF_SERVICE_EVENTS.get(state)
    if event is None:
        raise ApiError(422, "state_not_settable", f"agents cannot set {state.value} themselves")
    if state is AgentStatus.PAUSED and not reason.strip():
        raise ApiError(422, "reason_required", "a pause needs a reason")
    now = ctx.clock.now()
    with writing(ctx) as s:
        row = _ensure_row(s, user_id, office_id, now)
        if window_no is not None:
            row.window_no = window_no
            s.flush()
        move_agent(
            s, user_id, event, now, pause_reason=reason.strip()[:100] if state is AgentStatus.PAUSED else ""
        )
    view = _view(ctx, user_id)
    ctx.events.publish(
        office_id, "queue.agent", {"user_id": user_id, "state": view.state, "window_no": view.window_no}
    )
    return view


def set_skills(
    ctx: OfficeContext, user_id: int, office_id: int, skills: list[str], actor: Actor
) -> AgentView:
    """Replace an agent's skills (an empty list makes them a generalist, 全科)."""
    now = ctx.clock.now()
    with writing(ctx) as s:
        _ensure_row(s, user_id, office_id, now)
        s.execute(delete(AgentSkill).where(AgentSkill.user_id == user_id))
        for skill in sorted(set(skills)):
            s.add(AgentSkill(user_id=user_id, skill=skill))
        audit.record(
            s, actor, "agent.skills_set", target_type="user", target_id=user_id, skills=sorted(set(skills))
        )
    return _view(ctx, user_id)


def _view(ctx: OfficeContext, user_id: int) -> AgentView:
    with ctx.read_db() as s:
        views = _views(s, select(AgentState).where(AgentState.user_id == user_id))
    if not views:
        raise ApiError(404, "agent_not_found", "no such agent")
    return views[0]


def list_agents(ctx: OfficeContext, office_id: int) -> list[AgentView]:
    """Every agent with a queue state in the office."""
    with ctx.read_db() as s:
        return _views(
            s, select(AgentState).where(AgentState.office_id == office_id).order_by(AgentState.user_id)
        )


def _views(s: Session, q: object) -> list[AgentView]:
    rows = list(s.scalars(q))  # type: ignore[call-overload]
    if not rows:
        return []
    ids = [r.user_id for r in rows]
    names = {r[0]: r[1] for r in s.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all()}
    skills: dict[int, list[str]] = {}
    for uid, sk in s.execute(
        select(AgentSkill.user_id, AgentSkill.skill)
        .where(AgentSkill.user_id.in_(ids))
        .order_by(AgentSkill.skill)
    ):
        skills.setdefault(uid, []).append(sk)
    return [
        AgentView(
            user_id=r.user_id,
            display_name=names.get(r.user_id, ""),
            office_id=r.office_id,
            state=r.state,
            pause_reason=r.pause_reason,
            since=r.since,
            window_no=r.window_no,
            current_ticket_id=r.current_ticket_id,
            skills=skills.get(r.user_id, []),
        )
        for r in rows
    ]
