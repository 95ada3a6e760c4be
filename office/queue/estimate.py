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
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Integer, Select, bindparam, exists, func, literal_column, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from office.models import AgentSkill, AgentState, AgentStatus, Service, Ticket
from office.queue.config import QueueConfig
from office.queue.lifecycle import QUEUED_STATES
from office.queue.ordering import OrderFields, ahead_of_params, sql_ahead_of_bound

__all__ = [
    "ONLINE_STATES",
    "TIMES_TTL",
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


_T = Ticket.__table__.c


def _one_of(column: ColumnElement[str], values: Iterable[str]) -> ColumnElement[bool]:
    """``column IN ('a', 'b')`` with the (code-defined) constants written into the statement, so
    executing it does not expand a bound list each time."""
    consts = sorted(str(v) for v in values)
    if not all(c.isidentifier() for c in consts):
        raise ValueError(f"not a plain constant: {consts!r}")
    return column.in_([literal_column(f"'{c}'") for c in consts])


#: Recent serve times of one service (newest first), built once and executed with parameters.
_RECENT_TIMES = (
    select(_T.served_at, _T.ended_at)
    .where(
        _T.office_id == bindparam("office_id"),
        _T.service_id == bindparam("service_id"),
        _T.state == "done",
        _T.served_at.is_not(None),
    )
    .order_by(_T.ended_at.desc())
    .limit(bindparam("window", type_=Integer))
)
_CONFIGURED = select(Service.__table__.c.expected_minutes).where(
    Service.__table__.c.id == bindparam("service_id")
)

#: How long a measured handling time is reused (per process) by :func:`estimate_for`. It is the mean
#: of the last ``estimate_window`` services, so a few seconds of staleness moves no estimate a
#: resident could tell apart; it spares every take-number the timing query.
TIMES_TTL = timedelta(seconds=5)
_TIMES_MAX = 4096
_shared_times: weakref.WeakKeyDictionary[Engine, dict[tuple[int, int, int, int], tuple[datetime, float]]] = (
    weakref.WeakKeyDictionary()
)


class ServiceTimes:
    """Mean handling seconds per service, from the office's records (cached per instance).

    With ``now``, also shared per process and engine for :data:`TIMES_TTL` (keyed by office,
    service and the office's window settings; a clock that went back recomputes).
    """

    def __init__(self, session: Session, cfg: QueueConfig, now: datetime | None = None) -> None:
        self._s = session
        self._cfg = cfg
        self._now = now
        self._cache: dict[int, float] = {}

    def seconds(self, service_id: int) -> float:
        """Mean handling time of ``service_id`` in this office."""
        found = self._cache.get(service_id)
        if found is None:
            found = self._cache[service_id] = self._shared(service_id)
        return found

    def _shared(self, service_id: int) -> float:
        now = self._now
        if now is None:
            return self._measure(service_id)
        cfg = self._cfg
        shared = _shared_times.get(self._s.get_bind().engine)
        if shared is None:
            shared = _shared_times.setdefault(self._s.get_bind().engine, {})
        key = (cfg.office_id, service_id, cfg.estimate_window, cfg.estimate_min_samples)
        hit = shared.get(key)
        if hit is not None and hit[0] <= now < hit[0] + TIMES_TTL:
            return hit[1]
        value = self._measure(service_id)
        if len(shared) >= _TIMES_MAX:
            shared.clear()
        shared[key] = (now, value)
        return value

    def _measure(self, service_id: int) -> float:
        rows = self._s.execute(
            _RECENT_TIMES,
            {"office_id": self._cfg.office_id, "service_id": service_id, "window": self._cfg.estimate_window},
        ).all()
        samples = [(r.ended_at - r.served_at).total_seconds() for r in rows if r.ended_at and r.served_at]
        if len(samples) >= self._cfg.estimate_min_samples:
            return float(sum(samples) / len(samples))
        configured = self._s.scalar(_CONFIGURED, {"service_id": service_id})
        return float((int(configured or 10)) * 60)


def _online_statements() -> tuple[Select[Any], Select[Any]]:
    a, k = AgentState.__table__.c, AgentSkill.__table__.c
    online = (
        select(func.count())
        .select_from(AgentState.__table__)
        .where(a.office_id == bindparam("office_id"), _one_of(a.state, ONLINE_STATES))
    )
    has_skills = exists().where(k.user_id == a.user_id)
    has_skill = exists().where(k.user_id == a.user_id, k.skill == bindparam("skill"))
    return online, online.where(or_(~has_skills, has_skill))


#: Agents online (any, and those who may take a skill: generalists or holders of it), one statement.
_ONLINE_ANY, _ONLINE_SKILLED = _online_statements()


def agents_online(session: Session, office_id: int, skill: str) -> int:
    """Agents online in the office who may take a service needing ``skill`` (agents without skills
    are generalists)."""
    if not skill:
        return int(session.scalar(_ONLINE_ANY, {"office_id": office_id}) or 0)
    return int(session.scalar(_ONLINE_SKILLED, {"office_id": office_id, "skill": skill}) or 0)


def _ahead_statement(i_starve: bool) -> Select[Any]:
    return (
        select(_T.service_id, func.count())
        .where(
            _T.office_id == bindparam("office_id"),
            _one_of(_T.state, QUEUED_STATES),
            _T.id != bindparam("ahead_id"),
            sql_ahead_of_bound(_T, i_starve),
        )
        .group_by(_T.service_id)
    )


#: Queued tickets called before a given one, per service; by whether that one has waited past the bound.
_AHEAD = {i_starve: _ahead_statement(i_starve) for i_starve in (False, True)}


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
    """The estimate for a queued ticket (position 0 and the ring overhead when it is next).

    Without ``times``, handling times come from the per-process cache (see :data:`TIMES_TTL`).
    """
    times = times or ServiceTimes(session, cfg, now)
    i_starve, params = ahead_of_params(ticket, now, cfg.max_wait_bound_min)
    ahead = session.execute(_AHEAD[i_starve], {**params, "office_id": office_id}).all()
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
