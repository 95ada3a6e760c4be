"""The working-day calendar: statutory holidays, 调休 make-up days, opening hours, all in one zone.

Pure (no database, no clock): callers build a :class:`WorkingCalendar` from data — the shipped
mainland China holiday schedules (:data:`CN_HOLIDAYS`, :data:`CN_MAKEUP_DAYS`), an office's weekly
plan (:class:`WeeklyPlan`) and its per-date :class:`DateOverride` rows — and ask it:

- :meth:`WorkingCalendar.is_working_day` — the legal notion used for time limits (限时办结):
  Monday–Friday, minus public holidays, plus official make-up working days, unless overridden;
- :meth:`WorkingCalendar.add_working_days` — the due date of a case accepted on day D with a limit
  of N working days (the acceptance day is not counted; the result is the N-th working day after D);
- :meth:`WorkingCalendar.opening_intervals` — when the office is open on a date, as UTC instants:
  the day's hours minus breaks plus extended (延时) hours on working days, staggered (错时) hours on
  rest days, nothing on closures. Wall-clock times are resolved in the office's IANA zone with
  daylight-saving handled: a wall time that does not exist (spring forward) moves to the first
  instant after the gap; an ambiguous one (fall back) opens at its first and closes at its second
  occurrence, so an interval always covers its whole wall-clock span.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = [
    "CN_HOLIDAYS",
    "CN_MAKEUP_DAYS",
    "COVERED_YEARS",
    "DateOverride",
    "DayPlan",
    "Interval",
    "TimeRange",
    "WeeklyPlan",
    "WorkingCalendar",
    "local_instant",
]


def _days(first: date, last: date) -> Iterator[date]:
    d = first
    while d <= last:
        yield d
        d += timedelta(days=1)


def _holiday_table(rows: Iterable[tuple[date, date, str]]) -> dict[date, str]:
    return {d: name for first, last, name in rows for d in _days(first, last)}


#: Public holidays (放假) per the State Council notices 国办发明电〔2024〕12号 (2025, issued
#: 2024-11-12) and the notice of 2025-11-04 (2026). Weekends inside a holiday run are included.
CN_HOLIDAYS: Mapping[date, str] = _holiday_table(
    [
        (date(2025, 1, 1), date(2025, 1, 1), "元旦"),
        (date(2025, 1, 28), date(2025, 2, 4), "春节"),
        (date(2025, 4, 4), date(2025, 4, 6), "清明节"),
        (date(2025, 5, 1), date(2025, 5, 5), "劳动节"),
        (date(2025, 5, 31), date(2025, 6, 2), "端午节"),
        (date(2025, 10, 1), date(2025, 10, 8), "国庆节、中秋节"),
        (date(2026, 1, 1), date(2026, 1, 3), "元旦"),
        (date(2026, 2, 15), date(2026, 2, 23), "春节"),
        (date(2026, 4, 4), date(2026, 4, 6), "清明节"),
        (date(2026, 5, 1), date(2026, 5, 5), "劳动节"),
        (date(2026, 6, 19), date(2026, 6, 21), "端午节"),
        (date(2026, 9, 25), date(2026, 9, 27), "中秋节"),
        (date(2026, 10, 1), date(2026, 10, 7), "国庆节"),
    ]
)

#: Official make-up working days (调休上班), weekends that are working days, same notices.
CN_MAKEUP_DAYS: Mapping[date, str] = {
    date(2025, 1, 26): "春节调休",
    date(2025, 2, 8): "春节调休",
    date(2025, 4, 27): "劳动节调休",
    date(2025, 9, 28): "国庆节调休",
    date(2025, 10, 11): "国庆节调休",
    date(2026, 1, 4): "元旦调休",
    date(2026, 2, 14): "春节调休",
    date(2026, 2, 28): "春节调休",
    date(2026, 5, 9): "劳动节调休",
    date(2026, 9, 20): "国庆节调休",
    date(2026, 10, 10): "国庆节调休",
}

#: Years for which the shipped tables are the official schedule; other years fall back to plain
#: weekends (see :meth:`WorkingCalendar.covers`).
COVERED_YEARS = frozenset({2025, 2026})


@dataclass(frozen=True, slots=True)
class TimeRange:
    """A wall-clock range within one day, ``start < end`` (``end`` may be 24:00 as ``time.max``)."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("TimeRange takes naive wall-clock times")
        if not self.start < self.end:
            raise ValueError("a time range must end after it starts")

    @classmethod
    def parse(cls, text: str) -> TimeRange:
        """``"09:00-12:00"`` → TimeRange."""
        a, sep, b = text.partition("-")
        if not sep:
            raise ValueError("expected HH:MM-HH:MM")
        return cls(time.fromisoformat(a.strip()), time.fromisoformat(b.strip()))

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def _subtract(ranges: Iterable[TimeRange], cuts: Iterable[TimeRange]) -> list[TimeRange]:
    out = sorted(ranges, key=lambda r: r.start)
    for cut in cuts:
        nxt: list[TimeRange] = []
        for r in out:
            if cut.end <= r.start or cut.start >= r.end:
                nxt.append(r)
                continue
            if r.start < cut.start:
                nxt.append(TimeRange(r.start, cut.start))
            if cut.end < r.end:
                nxt.append(TimeRange(cut.end, r.end))
        out = nxt
    return out


