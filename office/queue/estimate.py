"""Honest wait estimates, shown as a range, and their measured accuracy.

Per-service handling time comes from the office's own timing records: the mean serve time
(``served_at`` → ``ended_at``) of its last ``estimate_window`` completed tickets of that service, once
there are at least ``estimate_min_samples`` of them; until then the service's configured duration.
A waiting ticket's expected wait is the sum of the handling times of the tickets called before it
(plus the per-call ring overhead), divided among the eligible agents online (available, ringing,
serving or in wrap-up; not paused or offline). The range is that figure −25 % … +25 % + 1 minute.
Each ticket stores its prediction at issue; :func:`accuracy` compares it with the actual wait.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from office.models import AgentSkill, AgentState, AgentStatus, Service, Ticket
from office.queue.config import QueueConfig
from office.queue.lifecycle import QUEUED_STATES
from office.queue.ordering import OrderFields, sql_ahead_of

__all__ = [
    "ONLINE_STATES",
    "Accuracy",
    "Estimate",
    "ServiceTimes",
    "accuracy",
    "agents_online",
    "estimate_for",
    "estimate_ticket",
]

#: Agent states that count as staffing the queue.
ONLINE_STATES = (AgentStatus.AVAILABLE, AgentStatus.RINGING, AgentStatus.SERVING, AgentStatus.WRAP_UP)


@dataclass(frozen=True, slots=True)
class Estimate:
    """Where a waiting ticket stands and how long it will probably wait."""

    position: int  # tickets called before it
    expected_s: int
    low_min: int
    high_min: int
    agents_online: int


class ServiceTimes:
    """Mean handling seconds per service, from the office's records (cached per instance)."""

    def __init__(self, session: Session, cfg: QueueConfig) -> None:
        self._s = session
        self._cfg = cfg
        self._cache: dict[int, float] = {}

    def seconds(self, service_id: int) -> float:
        """Mean handling time of ``service_id`` in this office."""
        if service_id not in self._cache:
            self._cache[service_id] = self._measure(service_id)
        return self._cache[service_id]

    def _measure(self, service_id: int) -> float:
        rows = self._s.execute(
            select(Ticket.served_at, Ticket.ended_at)
            .where(
                Ticket.office_id == self._cfg.office_id,
                Ticket.service_id == service_id,
                Ticket.state == "done",
                Ticket.served_at.is_not(None),
            )
            .order_by(Ticket.ended_at.desc())
            .limit(self._cfg.estimate_window)
        ).all()
        samples = [(r.ended_at - r.served_at).total_seconds() for r in rows if r.ended_at and r.served_at]
        if len(samples) >= self._cfg.estimate_min_samples:
            return float(sum(samples) / len(samples))
        configured = self._s.scalar(select(Service.expected_minutes).where(Service.id == service_id))
        return float((int(configured or 10)) * 60)


def agents_online(session: Session, office_id: int, skill: str) -> int:
    """Agents online in the office who may take a service needing ``skill``."""
    rows = session.execute(
        select(AgentState.user_id).where(
            AgentState.office_id == office_id, AgentState.state.in_(ONLINE_STATES)
        )
    ).all()
    ids = [r.user_id for r in rows]
    if not skill or not ids:
        return len(ids)
    skills: dict[int, set[str]] = {}
    for uid, sk in session.execute(
        select(AgentSkill.user_id, AgentSkill.skill).where(AgentSkill.user_id.in_(ids))
    ):
        skills.setdefault(uid, set()).add(sk)
    return sum(1 for uid in ids if uid not in skills or skill in skills[uid])


def estimate_for(
    session: Session,
    ticket: OrderFields,
    office_id: int,
    service_id: int,
    skill: str,
    cfg: QueueConfig,
    now: datetime,
    times: ServiceTimes | None = None,
) -> Estimate:
    """The estimate for a queued ticket (position 0 and the ring overhead when it is next)."""
    times = times or ServiceTimes(session, cfg)
    ahead = session.execute(
        select(Ticket.service_id, func.count())
        .where(
            Ticket.office_id == office_id,
            Ticket.state.in_(QUEUED_STATES),
            Ticket.id != ticket.id,
            sql_ahead_of(ticket, now, cfg.max_wait_bound_min),
        )
        .group_by(Ticket.service_id)
    ).all()
    online = agents_online(session, office_id, skill)
    position = sum(n for _, n in ahead)
    work = sum(n * times.seconds(sid) for sid, n in ahead) + (position + 1) * cfg.ring_overhead_s
    expected = work / max(online, 1)
    return Estimate(
        position=position,
        expected_s=round(expected),
        low_min=math.floor(expected * 0.75 / 60),
        high_min=math.ceil((expected * 1.25 + 60) / 60),
        agents_online=online,
    )


@dataclass(frozen=True, slots=True)
class Accuracy:
    """Predicted vs actual wait (issue → first call) over the tickets called in a period."""

    samples: int
    mae_s: float | None
    p90_error_s: float | None
    mean_wait_s: float | None


def accuracy(session: Session, office_id: int, first_day: date, last_day: date) -> Accuracy:
    """Mean absolute error and p90 absolute error of the predictions for tickets issued on those days."""
    rows = session.execute(
        select(Ticket.predicted_wait_s, Ticket.issued_at, Ticket.first_called_at).where(
            Ticket.office_id == office_id,
            Ticket.business_date >= first_day,
            Ticket.business_date <= last_day,
            Ticket.first_called_at.is_not(None),
            Ticket.predicted_wait_s.is_not(None),
        )
    ).all()
    waits = [(r.first_called_at - r.issued_at).total_seconds() for r in rows]
    errors = sorted(abs(w - r.predicted_wait_s) for w, r in zip(waits, rows, strict=True))
    if not errors:
        return Accuracy(0, None, None, None)
    p90 = errors[min(len(errors) - 1, math.ceil(0.9 * len(errors)) - 1)]
    return Accuracy(len(errors), sum(errors) / len(errors), p90, sum(waits) / len(waits))


def estimate_ticket(
    session: Session, ticket: Ticket, cfg: QueueConfig, now: datetime, times: ServiceTimes | None = None
) -> Estimate:
    """:func:`estimate_for` a stored ticket."""
    skill = session.scalar(select(Service.skill).where(Service.id == ticket.service_id)) or ""
    return estimate_for(session, ticket, ticket.office_id, ticket.service_id, skill, cfg, now, times)
