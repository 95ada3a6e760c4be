"""Per-office booking policy: defaults, and the stored override row."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import timedelta

from sqlalchemy.orm import Session

from office.models import BookingPolicyRow

__all__ = ["BookingPolicy", "load_policy"]


@dataclass(frozen=True, slots=True)
class BookingPolicy:
    """Booking tunables. Times are minutes unless named otherwise."""

    hold_minutes: int = 5
    horizon_days: int = 14
    min_notice_minutes: int = 60
    change_cutoff_minutes: int = 120
    checkin_early_minutes: int = 30
    checkin_late_minutes: int = 15
    no_show_limit: int = 3
    no_show_window_days: int = 90

    @property
    def hold(self) -> timedelta:
        """How long a hold lasts."""
        return timedelta(minutes=self.hold_minutes)

    @property
    def min_notice(self) -> timedelta:
        """The earliest a slot may start after now."""
        return timedelta(minutes=self.min_notice_minutes)

    @property
    def change_cutoff(self) -> timedelta:
        """Self-service cancel/reschedule closes this long before the slot."""
        return timedelta(minutes=self.change_cutoff_minutes)

    @property
    def checkin_early(self) -> timedelta:
        """Check-in opens this long before the slot."""
        return timedelta(minutes=self.checkin_early_minutes)

    @property
    def checkin_late(self) -> timedelta:
        """Check-in for a priority ticket closes this long after the slot starts."""
        return timedelta(minutes=self.checkin_late_minutes)


def load_policy(session: Session, office_id: int) -> BookingPolicy:
    """The office's policy (defaults when it has no row)."""
    row = session.get(BookingPolicyRow, office_id)
    if row is None:
        return BookingPolicy()
    return BookingPolicy(**{f.name: getattr(row, f.name) for f in fields(BookingPolicy)})
