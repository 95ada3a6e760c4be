"""Office schedules from the database: the weekly plan (validated JSON), date overrides, the rota.

:func:`load_calendar` builds the office's :class:`office.calendar.WorkingCalendar`;
:class:`Rota` answers "how many agents able to serve this service work all of this slot".
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from office.calendar import DateOverride, DayPlan, TimeRange, WeeklyPlan, WorkingCalendar, local_instant
from office.errors import ApiError
from office.models import AgentSkill, CalendarOverride, Office, OfficeSchedule, RotaShift, User

__all__ = [
    "DayPlanSpec",
    "Rota",
    "WeeklyPlanSpec",
    "date_override",
    "load_calendar",
    "load_rota",
    "office_zone",
    "weekly_plan",
]


def _ranges(values: Iterable[str]) -> tuple[TimeRange, ...]:
    return tuple(TimeRange.parse(v) for v in values)


class DayPlanSpec(BaseModel):
    """One day's hours as ``"HH:MM-HH:MM"`` strings."""

    model_config = ConfigDict(extra="forbid")

    hours: list[str] = Field(default_factory=list, max_length=8)
    breaks: list[str] = Field(default_factory=list, max_length=8)
    extended: list[str] = Field(default_factory=list, max_length=8)

    @field_validator("hours", "breaks", "extended")
    @classmethod
    def _valid_ranges(cls, values: list[str]) -> list[str]:
        for v in values:
            TimeRange.parse(v)  # raises ValueError → 422
        return values

    def to_plan(self) -> DayPlan:
        """The calendar's form."""
        return DayPlan(_ranges(self.hours), _ranges(self.breaks), _ranges(self.extended))


def _default_spec() -> dict[str, DayPlanSpec]:
    return {str(wd): DayPlanSpec(hours=["09:00-17:00"], breaks=["12:00-13:30"]) for wd in range(5)}


class WeeklyPlanSpec(BaseModel):
    """An office's weekly plan (stored as JSON): weekday keys ``"0"`` (Monday) … ``"6"``."""

    model_config = ConfigDict(extra="forbid")

    working: dict[str, DayPlanSpec] = Field(default_factory=_default_spec)
    rest: dict[str, DayPlanSpec] = Field(default_factory=dict)
    makeup: DayPlanSpec | None = None
    holiday: DayPlanSpec | None = None

    @field_validator("working", "rest")
    @classmethod
    def _weekday_keys(cls, value: dict[str, DayPlanSpec]) -> dict[str, DayPlanSpec]:
        if not set(value) <= {str(i) for i in range(7)}:
            raise ValueError("weekday keys are '0' (Monday) to '6' (Sunday)")
        return value

    def to_plan(self) -> WeeklyPlan:
        """The calendar's form."""
        return WeeklyPlan(
            working={int(k): v.to_plan() for k, v in self.working.items()},
            rest={int(k): v.to_plan() for k, v in self.rest.items()},
            makeup=self.makeup.to_plan() if self.makeup else None,
            holiday=self.holiday.to_plan() if self.holiday else DayPlan(),
        )


def office_zone(session: Session, office_id: int) -> str:
    """The office's IANA zone; 404 for an unknown office."""
    zone = session.scalar(select(Office.timezone).where(Office.id == office_id))
    if zone is None:
        raise ApiError(404, "not_found", "no such office")
    return zone


def load_calendar(
    session: Session, office_id: int, *, first: date | None = None, last: date | None = None
) -> WorkingCalendar:
    """The office's calendar with its weekly plan and the overrides in ``[first, last]`` (all if open)."""
    zone = office_zone(session, office_id)
    row = session.get(OfficeSchedule, office_id)
    weekly = weekly_plan(row.plan) if row else WeeklyPlanSpec().to_plan()
    q = select(CalendarOverride).where(CalendarOverride.office_id == office_id)
    if first is not None:
        q = q.where(CalendarOverride.day >= first)
    if last is not None:
        q = q.where(CalendarOverride.day <= last)
    overrides = [date_override(o) for o in session.scalars(q)]
    return WorkingCalendar(zone, weekly=weekly, overrides=overrides)


class _OverrideFields(Protocol):
    @property
    def day(self) -> date: ...
    @property
    def closed(self) -> bool: ...
    @property
    def hours(self) -> list[str] | None: ...
    @property
    def working_day(self) -> bool | None: ...
    @property
    def note(self) -> str: ...


