"""The statistics rollup: per office-local day, additive counters and exact value histograms.

A finished day of an office is *rolled up* once (``office.stats.rollup``): its tickets' figures per
station × service (:class:`StatsDay`), per agent (:class:`StatsAgentDay`), and the multiset of the
values percentiles and target shares need (:class:`StatsDayValue`, :class:`StatsAgentDayValue`:
value → how many tickets had it, at the millisecond resolution the figures are defined at, so a
percentile from summed histograms is the exact one). :class:`StatsRollup` marks a day as rolled;
period queries read rolled days from these tables and everything else from the raw rows.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from office.models.base import Base, UTCDateTime, utcnow

__all__ = [
    "StatsAgentDay",
    "StatsAgentDayValue",
    "StatsDay",
    "StatsDayValue",
    "StatsRollup",
    "StatsRollupMark",
]


class StatsRollup(Base):
    """A rolled office-local day: its rows in the stats tables are complete as of ``rolled_at``."""

    __tablename__ = "stats_rollups"

    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    rolled_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    tickets: Mapped[int] = mapped_column(Integer, default=0)


class StatsRollupMark(Base):
    """How far the rollup job has looked for late changes to rolled days (per office)."""

    __tablename__ = "stats_rollup_marks"

    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), primary_key=True)
    #: Ticket events with a larger id have not been checked yet.
    event_id: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Ratings created (or replaced) at or after this instant have not been checked yet.
    rating_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class StatsDay(Base):
    """One office-local day's tickets of one station and service (the business date's tickets)."""

    __tablename__ = "stats_days"

    office_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    station_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0: no station
    service_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issued: Mapped[int] = mapped_column(Integer, default=0)
    served: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    no_show: Mapped[int] = mapped_column(Integer, default=0)
    abandoned: Mapped[int] = mapped_column(Integer, default=0)
    unserved_at_close: Mapped[int] = mapped_column(Integer, default=0)
    ended: Mapped[int] = mapped_column(Integer, default=0)
    wait_sum_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    handling_n: Mapped[int] = mapped_column(Integer, default=0)
    handling_sum_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    ratings: Mapped[int] = mapped_column(Integer, default=0)
    rating_defaults: Mapped[int] = mapped_column(Integer, default=0)
    rating_good: Mapped[int] = mapped_column(Integer, default=0)
    rating_bad: Mapped[int] = mapped_column(Integer, default=0)
    rating_level_sum: Mapped[int] = mapped_column(Integer, default=0)
    est_n: Mapped[int] = mapped_column(Integer, default=0)
    est_err_sum_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    est_wait_sum_ms: Mapped[int] = mapped_column(BigInteger, default=0)


class StatsDayValue(Base):
    """How many of a day's tickets (of one station and service) had ``value`` for ``kind``:
    ``wait`` / ``handling`` / ``est_err`` in milliseconds, ``q15`` the UTC quarter-hour
    (epoch seconds / 900) of the first serve."""

    __tablename__ = "stats_day_values"

    office_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    station_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class StatsAgentDay(Base):
    """One agent's part of an office-local day's tickets."""

    __tablename__ = "stats_agent_days"

    office_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    agent_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Tickets the agent had in ``serving`` at least once (a row of the per-agent table).
    touched: Mapped[int] = mapped_column(Integer, default=0)
    served: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    handling_sum_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    ratings: Mapped[int] = mapped_column(Integer, default=0)
    rating_defaults: Mapped[int] = mapped_column(Integer, default=0)
    rating_good: Mapped[int] = mapped_column(Integer, default=0)
    rating_bad: Mapped[int] = mapped_column(Integer, default=0)
    rating_level_sum: Mapped[int] = mapped_column(Integer, default=0)


class StatsAgentDayValue(Base):
    """How many of an agent's completed tickets of a day had this handling time (milliseconds)."""

    __tablename__ = "stats_agent_day_values"

    office_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    agent_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)
