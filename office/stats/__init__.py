"""Statistics for supervisors: the live office and figures over office-local days.

* :mod:`office.stats.live` — stations (queue, kiosks online), agents by state, calls in progress;
* :mod:`office.stats.period` — served, waits, handling, no-shows, abandonment, target share,
  satisfaction, per station / service / agent, by hour, wait distribution, daily trend (SQL);
* :mod:`office.stats.percentiles` — the pure nearest-rank reference the SQL agrees with;
* :mod:`office.stats.periods` — office-local days as UTC instants.

Definitions are in docs/statistics.md.
"""

from office.stats.periods import MAX_PERIOD_DAYS, Period

__all__ = ["MAX_PERIOD_DAYS", "Period"]