def _union(ranges: Iterable[TimeRange]) -> list[TimeRange]:
    merged: list[TimeRange] = []
    for r in sorted(ranges, key=lambda r: r.start):
        if merged and r.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = TimeRange(last.start, max(last.end, r.end))
        else:
            merged.append(r)
    return merged


@dataclass(frozen=True, slots=True)
class DayPlan:
    """One day's opening: ``hours`` minus ``breaks``, plus ``extended`` (延时/错时) hours."""

    hours: tuple[TimeRange, ...] = ()
    breaks: tuple[TimeRange, ...] = ()
    extended: tuple[TimeRange, ...] = ()

    def ranges(self) -> list[TimeRange]:
        """The day's open wall-clock ranges, disjoint and sorted."""
        return _union([*_subtract(self.hours, self.breaks), *self.extended])

    @property
    def is_closed(self) -> bool:
        """True when nothing is open."""
        return not self.ranges()


CLOSED = DayPlan()


@dataclass(frozen=True, slots=True)
class WeeklyPlan:
    """An office's standing hours.

    ``working`` maps weekday (0 = Monday) → plan on working days; ``rest`` maps weekday → the
    staggered hours (错时) kept on rest days (weekends that are not holidays); ``makeup`` is the plan
    on official make-up working days (default: Monday's); ``holiday`` is the plan on public
    holidays (default closed).
    """

    working: Mapping[int, DayPlan] = field(default_factory=dict)
    rest: Mapping[int, DayPlan] = field(default_factory=dict)
    makeup: DayPlan | None = None
    holiday: DayPlan = CLOSED

    @classmethod
    def office_hours(
        cls,
        hours: str = "09:00-17:00",
        lunch: str | None = "12:00-13:30",
        *,
        extended: Mapping[int, str] | None = None,
        saturday: str | None = None,
    ) -> WeeklyPlan:
        """A plan with the same hours Monday–Friday, optional 延时 per weekday and 错时 Saturday."""
        base = TimeRange.parse(hours)
        breaks = (TimeRange.parse(lunch),) if lunch else ()
        ext = extended or {}
        working = {
            wd: DayPlan((base,), breaks, (TimeRange.parse(ext[wd]),) if wd in ext else ()) for wd in range(5)
        }
        rest = {5: DayPlan((TimeRange.parse(saturday),))} if saturday else {}
        return cls(working=working, rest=rest)

    @classmethod
    def always_open(cls) -> WeeklyPlan:
        """Open around the clock every day (holidays included): a base on which only per-date
        overrides (closures, special hours) restrict anything."""
        day = DayPlan((TimeRange(time(0), time.max),))
        every = dict.fromkeys(range(7), day)
        return cls(working=every, rest=every, makeup=day, holiday=day)


@dataclass(frozen=True, slots=True)
class DateOverride:
    """A per-office exception for one date.

    ``closed`` shuts the office (closures); ``plan`` replaces the day's hours; ``working_day``
    overrides the legal working-day status (a local holiday or make-up day).
    """

    day: date
    closed: bool = False
    plan: DayPlan | None = None
    working_day: bool | None = None
    note: str = ""


