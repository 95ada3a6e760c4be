"""The statistics rollup: per office-local day, additive counters and exact value histograms.

A finished day of an office is *rolled up* once (``office.stats.rollup``): its tickets' figures for
the office, per station and per service (:class:`StatsDay`; ``-1`` in ``station_id`` /
``service_id`` means "all"), per agent (:class:`StatsAgentDay`), and the multiset of the values
percentiles and target shares need (:class:`StatsDayValue`, :class:`StatsAgentDayValue`: value →
how many tickets had it, at the millisecond resolution the figures are defined at, so a percentile
from summed histograms is the exact one). Primary keys are ordered so a period's histogram is read
in value order per group (no sort). :class:`StatsRollup` marks a day as rolled;
period queries read rolled days from these tables and everything else from the raw rows.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from office.models.base import Base, UTCDateTime, utcnow

__all__ = [
    "ALL",
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


#: ``station_id`` / ``service_id`` of a row about all stations / all services.
ALL = -1


class StatsDay(Base):
    """One office-local day's tickets: of the office (station and service ``ALL``), of one station
    (service ``ALL``; station 0: tickets without a station) or of one service (station ``ALL``)."""

    __tablename__ = "stats_days"
    __table_args__ = (Index("ix_stats_days_office_day", "office_id", "day"),)

    office_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    issued: Mapped[int] = mapped_column(Integer, default=0)
    served: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    no_show: Mapped[int] = mapped_column(Integer, default=0)
    abandoned: Mapped[int] = mapped_column(Integer, default=0)
    unserved_at_close: Mapped[int] = mapped_column(Integer, default=0)
    ended: Mapped[int] = mapped_column(Integer, default=0)
    #: Served within the target wait of each ticket's service (``services.target_wait_min`` when rolled).
    within_target: Mapped[int] = mapped_column(Integer, default=0)
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
    #: Served tickets per wait bin of ``office.stats.period.WAIT_BINS_MIN`` (0–5, 5–10, … ≥ 60 min).
    wait_bin_0: Mapped[int] = mapped_column(Integer, default=0)
    wait_bin_1: Mapped[int] = mapped_column(Integer, default=0)
    wait_bin_2: Mapped[int] = mapped_column(Integer, default=0)
    wait_bin_3: Mapped[int] = mapped_column(Integer, default=0)
    wait_bin_4: Mapped[int] = mapped_column(Integer, default=0)
    wait_bin_5: Mapped[int] = mapped_column(Integer, default=0)
    wait_bin_6: Mapped[int] = mapped_column(Integer, default=0)
    wait_bin_7: Mapped[int] = mapped_column(Integer, default=0)


class StatsDayValue(Base):
    """How many of a day's tickets (of the office, a station or a service, as in :class:`StatsDay`)
    had ``value`` for ``kind``: ``wait`` / ``handling`` / ``est_err`` in milliseconds, ``q15`` the
    UTC quarter-hour (epoch seconds / 900) of the first serve (``est_err``, ``q15``: office only)."""

    __tablename__ = "stats_day_values"
    #: Short periods read a few days of every group (the primary key serves long periods: values in
    #: order per group, read from the top for a percentile).
    __table_args__ = (Index("ix_stats_day_values_office_kind_day", "office_id", "kind", "day"),)

    office_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    service_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class StatsAgentDay(Base):
    """One agent's part of an office-local day's tickets."""

    __tablename__ = "stats_agent_days"

    office_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
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
    __table_args__ = (Index("ix_stats_agent_day_values_office_day", "office_id", "day"),)

    office_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)
