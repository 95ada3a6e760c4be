"""The booking package's periodic work in one call, for the office's scheduler to run every minute.

Each step is idempotent and safe to run concurrently on several office processes: lapsed holds are
expired by state-checked updates, no-shows likewise, and reminders are claimed through a unique key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from office.booking.checkin import mark_no_shows
from office.booking.holds import expire_holds
from office.booking.notify import Notifier
from office.booking.reminders import send_due_reminders
from office.context import OfficeContext

__all__ = ["MaintenanceReport", "run_periodic"]


@dataclass(frozen=True, slots=True)
class MaintenanceReport:
    """What one run did (counts only)."""

    holds_expired: int
    no_shows: int
    reminders: dict[str, int] = field(default_factory=dict)


def run_periodic(ctx: OfficeContext, notifier: Notifier) -> MaintenanceReport:
    """Expire lapsed holds, mark missed bookings as no-shows, send due reminders."""
    return MaintenanceReport(
        holds_expired=expire_holds(ctx),
        no_shows=mark_no_shows(ctx),
        reminders=send_due_reminders(ctx, notifier),
    )