@dataclass(frozen=True, slots=True, order=True)
class Interval:
    """A half-open span of time ``[start, end)`` between two aware UTC instants."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("Interval takes aware datetimes")
        if not self.start < self.end:
            raise ValueError("an interval must end after it starts")

    def __contains__(self, instant: object) -> bool:
        return isinstance(instant, datetime) and self.start <= instant < self.end

    def covers(self, start: datetime, end: datetime) -> bool:
        """True when ``[start, end)`` lies inside this interval."""
        return self.start <= start and end <= self.end

    @property
    def duration(self) -> timedelta:
        """Elapsed (real) time."""
        return self.end - self.start


def local_instant(day: date, wall: time, zone: ZoneInfo, *, late: bool = False) -> datetime:
    """The UTC instant of wall-clock ``wall`` on ``day`` in ``zone``.

    A non-existent wall time (inside a spring-forward gap) maps to the instant the gap ends; an
    ambiguous one (fall-back) maps to its first occurrence, or its second when ``late``.
    ``time.max`` means the end of the day (next midnight).
    """
    if wall == time.max:
        return local_instant(day + timedelta(days=1), time(0), zone)
    naive = datetime.combine(day, wall)
    candidate = naive.replace(tzinfo=zone, fold=1 if late else 0)
    utc = candidate.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) != naive:
        # In a gap: fold=1 resolves with the post-transition offset… which lands before the gap
        # end; the first valid instant after the gap is the transition itself.
        before = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
        after = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
        lo, hi = min(before, after), max(before, after)
        # The transition lies in (lo, hi]; find it by bisection on the UTC offset (whole seconds).
        off_lo = lo.astimezone(zone).utcoffset()
        while hi - lo > timedelta(seconds=1):
            mid = lo + (hi - lo) / 2
            mid = mid.replace(microsecond=0)
            if mid.astimezone(zone).utcoffset() == off_lo:
                lo = mid
            else:
                hi = mid
        return hi
    return utc


class WorkingCalendar:
    """Working days and opening hours of one office, in its IANA zone."""

    def __init__(
        self,
        zone: str | ZoneInfo = "Asia/Shanghai",
        *,
        weekly: WeeklyPlan | None = None,
        overrides: Iterable[DateOverride] = (),
        holidays: Mapping[date, str] = CN_HOLIDAYS,
        makeup_days: Mapping[date, str] = CN_MAKEUP_DAYS,
        covered_years: frozenset[int] = COVERED_YEARS,
    ) -> None:
        self.zone = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
        self.weekly = weekly or WeeklyPlan.office_hours()
        self.overrides = {o.day: o for o in overrides}
        self.holidays = holidays
        self.makeup_days = makeup_days
        self.covered_years = covered_years

    # --- working days (legal) -------------------------------------------------------------------

    def covers(self, day: date) -> bool:
        """True when the official holiday schedule for ``day``'s year is known."""
        return day.year in self.covered_years

    def holiday_name(self, day: date) -> str | None:
        """The public holiday on ``day``, if any."""
        return self.holidays.get(day)

    def is_makeup_day(self, day: date) -> bool:
        """True on an official 调休 make-up working day."""
        return day in self.makeup_days

    def is_working_day(self, day: date) -> bool:
        """The legal working-day status of ``day`` (office overrides win)."""
        override = self.overrides.get(day)
        if override is not None and override.working_day is not None:
            return override.working_day
        if day in self.holidays:
            return False
        if day in self.makeup_days:
            return True
        return day.weekday() < 5

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        d = day + timedelta(days=1)
        while not self.is_working_day(d):
            d += timedelta(days=1)
        return d

    def add_working_days(self, start: date, n: int) -> date:
        """The ``n``-th working day after ``start`` (``n == 0`` → ``start``); negative counts back."""
        d = start
        step = timedelta(days=1 if n >= 0 else -1)
        remaining = abs(n)
        while remaining:
            d += step
            if self.is_working_day(d):
                remaining -= 1
        return d

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in ``(start, end]`` (0 when ``end <= start``)."""
        return sum(1 for d in _days(start + timedelta(days=1), end) if self.is_working_day(d))

    def due_date(self, accepted_at: datetime, limit_working_days: int) -> date:
        """限时办结: the office-local due date of a case accepted at ``accepted_at``."""
        return self.add_working_days(self.local_date(accepted_at), limit_working_days)

    # --- opening hours --------------------------------------------------------------------------

    def local_date(self, instant: datetime) -> date:
        """The office-local calendar date of an aware instant."""
        if instant.tzinfo is None:
            raise ValueError("aware datetime required")
        return instant.astimezone(self.zone).date()

    def day_plan(self, day: date) -> DayPlan:
        """The plan in force on ``day`` after closures, overrides, holidays and make-up days."""
        override = self.overrides.get(day)
        if override is not None:
            if override.closed:
                return CLOSED
            if override.plan is not None:
                return override.plan
        if self.is_working_day(day):
            if self.is_makeup_day(day) and day.weekday() >= 5:
                return self.weekly.makeup or self.weekly.working.get(0, CLOSED)
            return self.weekly.working.get(day.weekday(), CLOSED)
        if day in self.holidays:
            return self.weekly.holiday
        return self.weekly.rest.get(day.weekday(), CLOSED)

    def is_closed_by_override(self, day: date) -> bool:
        """True when an office closure covers ``day``."""
        override = self.overrides.get(day)
        return override is not None and override.closed

    def opening_intervals(self, day: date) -> list[Interval]:
        """Open spans on ``day`` as UTC intervals (empty on closed days)."""
        out: list[Interval] = []
        for r in self.day_plan(day).ranges():
            start = local_instant(day, r.start, self.zone)
            end = local_instant(day, r.end, self.zone, late=True)
            if start < end:
                out.append(Interval(start, end))
        return out

    def is_open(self, instant: datetime) -> bool:
        """True when the office is open at ``instant``."""
        day = self.local_date(instant)
        return any(instant in i for i in self.opening_intervals(day))

    def day_span(self, day: date) -> Interval | None:
        """From the day's first opening to its last closing, breaks included (None when closed)."""
        intervals = self.opening_intervals(day)
        if not intervals:
            return None
        return Interval(intervals[0].start, max(i.end for i in intervals))

    def next_opening(self, instant: datetime, horizon_days: int = 400) -> datetime | None:
        """The first opening strictly after ``instant`` (UTC) within ``horizon_days`` days; None when
        the office never opens in that horizon."""
        day = self.local_date(instant)
        for offset in range(horizon_days + 1):
            for interval in self.opening_intervals(day + timedelta(days=offset)):
                if interval.start > instant:
                    return interval.start
        return None

    def slot_starts(self, day: date, length: timedelta, step: timedelta | None = None) -> list[datetime]:
        """Start instants of slots of real duration ``length`` that fit in ``day``'s open spans.

        Starts are aligned to the wall clock from each span's opening, every ``step`` (default
        ``length``); a start that falls in a DST gap is skipped, one repeated by a fall-back is
        offered once per real instant.
        """
        if length <= timedelta(0):
            raise ValueError("slot length must be positive")
        stride = step or length
        starts: list[datetime] = []
        midnight = datetime.combine(day, time(0)).replace(tzinfo=self.zone)
        next_midnight = datetime.combine(day + timedelta(days=1), time(0)).replace(tzinfo=self.zone)
        steady = midnight.utcoffset() == next_midnight.utcoffset()
        offset = midnight.utcoffset() or timedelta(0)
        for r in self.day_plan(day).ranges():
            span_end = local_instant(day, r.end, self.zone, late=True)
            wall = datetime.combine(day, r.start)
            stop = datetime.combine(day, r.end) if r.end != time.max else datetime.combine(day, time(0))
            if r.end == time.max:
                stop += timedelta(days=1)
            while wall < stop:
                if steady:  # no transition today: one subtraction per start
                    utc = (wall - offset).replace(tzinfo=UTC)
                    if utc + length <= span_end:
                        starts.append(utc)
                    wall += stride
                    continue
                for fold in (0, 1):
                    aware = wall.replace(tzinfo=self.zone, fold=fold)
                    utc = aware.astimezone(UTC)
                    if utc.astimezone(self.zone).replace(tzinfo=None) != wall:
                        continue  # in a gap
                    if utc + length <= span_end and utc not in starts:
                        starts.append(utc)
                wall += stride
        starts.sort()
        return starts

    def days(self, first: date, count: int) -> list[date]:
        """``count`` consecutive dates from ``first``."""
        return [first + timedelta(days=i) for i in range(count)]
