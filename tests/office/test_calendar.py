"""The working-day calendar: holidays, 调休 make-up days, time limits, opening hours, DST."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from office.calendar import (
    CN_HOLIDAYS,
    CN_MAKEUP_DAYS,
    DateOverride,
    DayPlan,
    Interval,
    TimeRange,
    WeeklyPlan,
    WorkingCalendar,
    local_instant,
)

SH = ZoneInfo("Asia/Shanghai")


def cal(**kw: object) -> WorkingCalendar:
    return WorkingCalendar("Asia/Shanghai", **kw)  # type: ignore[arg-type]


def test_2025_and_2026_holiday_tables_match_the_state_council_notices() -> None:
    """Day counts per holiday run and make-up days are those of the two official notices."""
    by_name_year: dict[tuple[int, str], int] = {}
    for d, name in CN_HOLIDAYS.items():
        by_name_year[(d.year, name)] = by_name_year.get((d.year, name), 0) + 1
    assert by_name_year == {
        (2025, "元旦"): 1,
        (2025, "春节"): 8,
        (2025, "清明节"): 3,
        (2025, "劳动节"): 5,
        (2025, "端午节"): 3,
        (2025, "国庆节、中秋节"): 8,
        (2026, "元旦"): 3,
        (2026, "春节"): 9,
        (2026, "清明节"): 3,
        (2026, "劳动节"): 5,
        (2026, "端午节"): 3,
        (2026, "中秋节"): 3,
        (2026, "国庆节"): 7,
    }
    assert all(d.weekday() >= 5 for d in CN_MAKEUP_DAYS)
    assert not set(CN_MAKEUP_DAYS) & set(CN_HOLIDAYS)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 2, 13), True),  # Friday before Spring Festival
        (date(2026, 2, 14), True),  # Saturday make-up day
        (date(2026, 2, 16), False),  # Monday inside Spring Festival
        (date(2026, 2, 23), False),  # last day of Spring Festival (Monday)
        (date(2026, 2, 24), True),
        (date(2026, 2, 28), True),  # Saturday make-up day
        (date(2026, 3, 1), False),  # plain Sunday
        (date(2026, 1, 4), True),  # Sunday make-up day for 元旦
        (date(2026, 10, 8), True),  # Thursday after National Day
        (date(2026, 10, 10), True),  # Saturday make-up day
        (date(2025, 10, 8), False),  # 2025 National Day + Mid-Autumn runs to the 8th
        (date(2025, 10, 11), True),
    ],
)
def test_is_working_day_follows_holidays_and_makeup_days(day: date, working: bool) -> None:
    """Holidays are rest days, 调休 weekends are working days, other days follow the week."""
    assert cal().is_working_day(day) is working


def test_add_working_days_skips_spring_festival_and_counts_makeup_days() -> None:
    """A case accepted on Friday 2026-02-13 with a 5-working-day limit is due 2026-02-26."""
    c = cal()
    # 14 (make-up Saturday) is the 1st, then 24, 25, 26 and 27 after the holiday run.
    assert c.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert c.add_working_days(date(2026, 2, 13), 5) == date(2026, 2, 27)
    assert c.add_working_days(date(2026, 2, 13), 6) == date(2026, 2, 28)  # make-up Saturday counts
    assert c.add_working_days(date(2026, 2, 13), 0) == date(2026, 2, 13)
    assert c.add_working_days(date(2026, 2, 27), -5) == date(2026, 2, 13)


def test_due_date_uses_the_office_local_date_of_acceptance() -> None:
    """Accepted at 23:30 Shanghai (15:30 UTC) on Thursday counts from Thursday, not Wednesday."""
    c = cal()
    accepted = datetime(2026, 3, 5, 15, 30, tzinfo=UTC)  # Thu 23:30 local
    assert c.due_date(accepted, 1) == date(2026, 3, 6)
    assert c.due_date(accepted, 2) == date(2026, 3, 9)


def test_office_overrides_change_working_status_and_close_days() -> None:
    """A local working-day override wins over the national table; a closure empties the hours."""
    c = cal(
        overrides=[
            DateOverride(date(2026, 3, 4), closed=True, note="台风"),
            DateOverride(date(2026, 3, 6), working_day=False),
            DateOverride(date(2026, 2, 16), working_day=True),
        ]
    )
    assert c.opening_intervals(date(2026, 3, 4)) == []
    assert c.is_working_day(date(2026, 3, 4))  # a closure does not suspend legal time limits
    assert not c.is_working_day(date(2026, 3, 6))
    assert c.is_working_day(date(2026, 2, 16))
    assert c.is_closed_by_override(date(2026, 3, 4))


def test_opening_intervals_subtract_breaks_and_add_extended_hours() -> None:
    """Weekday hours minus lunch, plus Tuesday 延时 to 20:00, all converted to UTC."""
    c = cal(weekly=WeeklyPlan.office_hours("09:00-17:00", "12:00-13:30", extended={1: "17:00-20:00"}))
    mon = c.opening_intervals(date(2026, 3, 2))
    assert mon == [
        Interval(datetime(2026, 3, 2, 1, tzinfo=UTC), datetime(2026, 3, 2, 4, tzinfo=UTC)),
        Interval(datetime(2026, 3, 2, 5, 30, tzinfo=UTC), datetime(2026, 3, 2, 9, tzinfo=UTC)),
    ]
    tue = c.opening_intervals(date(2026, 3, 3))
    assert tue[-1] == Interval(datetime(2026, 3, 3, 5, 30, tzinfo=UTC), datetime(2026, 3, 3, 12, tzinfo=UTC))


def test_staggered_saturday_hours_apply_on_rest_days_but_not_on_holidays() -> None:
    """错时 Saturday hours open a plain Saturday, not a Saturday inside a public holiday."""
    c = cal(weekly=WeeklyPlan.office_hours(saturday="09:00-12:00"))
    assert len(c.opening_intervals(date(2026, 3, 7))) == 1
    assert c.opening_intervals(date(2026, 2, 21)) == []  # Saturday in Spring Festival
    assert c.opening_intervals(date(2026, 3, 8)) == []  # Sunday


def test_makeup_saturday_uses_the_working_day_plan() -> None:
    """On a 调休 Saturday the office keeps its Monday hours, not the Saturday 错时 hours."""
    c = cal(weekly=WeeklyPlan.office_hours(saturday="09:00-12:00"))
    assert c.day_plan(date(2026, 2, 28)) == c.day_plan(date(2026, 3, 2))


def test_override_plan_replaces_the_day_hours() -> None:
    """A special-hours override replaces the weekly plan for that date."""
    special = DayPlan((TimeRange(time(14), time(16)),))
    c = cal(overrides=[DateOverride(date(2026, 3, 2), plan=special)])
    assert c.opening_intervals(date(2026, 3, 2)) == [
        Interval(datetime(2026, 3, 2, 6, tzinfo=UTC), datetime(2026, 3, 2, 8, tzinfo=UTC))
    ]


def test_is_open_and_slot_starts_fit_inside_open_spans() -> None:
    """Slots of 30 minutes start every 30 minutes and never straddle lunch."""
    c = cal()
    starts = c.slot_starts(date(2026, 3, 2), timedelta(minutes=30))
    local = [s.astimezone(SH).strftime("%H:%M") for s in starts]
    assert local[:2] == ["09:00", "09:30"]
    assert "11:30" in local and "12:00" not in local and "13:00" not in local
    assert "13:30" in local and local[-1] == "16:30"
    assert c.is_open(datetime(2026, 3, 2, 1, tzinfo=UTC))
    assert not c.is_open(datetime(2026, 3, 2, 4, 15, tzinfo=UTC))


def test_berlin_spring_forward_shortens_the_span_and_skips_the_gap() -> None:
    """On 2026-03-29 in Berlin, 01:00-04:00 wall time is two real hours; 02:xx starts vanish."""
    plan = DayPlan((TimeRange(time(1), time(4)),))
    c = WorkingCalendar("Europe/Berlin", weekly=WeeklyPlan(working={}, rest={6: plan}), holidays={})
    (span,) = c.opening_intervals(date(2026, 3, 29))
    assert span.duration == timedelta(hours=2)
    starts = [
        s.astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M")
        for s in c.slot_starts(date(2026, 3, 29), timedelta(minutes=30))
    ]
    assert starts == ["01:00", "01:30", "03:00", "03:30"]


def test_berlin_fall_back_lengthens_the_span_and_offers_repeated_wall_times_twice() -> None:
    """On 2026-10-25 in Berlin, 01:00-04:00 is four real hours and 02:00 occurs twice."""
    plan = DayPlan((TimeRange(time(1), time(4)),))
    c = WorkingCalendar("Europe/Berlin", weekly=WeeklyPlan(working={}, rest={6: plan}), holidays={})
    (span,) = c.opening_intervals(date(2026, 10, 25))
    assert span.duration == timedelta(hours=4)
    starts = c.slot_starts(date(2026, 10, 25), timedelta(hours=1))
    assert len(starts) == 4 and len(set(starts)) == 4
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(starts))


def test_new_york_gap_instant_maps_to_the_transition() -> None:
    """02:30 on 2026-03-08 does not exist in New York; it resolves to 03:00 EDT (07:00 UTC)."""
    ny = ZoneInfo("America/New_York")
    assert local_instant(date(2026, 3, 8), time(2, 30), ny) == datetime(2026, 3, 8, 7, tzinfo=UTC)
    assert local_instant(date(2026, 11, 1), time(1, 30), ny) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert local_instant(date(2026, 11, 1), time(1, 30), ny, late=True) == datetime(
        2026, 11, 1, 6, 30, tzinfo=UTC
    )


def test_years_outside_the_tables_fall_back_to_weekends() -> None:
    """2027 is not covered: covers() says so and plain weekdays are working days."""
    c = cal()
    assert not c.covers(date(2027, 1, 1)) and c.covers(date(2026, 6, 1))
    assert c.is_working_day(date(2027, 1, 1))  # a Friday; no official table yet


def test_bad_ranges_are_refused() -> None:
    """Empty or inverted ranges and naive intervals raise ValueError."""
    with pytest.raises(ValueError):
        TimeRange(time(12), time(9))
    with pytest.raises(ValueError):
        TimeRange.parse("0900")
    with pytest.raises(ValueError):
        Interval(datetime(2026, 1, 1), datetime(2026, 1, 2))
    with pytest.raises(ValueError):
        cal().slot_starts(date(2026, 3, 2), timedelta(0))


@settings(max_examples=60, deadline=None)
@given(st.dates(date(2025, 1, 1), date(2026, 12, 31)), st.integers(0, 40))
def test_add_working_days_lands_on_a_working_day_and_round_trips(start: date, n: int) -> None:
    """The n-th working day after D is a working day, and there are exactly n in between."""
    c = cal()
    due = c.add_working_days(start, n)
    assert c.working_days_between(start, due) == n
    if n:
        assert c.is_working_day(due)
        assert c.add_working_days(due, -n) <= start


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["Asia/Shanghai", "Europe/Berlin", "America/New_York"]),
    st.dates(date(2025, 1, 1), date(2026, 12, 31)),
)
def test_slots_always_fit_in_open_intervals_in_any_zone(zone: str, day: date) -> None:
    """Every generated slot lies inside one opening interval of its day."""
    c = WorkingCalendar(
        zone, weekly=WeeklyPlan.office_hours(extended={3: "17:00-21:00"}, saturday="00:30-04:30")
    )
    spans = c.opening_intervals(day)
    length = timedelta(minutes=45)
    for s in c.slot_starts(day, length, timedelta(minutes=15)):
        assert any(i.covers(s, s + length) for i in spans)
