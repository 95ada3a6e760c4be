"""Office-local days as UTC instants (statistics periods are whole office-local days)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["MAX_PERIOD_DAYS", "Period"]

#: The longest period a statistics query may span.
MAX_PERIOD_DAYS = 366


@dataclass(frozen=True, slots=True)
class Period:
    """The office-local days ``first_day`` … ``last_day`` (inclusive) in ``zone``."""

    first_day: date
    last_day: date
    zone: str

    def __post_init__(self) -> None:
        if self.first_day > self.last_day:
            raise ValueError("first_day is after last_day")
        if (self.last_day - self.first_day).days >= MAX_PERIOD_DAYS:
            raise ValueError(f"a period spans at most {MAX_PERIOD_DAYS} days")

    @property
    def start(self) -> datetime:
        """Local midnight starting ``first_day``, in UTC."""
        return self._midnight(self.first_day)

    @property
    def end(self) -> datetime:
        """Local midnight ending ``last_day``, in UTC (exclusive)."""
        return self._midnight(self.last_day + timedelta(days=1))

    @property
    def days(self) -> list[date]:
        """Every day of the period, in order."""
        n = (self.last_day - self.first_day).days + 1
        return [self.first_day + timedelta(days=i) for i in range(n)]

    def local_hour(self, instant: datetime) -> int:
        """The office-local hour (0…23) of ``instant``."""
        return instant.astimezone(ZoneInfo(self.zone)).hour

    def _midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=ZoneInfo(self.zone)).astimezone(UTC)
