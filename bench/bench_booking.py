"""Booking benchmarks: slot listing (14 days × 30 services) p50/p95, and hold throughput under
contention, each beside a raw-SQL baseline measured in the same run on the same database.

Prints one JSON object per line. ``--db postgresql://…`` runs on PostgreSQL (a scratch schema);
the default is a temporary SQLite file. Run: ``.venv/bin/python bench/bench_booking.py``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Import the project from the repository root (the editable install's namespace path confuses
# Alembic's resource lookup when the script's own directory is first on sys.path).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, select, text

from office import booking
from office.booking.policy import load_policy
from office.clock import FakeClock
from office.context import OfficeContext
from office.db import make_engine
from office.errors import ApiError
from office.migrate import upgrade
from office.models import Office, Role, RotaShift, Service, ServiceCategory, SlotCapacity, Station, User
from office.settings import Settings

SERVICES = 30
AGENTS = 10
DAYS = 14


def emit(**fields: object) -> None:
    print(json.dumps(fields, ensure_ascii=False), flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def setup(url: str | None) -> tuple[OfficeContext, Engine, list[int], str | None]:
    schema = None
    if url and url.startswith("postgresql"):
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = make_engine(url, pool_size=1)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        engine = make_engine(url, pool_size=40, pg_schema=schema)
    else:
        path = Path(tempfile.mkdtemp()) / "bench.db"
        url = f"sqlite:///{path}"
        engine = make_engine(url, pool_size=40)
    upgrade(engine)
    ctx = OfficeContext.build(
        Settings(database_url=url), clock=FakeClock(datetime(2026, 3, 2, 1, tzinfo=UTC)), engine=engine
    )
    with ctx.db() as s, s.begin():
        office = Office(code="B1", name="基准街道")
        s.add(office)
        s.flush()
        s.add(Station(office_id=office.id, code="S", name="站"))
        cat = ServiceCategory(code="gov", name="政务")
        s.add(cat)
        s.flush()
        services = [
            Service(
                code=f"SV{i}",
                category_id=cat.id,
                name=f"服务{i}",
                queue_prefix="A",
                expected_minutes=(15, 20, 30)[i % 3],
            )
            for i in range(SERVICES)
        ]
        s.add_all(services)
        for a in range(AGENTS):
            u = User(
                username=f"b{a}", display_name="b", role=Role.AGENT, office_id=office.id, password_hash="!"
            )
            s.add(u)
            s.flush()
            s.add_all(
                RotaShift(office_id=office.id, user_id=u.id, weekday=wd, start_min=540, end_min=1020)
                for wd in range(6)
            )
        s.flush()
        ids = [sv.id for sv in services]
    return ctx, engine, ids, schema


def bench_listing(ctx: OfficeContext, office_id: int, service_ids: list[int], rounds: int) -> None:
    now = ctx.clock.now()
    # Some live capacity rows so the listing merges real usage.
    for sid in service_ids[:5]:
        booking.hold_slot(
            ctx, office_id=office_id, service_id=sid, starts_at=datetime(2026, 3, 3, 2, tzinfo=UTC)
        )
    ours: list[float] = []
    raw: list[float] = []
    n_slots = 0
    for _ in range(rounds):
        for sid in service_ids:
            t0 = time.perf_counter()
            with ctx.read_db() as r:
                policy = load_policy(r, office_id)
                service = r.get(Service, sid)
                assert service is not None
                n_slots = len(booking.list_slots(r, office_id, service, now, policy, days=DAYS))
            ours.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            with ctx.engine.connect() as conn:
                conn.execute(
                    text(
                        "SELECT starts_at, remaining FROM slot_capacity WHERE office_id=:o AND service_id=:s "
                        "AND starts_at >= :a AND starts_at <= :b"
                    ),
                    {
                        "o": office_id,
                        "s": sid,
                        "a": now.replace(tzinfo=None),
                        "b": (now + timedelta(days=DAYS)).replace(tzinfo=None),
                    },
                ).all()
            raw.append((time.perf_counter() - t0) * 1000)
    emit(
        bench="booking.slot_listing",
        engine=ctx.engine.dialect.name,
        services=len(service_ids),
        days=DAYS,
        samples=len(ours),
        slots_last=n_slots,
        p50_ms=round(statistics.median(ours), 2),
        p95_ms=round(pct(ours, 0.95), 2),
        baseline="raw SELECT of slot_capacity rows (no calendar, no rota)",
        baseline_p50_ms=round(statistics.median(raw), 3),
        baseline_p95_ms=round(pct(raw, 0.95), 3),
    )


def bench_contention(
    ctx: OfficeContext, office_id: int, service_id: int, attempts: int, workers: int
) -> None:
    starts = [datetime(2026, 3, 4, 1, tzinfo=UTC) + timedelta(minutes=15 * i) for i in range(4)]
    with ctx.read_db() as r:
        svc = r.get(Service, service_id)
        assert svc is not None
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def ours(i: int) -> None:
        try:
            booking.hold_slot(
                ctx, office_id=office_id, service_id=service_id, starts_at=starts[i % len(starts)]
            )
            k = "held"
        except ApiError as err:
            k = err.code
        with lock:
            outcomes[k] += 1

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(ours, range(attempts)))
    ours_s = time.perf_counter() - t0
    with ctx.read_db() as r:
        remaining = list(
            r.scalars(select(SlotCapacity.remaining).where(SlotCapacity.service_id == service_id))
        )
    assert outcomes["held"] == AGENTS * len(starts) and min(remaining) == 0, (outcomes, remaining)

    # Baseline: the bare capacity protocol in raw SQL (fresh rows, same engine, same contention).
    with ctx.engine.begin() as conn:
        ids = []
        for st in starts:
            conn.execute(
                text(
                    "INSERT INTO slot_capacity (office_id, service_id, starts_at, ends_at, capacity, remaining) "
                    "VALUES (:o, :s, :a, :b, :c, :c)"
                ),
                {
                    "o": office_id,
                    "s": service_id,
                    "a": (st + timedelta(days=1)).replace(tzinfo=None),
                    "b": (st + timedelta(days=1, minutes=15)).replace(tzinfo=None),
                    "c": AGENTS,
                },
            )
            ids.append(conn.execute(text("SELECT max(id) FROM slot_capacity")).scalar_one())
    raw_outcomes: Counter[str] = Counter()

    def raw(i: int) -> None:
        with ctx.engine.begin() as conn:
            n = conn.execute(
                text("UPDATE slot_capacity SET remaining = remaining - 1 WHERE id = :id AND remaining > 0"),
                {"id": ids[i % len(ids)]},
            ).rowcount
        with lock:
            raw_outcomes["held" if n == 1 else "slot_full"] += 1

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(raw, range(attempts)))
    raw_s = time.perf_counter() - t0
    emit(
        bench="booking.hold_contention",
        engine=ctx.engine.dialect.name,
        attempts=attempts,
        workers=workers,
        slots=len(starts),
        capacity_each=AGENTS,
        held=outcomes["held"],
        refused=outcomes["slot_full"],
        overbooked=max(0, outcomes["held"] - AGENTS * len(starts)),
        attempts_per_s=round(attempts / ours_s, 1),
        baseline="raw state-checked UPDATE on slot_capacity only",
        baseline_held=raw_outcomes["held"],
        baseline_attempts_per_s=round(attempts / raw_s, 1),
        ratio_vs_baseline=round((attempts / ours_s) / (attempts / raw_s), 3),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default=None, help="postgresql://… (default: a temporary SQLite file)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--attempts", type=int, default=400)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    ctx, engine, service_ids, schema = setup(args.db)
    try:
        with ctx.read_db() as r:
            office_id = r.scalar(select(Office.id))
        assert office_id is not None
        bench_listing(ctx, office_id, service_ids, args.rounds)
        bench_contention(ctx, office_id, service_ids[0], args.attempts, args.workers)
    finally:
        engine.dispose()
        if schema and args.db:
            admin = make_engine(args.db, pool_size=1)
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    main()
