"""Numbers reset at the office's local midnight (IANA zone, DST included), never by a fixed offset."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import update

from office.models import Office, TicketCounter
from office.queue.numbering import business_date, format_number
from tests.office import test_queue_support as support
from tests.office.test_queue_support import QueueHarness

qh, any_qh = support.qh, support.any_qh


def _zone(q: QueueHarness, tz: str) -> None:
    with q.h.ctx.db() as s, s.begin():
        s.execute(update(Office).where(Office.id == q.h.office_id).values(timezone=tz))


def _at(q: QueueHarness, iso: str) -> None:
    q.h.clock.set(datetime.fromisoformat(iso).replace(tzinfo=UTC))


def test_shanghai_midnight_resets_the_sequence(any_qh: QueueHarness) -> None:
    """23:59:59 CST still counts the old day; 00:00:01 CST starts again at A001; old numbers stay."""
    k = any_qh.kiosk()
    _at(any_qh, "2026-03-02T15:59:58")  # 23:59:58 in Shanghai
    assert any_qh.take(k)["number"] == "A001"
    assert any_qh.take(k)["number"] == "A002"
    _at(any_qh, "2026-03-02T16:00:01")  # 00:00:01 next day
    fresh = any_qh.take(k)
    assert fresh["number"] == "A001" and fresh["state"] == "waiting"
    assert any_qh.take(k)["number"] == "A002"


@pytest.mark.parametrize(
    ("before", "after", "same_day"),
    [
        # spring forward (2026-03-08): the local day lasts 23 h; 04:30Z on the 9th is already 00:30 EDT
        ("2026-03-08T05:00:01", "2026-03-09T04:30:00", False),
        # fall back (2026-11-01): the local day lasts 25 h; 04:30Z on the 2nd is still 23:30 EST on the 1st
        ("2026-11-01T04:00:01", "2026-11-02T04:30:00", True),
    ],
)
def test_dst_zone_resets_at_local_midnight(qh: QueueHarness, before: str, after: str, same_day: bool) -> None:
    """New York across both DST changes: the reset follows the zone's midnight, not a fixed offset."""
    _zone(qh, "America/New_York")
    k = qh.kiosk()
    _at(qh, before)
    assert qh.take(k)["number"] == "A001"
    _at(qh, after)
    assert qh.take(k)["number"] == ("A002" if same_day else "A001")


def test_business_date_and_number_format() -> None:
    """The pure helpers: local date by zone, three-digit numbers that grow past 999."""
    instant = datetime(2026, 3, 8, 4, 59, 59, tzinfo=UTC)
    assert business_date(instant, "America/New_York") == date(2026, 3, 7)
    assert business_date(instant, "Asia/Shanghai") == date(2026, 3, 8)
    assert [format_number("A", n) for n in (1, 17, 999, 1000)] == ["A001", "A017", "A999", "A1000"]


def test_numbers_past_999_grow_a_digit_on_both_engines(any_qh: QueueHarness) -> None:
    """After A999 the next number is A1000 (never a wrapped or truncated A000/A100)."""
    k = any_qh.kiosk()
    assert any_qh.take(k)["number"] == "A001"
    with any_qh.h.ctx.db() as s, s.begin():
        s.execute(update(TicketCounter).values(last_number=998))
    assert [any_qh.take(k)["number"] for _ in range(2)] == ["A999", "A1000"]


def test_tickets_left_waiting_at_midnight_are_closed_not_carried_over(qh: QueueHarness) -> None:
    """After local midnight the sweep ends yesterday's queued tickets as left by system (day_closed)."""
    from office.queue import calling

    k = qh.kiosk()
    _at(qh, "2026-03-02T15:50:00")  # 23:50 in Shanghai
    old = qh.take(k)
    assert calling.process_timeouts(qh.h.ctx) == 0
    _at(qh, "2026-03-02T16:10:00")  # 00:10 next day
    fresh = qh.take(k)
    assert calling.process_timeouts(qh.h.ctx) == 1
    gone = k.get(f"/api/queue/tickets/{old['id']}").json()
    assert (gone["state"], gone["ended_by"], gone["end_reason"]) == ("left", "system", "day_closed")
    assert k.get(f"/api/queue/tickets/{fresh['id']}").json()["estimate"]["position"] == 0
