"""Period statistics on generated histories with known answers, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from office.queue.estimate import accuracy
from office.stats import Period
from office.stats.period import (
    agent_figures,
    figures,
    satisfaction_trend,
    served_per_hour,
    wait_accuracy,
    wait_distribution,
)
from tests.conftest import TestDatabase
from tests.office.test_stats_support import ZONE, Expected, History

D1 = date(2026, 3, 2)
D2 = date(2026, 3, 3)
TARGET_S = 15 * 60.0


@pytest.fixture
def history(database: TestDatabase) -> History:
    """Two days of every scenario (plus a call across midnight) in one office, and a second office."""
    h = History(seed=11)
    other = History(seed=12)
    with Session(database.engine) as s, s.begin():
        h.setup(s)
        other.setup(s, code="ST2")
        h.day(D1, 48)
        h.midnight(D1)
        h.day(D2, 36)
        h.store(s)
        other.day(D1, 12)
        other.store(s)
    return h


def _same(actual: float | None, expected: float | None) -> bool:
    if expected is None or actual is None:
        return actual is expected
    return abs(actual - expected) < 0.01


def _check(fig: object, exp: Expected) -> None:
    f = fig
    assert (
        f.issued,  # type: ignore[attr-defined]
        f.served,  # type: ignore[attr-defined]
        f.completed,  # type: ignore[attr-defined]
        f.no_show,  # type: ignore[attr-defined]
        f.abandoned,  # type: ignore[attr-defined]
        f.unserved_at_close,  # type: ignore[attr-defined]
        f.ended,  # type: ignore[attr-defined]
        f.within_target,  # type: ignore[attr-defined]
    ) == (
        exp.issued,
        exp.served,
        exp.completed,
        exp.no_show,
        exp.abandoned,
        exp.unserved_at_close,
        exp.ended,
        exp.within_target,
    )
    for name in ("wait_mean_s", "wait_p90_s", "handling_mean_s", "handling_p90_s"):
        assert _same(getattr(f, name), getattr(exp, name)), (name, getattr(f, name), getattr(exp, name))
    sat = f.satisfaction  # type: ignore[attr-defined]
    assert (sat.ratings, sat.good, sat.bad, sat.defaults) == (exp.ratings, exp.good, exp.bad, exp.defaults)
    assert _same(sat.mean_level, exp.mean_level)


@pytest.mark.parametrize(("first", "last"), [(D1, D1), (D2, D2), (D1, D2)])
def test_office_figures_match_the_generated_history(
    database: TestDatabase, history: History, first: date, last: date
) -> None:
    """Served, waits, handling, no-shows, abandonment, target share and ratings equal the known answers."""
    with Session(database.engine) as s:
        (fig,) = figures(s, history.office_id, Period(first, last, ZONE), TARGET_S)
    exp = history.expected(first, last, TARGET_S)
    _check(fig, exp)
    assert fig.no_show > 0 and fig.abandoned > 0 and fig.unserved_at_close > 0
    assert fig.no_show_rate == exp.no_show / exp.ended


@pytest.mark.parametrize("by", ["station", "service"])
def test_figures_by_station_and_service(database: TestDatabase, history: History, by: str) -> None:
    """Each station's and service's row equals the figures of its own tickets."""
    with Session(database.engine) as s:
        rows = figures(s, history.office_id, Period(D1, D2, ZONE), TARGET_S, by=by)  # type: ignore[arg-type]
    exp = history.expected_by(D1, D2, TARGET_S, by)
    assert {r.key for r in rows} == set(exp)
    for r in rows:
        assert r.key is not None
        _check(r, exp[r.key])


def test_agent_figures_count_each_agents_own_serving_segments(
    database: TestDatabase, history: History
) -> None:
    """A transferred ticket's handling is split between the agents who served it."""
    with Session(database.engine) as s:
        rows = agent_figures(s, history.office_id, Period(D1, D2, ZONE))
    exp = history.expected_agents(D1, D2)
    assert {r.agent_id for r in rows} == set(exp)
    for r in rows:
        e = exp[r.agent_id]
        assert (r.served, r.completed, r.satisfaction.ratings) == (e["served"], e["completed"], e["ratings"])
        assert _same(r.handling_mean_s, e["handling_mean_s"])  # type: ignore[arg-type]
        assert _same(r.handling_p90_s, e["handling_p90_s"])  # type: ignore[arg-type]
        assert _same(r.satisfaction.good_rate, e["good_rate"])  # type: ignore[arg-type]


def test_call_spanning_midnight_belongs_to_the_day_it_was_issued(
    database: TestDatabase, history: History
) -> None:
    """The 23:40 ticket served 23:55–00:15 counts on day 1 (hour 23), not on day 2."""
    with Session(database.engine) as s:
        hours1 = served_per_hour(s, history.office_id, Period(D1, D1, ZONE))
        hours2 = served_per_hour(s, history.office_id, Period(D2, D2, ZONE))
        (day2,) = figures(s, history.office_id, Period(D2, D2, ZONE), TARGET_S)
    assert [h.served for h in hours1] == history.expected_hours(D1, D1)
    assert hours1[23].served == 1
    assert [h.served for h in hours2] == history.expected_hours(D2, D2)
    assert hours2[0].served == 0
    assert day2.issued == history.expected(D2, D2, TARGET_S).issued


def test_wait_distribution_and_satisfaction_trend(database: TestDatabase, history: History) -> None:
    """Wait bins and the daily trend equal the generator's counts."""
    with Session(database.engine) as s:
        bins = wait_distribution(s, history.office_id, Period(D1, D2, ZONE))
        trend = satisfaction_trend(s, history.office_id, Period(D1, D2, ZONE))
    assert [b.count for b in bins] == history.expected_wait_bins(D1, D2)
    assert bins[-1].high_min is None
    assert [t.day for t in trend] == [D1, D2]
    for t in trend:
        exp = history.expected(t.day, t.day, TARGET_S)
        assert (t.served, t.satisfaction.ratings, t.satisfaction.good) == (exp.served, exp.ratings, exp.good)


def test_an_empty_period_has_zero_counts_and_no_averages(database: TestDatabase, history: History) -> None:
    """A day without tickets: zeros, and None where a mean or rate has nothing to divide."""
    with Session(database.engine) as s:
        (fig,) = figures(s, history.office_id, Period(date(2026, 4, 1), date(2026, 4, 1), ZONE), TARGET_S)
    assert (fig.issued, fig.served, fig.wait_mean_s, fig.wait_p90_s, fig.no_show_rate) == (
        0,
        0,
        None,
        None,
        None,
    )


def test_wait_accuracy_in_sql_equals_the_queue_estimate_module(
    database: TestDatabase, history: History
) -> None:
    """The dashboard's SQL accuracy gives the figures of office.queue.estimate.accuracy."""
    with Session(database.engine) as s:
        mine = wait_accuracy(s, history.office_id, Period(D1, D2, ZONE))
        ref = accuracy(s, history.office_id, D1, D2)
    assert mine.samples == ref.samples > 5
    for name in ("mae_s", "p90_error_s", "mean_wait_s"):
        assert _same(getattr(mine, name), getattr(ref, name)), name
