"""Appointment booking (预约办理): slots, holds, confirmation, changes, check-in, reminders.

Modules, each one concept: :mod:`~office.booking.schedules` (weekly plan, overrides, rota →
calendar and capacity), :mod:`~office.booking.slots` (listing and validating slots),
:mod:`~office.booking.holds` (first holds win, capacity rows), :mod:`~office.booking.confirm`
(identity → booking code), :mod:`~office.booking.changes` (cancel, reschedule, closures),
:mod:`~office.booking.checkin` (priority ticket or walk-in; no-shows),
:mod:`~office.booking.reminders` and :mod:`~office.booking.notify` (at-most-once notices through a
gateway), :mod:`~office.booking.ical` (iCalendar), :mod:`~office.booking.lifecycle` (transitions),
:mod:`~office.booking.maintenance` (the periodic task: expiry, no-shows, reminders),
:mod:`~office.booking.resync` (capacity rows follow rota and hours changes).

Errors reach callers as :class:`office.errors.ApiError` with a stable code, split by who is at
fault::

    ApiError
    ├── 4xx caller input: bad_id_number, bad_phone, phone_required, slot_in_past, too_soon,
    │                     beyond_horizon, outside_hours, naive_time, unknown_code, same_slot,
    │                     idempotency_key_reused, code_or_id_required
    ├── 409 state/race:   slot_full, no_capacity, hold_expired, hold_used, already_booked,
    │                     not_booked, change_cutoff_passed, too_early, not_today,
    │                     already_checked_in
    └── 403 policy:       booking_restricted (repeated no-shows)

Gateway failures are :class:`office.booking.notify.NotificationFailed` and never reach a resident.
"""

from office.booking.changes import cancel_booking, close_day, reschedule_booking
from office.booking.checkin import CheckIn, check_in, mark_no_shows
from office.booking.confirm import confirm_hold
from office.booking.holds import Hold, expire_holds, hold_slot, release_hold
from office.booking.identity import Identity, IdSource
from office.booking.maintenance import MaintenanceReport, run_periodic
from office.booking.notify import HttpSmsNotifier, LogNotifier, NotificationFailed, Notifier, make_notifier
from office.booking.policy import BookingPolicy
from office.booking.reminders import send_due_reminders
from office.booking.slots import Slot, list_slots
from office.booking.views import BookingView

__all__ = [
    "BookingPolicy",
    "BookingView",
    "CheckIn",
    "Hold",
    "HttpSmsNotifier",
    "IdSource",
    "Identity",
    "LogNotifier",
    "MaintenanceReport",
    "NotificationFailed",
    "Notifier",
    "Slot",
    "cancel_booking",
    "check_in",
    "close_day",
    "confirm_hold",
    "expire_holds",
    "hold_slot",
    "list_slots",
    "make_notifier",
    "mark_no_shows",
    "release_hold",
    "reschedule_booking",
    "run_periodic",
    "send_due_reminders",
]
