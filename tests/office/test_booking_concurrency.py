"""No overbooking under contention, on SQLite and PostgreSQL with real concurrent connections."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from sqlalchemy import func, select

from office import booking
from office.audit import Actor
from office.booking.identity import Identity, IdSource
from office.errors import ApiError
from office.models import Appointment, Kiosk, SlotCapacity
from tests.office.conftest import OfficeHarness
from tests.office.test_booking_support import PHONE, add_agents, add_service, id_number, local

ATTEMPTS = 200
WORKERS = 32


def _storm(
    h: OfficeHarness,
    service_id: int,
    at: datetime,
    won: list[booking.Hold] | None = None,
    attempts: int = ATTEMPTS,
) -> Counter[str]:
    """``attempts`` holds on one slot from ``WORKERS`` threads released together; outcome counts."""
    barrier = threading.Barrier(WORKERS)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    winners = won if won is not None else []

    def attempt(i: int) -> None:
        if i < WORKERS:
            barrier.wait()
        try:
            hold = booking.hold_slot(h.ctx, office_id=h.office_id, service_id=service_id, starts_at=at)
            result = "held"
            with lock:
                winners.append(hold)
        except ApiError as err:
            result = err.code
        with lock:
            outcomes[result] += 1

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        list(pool.map(attempt, range(attempts)))
    return outcomes


def test_200_simultaneous_holds_on_a_capacity_3_slot_yield_exactly_3(any_harness: OfficeHarness) -> None:
    """200 concurrent attempts: 3 holds, 197 slot_full; the row's remaining is 0, never negative."""
    h = any_harness
    svc = add_service(h)
    add_agents(h, 3)
    at = local(2026, 3, 3, 10)
    outcomes = _storm(h, svc, at)
    assert outcomes == Counter({"held": 3, "slot_full": ATTEMPTS - 3})
    with h.ctx.read_db() as s:
        assert s.scalar(select(SlotCapacity.remaining)) == 0
        assert s.scalar(select(func.count()).select_from(Appointment)) == 3
        assert s.scalar(select(func.count()).select_from(SlotCapacity)) == 1


def test_expired_holds_free_their_capacity_under_contention(any_harness: OfficeHarness) -> None:
    """After the first 3 holds lapse, a second storm again gets exactly 3; confirmed ones stay."""
    h = any_harness
    svc = add_service(h)
    add_agents(h, 3)
    at = local(2026, 3, 3, 10)
    assert _storm(h, svc, at, attempts=WORKERS)["held"] == 3
    h.clock.advance(minutes=5)
    winners: list[booking.Hold] = []
    second = _storm(h, svc, at, winners)
    assert second["held"] == 3 and second["slot_full"] == ATTEMPTS - 3
    with h.ctx.read_db() as s:
        assert Counter(s.scalars(select(Appointment.state))) == Counter({"held": 3, "expired": 3})
    for n, hold in enumerate(winners):
        booking.confirm_hold(
            h.ctx,
            office_id=h.office_id,
            appointment_id=hold.appointment_id,
            token=hold.token,
            identity=Identity(id_number(n), IdSource.CARD),
            actor=Actor("kiosk", 1),
        )
    h.clock.advance(minutes=10)  # bookings do not lapse like holds
    assert _storm(h, svc, at, attempts=WORKERS) == Counter({"slot_full": WORKERS})


def test_concurrent_confirmations_of_one_resident_book_once_per_day(any_harness: OfficeHarness) -> None:
    """Ten holds on different slots confirmed concurrently for one resident: exactly one booking."""
    h = any_harness
    svc = add_service(h)
    add_agents(h, 1)
    holds = [
        booking.hold_slot(
            h.ctx,
            office_id=h.office_id,
            service_id=svc,
            starts_at=local(2026, 3, 3, 9 + i // 2, 30 * (i % 2)),
        )
        for i in range(6)
    ]
    ident = Identity(id_number(7), IdSource.MANUAL, PHONE)
    barrier = threading.Barrier(len(holds))
    results: list[str] = []
    lock = threading.Lock()

    def confirm(i: int) -> None:
        barrier.wait()
        try:
            booking.confirm_hold(
                h.ctx,
                office_id=h.office_id,
                appointment_id=holds[i].appointment_id,
                token=holds[i].token,
                identity=ident,
                actor=Actor("kiosk", 1),
            )
            r = "booked"
        except ApiError as err:
            r = err.code
        with lock:
            results.append(r)

    with ThreadPoolExecutor(max_workers=len(holds)) as pool:
        list(pool.map(confirm, range(len(holds))))
    assert Counter(results) == Counter({"booked": 1, "already_booked": len(holds) - 1})


def test_concurrent_requests_with_one_idempotency_key_take_one_place(any_harness: OfficeHarness) -> None:
    """Sixteen simultaneous holds from one kiosk with the same key: one hold, one place taken."""
    h = any_harness
    svc = add_service(h)
    add_agents(h, 3)
    at = local(2026, 3, 3, 10)
    with h.ctx.db() as s, s.begin():
        kiosk_row = Kiosk(station_id=h.station_id, name="k")
        s.add(kiosk_row)
        s.flush()
        kid = kiosk_row.id
    barrier = threading.Barrier(16)

    def attempt(_: int) -> int:
        barrier.wait()
        return booking.hold_slot(
            h.ctx,
            office_id=h.office_id,
            service_id=svc,
            starts_at=at,
            kiosk_id=kid,
            idempotency_key="same-key-123",
        ).appointment_id

    with ThreadPoolExecutor(max_workers=16) as pool:
        ids = set(pool.map(attempt, range(16)))
    assert len(ids) == 1
    with h.ctx.read_db() as s:
        assert s.scalar(select(SlotCapacity.remaining)) == 2


def test_opposite_reschedules_at_once_neither_deadlock_nor_overbook(any_harness: OfficeHarness) -> None:
    """Residents swapping slots simultaneously (A: 10→11, B: 11→10) both succeed; the books balance."""
    h = any_harness
    svc = add_service(h)
    add_agents(h, 2)
    ten, eleven = local(2026, 3, 3, 10), local(2026, 3, 3, 11)
    codes = []
    for n, at in enumerate((ten, eleven)):
        hold = booking.hold_slot(h.ctx, office_id=h.office_id, service_id=svc, starts_at=at)
        codes.append(
            booking.confirm_hold(
                h.ctx,
                office_id=h.office_id,
                appointment_id=hold.appointment_id,
                token=hold.token,
                identity=Identity(id_number(n), IdSource.CARD),
                actor=Actor("kiosk", 1),
            ).code
        )
    # Both transactions lock the same two capacity rows, in opposite directions of travel.
    barrier = threading.Barrier(2)
    targets = (eleven, ten)

    def move(n: int) -> str:
        barrier.wait()
        try:
            booking.reschedule_booking(
                h.ctx,
                office_id=h.office_id,
                code=codes[n],
                id_number=id_number(n),
                starts_at=targets[n],
                actor=Actor("kiosk", 1),
            )
        except ApiError as err:
            return err.code
        return "moved"

    with ThreadPoolExecutor(max_workers=2) as pool:
        assert list(pool.map(move, range(2))) == ["moved", "moved"]
    with h.ctx.read_db() as s:
        rows = {r.starts_at: r.remaining for r in s.scalars(select(SlotCapacity))}
        starts = {a.code: a.starts_at for a in s.scalars(select(Appointment))}
    assert rows == {ten: 1, eleven: 1}
    assert starts == {codes[0]: eleven, codes[1]: ten}
