"""Random sequences of holds, releases, confirmations, cancellations, reschedules, expiries and
sweeps keep every slot's books balanced: capacity − remaining = places in use, never below zero."""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from office import booking
from office.audit import Actor
from office.booking.identity import Identity, IdSource
from office.clock import FakeClock
from office.context import OfficeContext
from office.db import make_engine
from office.errors import ApiError
from office.models import Appointment, Office, RotaShift, Service, ServiceCategory, SlotCapacity, User
from office.models import Role as R
from tests.conftest import TestDatabase, make_settings
from tests.office.test_booking_support import id_number, local

SLOTS = [local(2026, 3, 3, 10, 0), local(2026, 3, 3, 10, 30), local(2026, 3, 4, 10, 0)]
IN_USE = {"held", "booked", "checked_in", "no_show"}
ACTOR = Actor("kiosk", 1)

KINDS = ("hold", "release", "confirm", "cancel", "reschedule", "tick", "sweep")
#: (kind, a, b): ``a`` picks a hold (or a slot for "hold", minutes for "tick"), ``b`` a resident or slot.
op = st.tuples(st.sampled_from(KINDS), st.integers(0, 30), st.integers(0, 30))


def _world(template: Path) -> tuple[OfficeContext, int, int, Path]:
    folder = Path(tempfile.mkdtemp(prefix="appt-inv-"))
    path = folder / "office.db"
    shutil.copyfile(template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url, pool_size=2)
    ctx = OfficeContext.build(
        make_settings(TestDatabase("sqlite", url, engine)), clock=FakeClock(), engine=engine
    )
    with ctx.db() as s, s.begin():
        office = Office(code="INV", name="不变量")
        cat = ServiceCategory(code="c", name="c")
        s.add_all([office, cat])
        s.flush()
        svc = Service(code="S", category_id=cat.id, name="s", queue_prefix="A", expected_minutes=30)
        s.add(svc)
        for n in range(2):
            u = User(username=f"u{n}", display_name="u", role=R.AGENT, office_id=office.id, password_hash="!")
            s.add(u)
            s.flush()
            s.add_all(
                RotaShift(office_id=office.id, user_id=u.id, weekday=wd, start_min=540, end_min=1020)
                for wd in range(5)
            )
        s.flush()
        ids = (office.id, svc.id)
    return ctx, ids[0], ids[1], folder


def _check(ctx: OfficeContext) -> None:
    with ctx.read_db() as s:
        rows = list(s.scalars(select(SlotCapacity)))
        appts = list(s.scalars(select(Appointment)))
    use = Counter(a.slot_id for a in appts if a.state in IN_USE)
    for row in rows:
        assert 0 <= row.remaining <= row.capacity
        assert row.capacity - row.remaining == use[row.id], (row.id, row.capacity, row.remaining, use[row.id])
    active = Counter(a.active_key for a in appts if a.active_key)
    assert all(n == 1 for n in active.values())
    assert all((a.active_key is not None) == (a.state in {"booked", "checked_in"}) for a in appts if a.code)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, min_size=1, max_size=25))
def test_capacity_books_balance_under_any_sequence(
    sqlite_template: Path, ops: list[tuple[str, int, int]]
) -> None:
    """After every step: in-use places equal capacity − remaining on every slot row."""
    ctx, office_id, svc, folder = _world(sqlite_template)
    holds: list[booking.Hold] = []
    codes: dict[int, tuple[str, int]] = {}
    try:
        for kind, a, b in ops:
            try:
                if kind == "hold":
                    holds.append(
                        booking.hold_slot(
                            ctx, office_id=office_id, service_id=svc, starts_at=SLOTS[a % len(SLOTS)]
                        )
                    )
                elif kind == "tick":
                    assert isinstance(ctx.clock, FakeClock)
                    ctx.clock.advance(minutes=1 + a % 4)
                elif kind == "sweep":
                    booking.expire_holds(ctx)
                elif holds:
                    h = holds[a % len(holds)]
                    if kind == "release":
                        booking.release_hold(
                            ctx, office_id=office_id, appointment_id=h.appointment_id, token=h.token
                        )
                    elif kind == "confirm":
                        who = 1 + b % 3
                        v = booking.confirm_hold(
                            ctx,
                            office_id=office_id,
                            appointment_id=h.appointment_id,
                            token=h.token,
                            identity=Identity(id_number(who), IdSource.CARD),
                            actor=ACTOR,
                        )
                        codes[h.appointment_id] = (v.code, who)
                    elif h.appointment_id in codes:
                        code, who = codes[h.appointment_id]
                        if kind == "cancel":
                            booking.cancel_booking(
                                ctx,
                                office_id=office_id,
                                code=code,
                                id_number=id_number(who),
                                reason="r",
                                actor=ACTOR,
                            )
                        else:
                            booking.reschedule_booking(
                                ctx,
                                office_id=office_id,
                                code=code,
                                id_number=id_number(who),
                                starts_at=SLOTS[b % len(SLOTS)],
                                actor=ACTOR,
                            )
            except ApiError as err:
                outcome = f"{err.status} {err.code}"
            else:
                outcome = "ok"
            event(f"{kind}: {outcome}")
            assert outcome == "ok" or outcome[:3] in {"403", "404", "409", "422"}, outcome
            _check(ctx)
        assert ctx.clock.now() - local(2026, 3, 2, 9) <= timedelta(hours=2)
    finally:
        ctx.engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)