def date_override(o: _OverrideFields) -> DateOverride:
    """The calendar's form of a stored override (an ORM row or a result row of its columns)."""
    return DateOverride(
        day=o.day,
        closed=o.closed,
        plan=DayPlan(_ranges(o.hours)) if o.hours is not None else None,
        working_day=o.working_day,
        note=o.note,
    )


#: Parsed weekly plans keyed by their stored JSON text: an entry can never go stale (a changed plan
#: is another key); the bound only caps memory.
_plans: dict[str, WeeklyPlan] = {}
_PLANS_MAX = 1024


def weekly_plan(plan: dict[str, Any]) -> WeeklyPlan:
    """The calendar's form of a stored weekly plan (validated and converted once per distinct plan)."""
    key = json.dumps(plan, sort_keys=True)
    found = _plans.get(key)
    if found is None:
        found = WeeklyPlanSpec.model_validate(plan).to_plan()
        if len(_plans) >= _PLANS_MAX:
            _plans.clear()
        _plans[key] = found
    return found


@dataclass(frozen=True, slots=True)
class _Shift:
    user_id: int
    weekday: int
    start_min: int
    end_min: int


def _wall(minutes: int) -> time:
    return time.max if minutes >= 1440 else time(minutes // 60, minutes % 60)


class Rota:
    """Who works when at one office, and which skills they have (none = generalist, 全科)."""

    def __init__(
        self, calendar: WorkingCalendar, shifts: Iterable[_Shift], skills: dict[int, set[str]]
    ) -> None:
        self.calendar = calendar
        self.by_weekday: dict[int, list[_Shift]] = defaultdict(list)
        for s in shifts:
            self.by_weekday[s.weekday].append(s)
        self.skills = skills
        self._spans: dict[date, list[tuple[int, datetime, datetime]]] = {}
        self._eligible: dict[tuple[date, str], list[tuple[int, datetime, datetime]]] = {}

    def _weekday(self, day: date) -> int:
        if self.calendar.is_makeup_day(day) and day.weekday() >= 5:
            return 0
        return day.weekday()

    def spans(self, day: date) -> list[tuple[int, datetime, datetime]]:
        """(user, start, end) UTC spans worked on ``day`` (cached per day)."""
        cached = self._spans.get(day)
        if cached is None:
            zone = self.calendar.zone
            cached = [
                (
                    s.user_id,
                    local_instant(day, _wall(s.start_min), zone),
                    local_instant(day, _wall(s.end_min), zone, late=True),
                )
                for s in self.by_weekday.get(self._weekday(day), [])
            ]
            self._spans[day] = cached
        return cached

    def can_serve(self, user_id: int, skill: str) -> bool:
        """Generalists serve everything; skilled agents serve their skills and skill-less services."""
        own = self.skills.get(user_id)
        return not skill or not own or skill in own

    def capacity(self, skill: str, day: date, start: datetime, length: timedelta) -> int:
        """Distinct agents able to serve ``skill`` whose shift covers all of ``[start, start+length)``."""
        end = start + length
        key = (day, skill)
        eligible = self._eligible.get(key)
        if eligible is None:
            eligible = [sp for sp in self.spans(day) if self.can_serve(sp[0], skill)]
            self._eligible[key] = eligible
        return len({uid for uid, a, b in eligible if a <= start and end <= b})


def load_rota(session: Session, office_id: int, calendar: WorkingCalendar) -> Rota:
    """The office's rota (active users only) with their skills."""
    rows = session.execute(
        select(RotaShift.user_id, RotaShift.weekday, RotaShift.start_min, RotaShift.end_min)
        .join(User, User.id == RotaShift.user_id)
        .where(RotaShift.office_id == office_id, User.active.is_(True))
    ).all()
    shifts = [_Shift(r.user_id, r.weekday, r.start_min, r.end_min) for r in rows]
    skills: dict[int, set[str]] = defaultdict(set)
    if shifts:
        for uid, skill in session.execute(
            select(AgentSkill.user_id, AgentSkill.skill).where(
                AgentSkill.user_id.in_({s.user_id for s in shifts})
            )
        ):
            skills[uid].add(skill)
    return Rota(calendar, shifts, dict(skills))
