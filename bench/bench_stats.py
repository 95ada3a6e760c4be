"""Statistics bench: a district's year on PostgreSQL, then p50/p95 of every dashboard query.

Generates 13 street offices with 100 stations each (1,300 stations), 30 services, 104 agents and
2,000,000 tickets over 365 days with their stamped events (issue, offer, ring, answer, then
complete / transfer and a second serve / no-show / leave) and ratings, in SQL (``generate_series``),
into a dedicated database (default ``bench_stats``, schema ``district_year``) that later runs
reuse while the generator's fingerprint matches (``--regenerate`` forces it). The measured office's
finished days are rolled up as the ``stats.rollup`` job would; then each dashboard query runs for
that office over today, 7 days, 30 days and the year — as the dashboard makes it (rollup + raw
remainder) interleaved run by run with the raw computation (the baseline) — and prints p50/p95 as
JSON lines with the load average (target: p95 < 500 ms).

Run: ``.venv/bin/python bench/bench_stats.py [--db postgresql://…/bench_stats] [--runs N]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session

from office.db import make_engine
from office.migrate import upgrade
from office.stats import Period, daily, live, period, rollup

OFFICES = 13
STATIONS_PER_OFFICE = 100
AGENTS_PER_OFFICE = 8
SERVICES = 30
DAYS = 365
FIRST_DAY = date(2025, 1, 1)
ZONE = "Asia/Shanghai"
TARGET_S = 900.0
TARGET_MS = 500.0
#: The office whose dashboard is measured.
OFFICE = 7


def emit(**fields: object) -> None:
    print(json.dumps(fields, ensure_ascii=False), flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, -(-int(q * len(ordered)) // 1) - 1))]


GENERATE = [
    # offices, stations, services, agents
    """INSERT INTO offices (id, code, name, name_en, timezone, created_at)
       SELECT o, 'O' || o, '街道' || o, 'Office ' || o, 'Asia/Shanghai', now() FROM generate_series(1, :offices) o""",
    """INSERT INTO stations (id, office_id, code, name, name_en, created_at)
       SELECT s, (s - 1) / :spo + 1, 'S' || s, '服务站' || s, 'Station ' || s, now()
       FROM generate_series(1, :offices * :spo) s""",
    """INSERT INTO service_categories (id, code, name, name_en, sort_order) VALUES (1, 'gov', '政务', 'Gov', 0)""",
    """INSERT INTO services (id, code, category_id, name, name_en, description, description_en, queue_prefix,
         time_limit_days, expected_minutes, needs_id_card, needs_fingerprint, needs_appointment, skill,
         legal_basis, fees, active, version, created_at, updated_at)
       SELECT v, 'SV' || v, 1, '事项' || v, 'Service ' || v, '', '', chr(65 + v % 20), 0, 10, true, false,
         false, '', '', '免费', true, 1, now(), now() FROM generate_series(1, :services) v""",
    """INSERT INTO users (id, username, display_name, role, office_id, password_hash, active, failed_logins,
         created_at)
       SELECT u, 'agent' || u, '坐席' || u, 'AGENT', (u - 1) / :apo + 1, '!', true, 0, now()
       FROM generate_series(1, :offices * :apo) u""",
    # tickets: g → station, day, issue second; r1..r3 are per-ticket pseudo-random draws in [0, 1)
    """CREATE TEMP TABLE gen AS
       SELECT g,
         1 + (hashint4(g) & 2147483647) % (:offices * :spo) AS station,
         (((g - 1)::bigint * :days) / :tickets)::int AS day,  -- issued in time order, as in reality
         (hashint4(g * 7 + 2) & 2147483647) % 28800 AS sec,
         ((hashint4(g * 7 + 3) & 2147483647) % 1000000) / 1000000.0 AS r1,
         ((hashint4(g * 7 + 4) & 2147483647) % 1000000) / 1000000.0 AS r2,
         ((hashint4(g * 7 + 5) & 2147483647) % 1000000) / 1000000.0 AS r3
       FROM generate_series(1, :tickets) g""",
    """CREATE TEMP TABLE plan AS
       SELECT g, station, r1, r2, r3, (station - 1) / :spo + 1 AS office,
         1 + (g % :services) AS service,
         (CAST(:first_day AS date) + day) AS bdate,
         (CAST(:first_day AS date) + day)::timestamp AT TIME ZONE 'Asia/Shanghai'
           + interval '8 hours 30 minutes' + sec * interval '1 second' AS issued,
         (60 + r1 * 2400)::int AS wait_s, (120 + r2 * 1200)::int AS serve_s,
         CASE WHEN r3 < 0.04 THEN 'no_show' WHEN r3 < 0.08 THEN 'left' WHEN r3 < 0.09 THEN 'closed'
              WHEN r3 < 0.13 THEN 'transferred' ELSE 'done' END AS fate,
         ((station - 1) / :spo) * :apo + 1 + (g % :apo) AS agent,
         ((station - 1) / :spo) * :apo + 1 + ((g + 1) % :apo) AS agent2
       FROM gen""",
    """INSERT INTO tickets (id, office_id, station_id, service_id, service_version, queue_prefix, business_date,
         number, display_number, state, priority, priority_basis, order_at, queued_at, issued_at, agent_id,
         recall_count, predicted_wait_s, first_called_at, called_at, served_at, ended_at, ended_by, end_reason,
         version)
       SELECT g, office, station, service, 1, 'A', bdate, g, 'A' || g,
         CASE fate WHEN 'no_show' THEN 'no_show' WHEN 'left' THEN 'left' WHEN 'closed' THEN 'left' ELSE 'done' END,
         3, '', issued, issued, issued,
         CASE WHEN fate IN ('done', 'no_show') THEN agent WHEN fate = 'transferred' THEN agent2 END,
         0, (wait_s * (0.7 + (g % 7) / 10.0))::int,
         CASE WHEN fate IN ('done', 'no_show', 'transferred') THEN issued + wait_s * interval '1 second' END,
         CASE WHEN fate IN ('done', 'no_show', 'transferred') THEN issued + wait_s * interval '1 second' END,
         CASE WHEN fate IN ('done', 'transferred') THEN issued + (wait_s + 10) * interval '1 second' END,
         issued + (wait_s + 10 + serve_s * 2) * interval '1 second',
         CASE fate WHEN 'left' THEN 'resident' WHEN 'closed' THEN 'system' WHEN 'no_show' THEN 'system'
                   ELSE 'staff' END,
         '', 1
       FROM plan""",
    # events: issue; offer+ring (called); answer + complete; transfer + second serve; no-show; leave
    """INSERT INTO ticket_events (ticket_id, office_id, at, event, from_state, to_state, agent_id, actor, reason)
       SELECT g, office, issued, 'issue', '', 'waiting', NULL, 'kiosk', '' FROM plan""",
    """INSERT INTO ticket_events (ticket_id, office_id, at, event, from_state, to_state, agent_id, actor, reason)
       SELECT g, office, issued + (wait_s - 8) * interval '1 second', 'offer', 'waiting', 'offered', agent, 'u', ''
       FROM plan WHERE fate IN ('done', 'no_show', 'transferred')""",
    """INSERT INTO ticket_events (ticket_id, office_id, at, event, from_state, to_state, agent_id, actor, reason)
       SELECT g, office, issued + (wait_s - 6) * interval '1 second', 'ring', 'offered', 'ringing', agent, 'u', ''
       FROM plan WHERE fate IN ('done', 'no_show', 'transferred')""",
    """INSERT INTO ticket_events (ticket_id, office_id, at, event, from_state, to_state, agent_id, actor, reason)
       SELECT g, office, issued + wait_s * interval '1 second', 'answer', 'ringing', 'serving', agent, 'u', ''
       FROM plan WHERE fate IN ('done', 'transferred')""",
    """INSERT INTO ticket_events (ticket_id, office_id, at, event, from_state, to_state, agent_id, actor, reason)
       SELECT g, office, issued + (wait_s + serve_s) * interval '1 second',
         CASE fate WHEN 'done' THEN 'complete' ELSE 'transfer' END, 'serving',
         CASE fate WHEN 'done' THEN 'done' ELSE 'transferred' END, agent, 'u', ''
       FROM plan WHERE fate IN ('done', 'transferred')""",
    """INSERT INTO ticket_events (ticket_id, office_id, at, event, from_state, to_state, agent_id, actor, reason)
       SELECT g, office, issued + (wait_s + serve_s + 120) * interval '1 second', e.event, e.f, e.t, agent2, 'u', ''
       FROM plan, (VALUES ('offer', 'transferred', 'offered'), ('answer', 'offered', 'serving')) e(event, f, t)
       WHERE fate = 'transferred'""",
    """INSERT INTO ticket_events (ticket_id, office_id, at, event, from_state, to_state, agent_id, actor, reason)
       SELECT g, office, issued + (wait_s + serve_s * 2 + 130) * interval '1 second', 'complete', 'serving', 'done',
         agent2, 'u', ''
       FROM plan WHERE fate = 'transferred'""",
    """INSERT INTO ticket_events (ticket_id, office_id, at, event, from_state, to_state, agent_id, actor, reason)
       SELECT g, office, issued + (wait_s + 20) * interval '1 second', 'give_up', 'ringing', 'no_show', agent,
         'system', '' FROM plan WHERE fate = 'no_show'""",
    """INSERT INTO ticket_events (ticket_id, office_id, at, event, from_state, to_state, agent_id, actor, reason)
       SELECT g, office, issued + wait_s * interval '1 second', 'leave', 'waiting', 'left', NULL,
         CASE fate WHEN 'left' THEN 'kiosk' ELSE 'system:day_closed' END, ''
       FROM plan WHERE fate IN ('left', 'closed')""",
    """INSERT INTO ratings (office_id, station_id, ticket_id, service_id, agent_id, level, reasons, comment,
         content_version, is_default, created_at)
       SELECT office, station, g, service, CASE fate WHEN 'done' THEN agent ELSE agent2 END,
         CASE WHEN r2 < 0.03 THEN 1 WHEN r2 < 0.05 THEN 2 WHEN r2 < 0.12 THEN 3 WHEN r2 < 0.35 THEN 4 ELSE 5 END,
         '[]', '', 'v1', r1 < 0.1, issued + (wait_s + serve_s * 2 + 200) * interval '1 second'
       FROM plan WHERE fate IN ('done', 'transferred') AND r3 > 0.25""",
    # today: live agents, a few calls in progress
    """INSERT INTO agent_states (user_id, office_id, state, pause_reason, since, window_no)
       SELECT u, (u - 1) / :apo + 1, (ARRAY['available','serving','wrap_up','paused','offline'])[1 + u % 5], '',
         now(), 1 + u % :apo FROM generate_series(1, :offices * :apo) u""",
]


def generate(engine: Engine, tickets: int) -> dict[str, float]:
    params = {
        "offices": OFFICES,
        "spo": STATIONS_PER_OFFICE,
        "apo": AGENTS_PER_OFFICE,
        "services": SERVICES,
        "days": DAYS,
        "tickets": tickets,
        "first_day": FIRST_DAY,
    }
    timings: dict[str, float] = {}
    with engine.begin() as conn:
        # Bulk load: no foreign-key triggers, secondary indexes rebuilt once after the load.
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        indexes = conn.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
                " AND tablename IN ('tickets', 'ticket_events', 'ratings')"
                " AND indexname NOT IN (SELECT conname FROM pg_constraint)"
            )
        ).all()
        for name, _ in indexes:
            conn.execute(text(f'DROP INDEX "{name}"'))
        for sql in GENERATE:
            start = time.perf_counter()
            used = {k: v for k, v in params.items() if f":{k}" in sql}
            conn.execute(text(sql), used)
            key = sql.split()[2] if sql.lstrip().startswith("INSERT") else sql.split()[3]
            timings[key] = timings.get(key, 0.0) + time.perf_counter() - start
        start = time.perf_counter()
        for _, definition in indexes:
            conn.execute(text(definition))
        timings["indexes"] = time.perf_counter() - start
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    return timings


def measure(fns: dict[str, Callable[[], Any]], runs: int) -> dict[str, dict[str, float]]:
    """p50/p95 (ms) of each function, the functions interleaved run by run (same load for all)."""
    for fn in fns.values():
        fn()  # warm the cache once
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - start) * 1000)
    return {
        k: {"p50_ms": round(pct(v, 0.5), 1), "p95_ms": round(pct(v, 0.95), 1), "runs": runs}
        for k, v in samples.items()
    }


def roll_up(engine: Engine, now: datetime, offices: list[int]) -> None:
    """Roll up every finished day of ``offices`` as the background job would (kept in the cached
    database: only days not rolled yet are written; the rollup tables are analysed after)."""
    written = 0
    for office in offices:
        start = time.perf_counter()
        with Session(engine) as s, s.begin():
            days = rollup.roll_office(s, office, ZONE, now, limit=DAYS + 1)
        written += len(days)
        if days:
            emit(
                bench="stats.rollup",
                office=office,
                days=len(days),
                seconds=round(time.perf_counter() - start, 1),
            )
    if written:
        with engine.connect() as conn:
            auto = conn.execution_options(isolation_level="AUTOCOMMIT")
            for table in ("stats_days", "stats_day_values", "stats_agent_days", "stats_agent_day_values"):
                auto.execute(text(f"VACUUM ANALYZE {table}"))


def fingerprint(tickets: int) -> str:
    """What the generated data depends on: the generator's SQL and its parameters."""
    blob = json.dumps(
        [
            GENERATE,
            OFFICES,
            STATIONS_PER_OFFICE,
            AGENTS_PER_OFFICE,
            SERVICES,
            DAYS,
            FIRST_DAY.isoformat(),
            tickets,
        ]
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def ensure_database(url: str) -> None:
    """Create the dedicated bench database when it does not exist yet."""
    parsed = make_url(url)
    name = parsed.database
    admin = make_engine(parsed.set(database="postgres").render_as_string(hide_password=False), pool_size=1)
    try:
        with admin.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()


def prepare(db: str, schema: str, tickets: int, regenerate: bool) -> Engine:
    """The generated district year in ``schema`` of ``db``: reused when its fingerprint matches,
    generated otherwise; migrated to the newest revision either way."""
    ensure_database(db)
    fp = fingerprint(tickets)
    admin = make_engine(db, pool_size=1)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            conn.execute(text(f'CREATE TABLE IF NOT EXISTS "{schema}".bench_fingerprint (fp text)'))
            stored = conn.execute(text(f'SELECT fp FROM "{schema}".bench_fingerprint')).scalar()  # noqa: S608 (the bench's own schema name)
            if regenerate or stored != fp:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
                stored = None
    finally:
        admin.dispose()
    engine = make_engine(db, pool_size=4, pg_schema=schema)
    upgrade(engine)
    if stored == fp:
        emit(bench="stats.generate", reused=True, fingerprint=fp, db=make_url(db).database, schema=schema)
        return engine
    start = time.perf_counter()
    steps = generate(engine, tickets)
    with engine.begin() as conn:
        counts = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()  # noqa: S608 (fixed names)
            for t in ("stations", "tickets", "ticket_events", "ratings")
        }
        conn.execute(text("CREATE TABLE bench_fingerprint (fp text)"))
        conn.execute(text("INSERT INTO bench_fingerprint VALUES (:fp)"), {"fp": fp})
    emit(
        bench="stats.generate",
        reused=False,
        fingerprint=fp,
        seconds=round(time.perf_counter() - start, 1),
        **counts,
        steps_s={k: round(v, 1) for k, v in steps.items()},
    )
    return engine


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--db",
        default=os.environ.get(
            "BENCH_STATS_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bench_stats"
        ),
        help="a dedicated database; the generated year is cached there and reused while the generator is unchanged",
    )
    ap.add_argument("--schema", default="district_year")
    ap.add_argument("--tickets", type=int, default=2_000_000)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--regenerate", action="store_true", help="generate even when the cached year matches")
    ap.add_argument("--generate-only", action="store_true")
    ap.add_argument(
        "--roll-all", action="store_true", help="roll up every office (default: the measured one)"
    )
    args = ap.parse_args()
    engine = prepare(args.db, args.schema, args.tickets, args.regenerate)
    try:
        if not args.generate_only:
            roll_up(engine, bench_now(), list(range(1, OFFICES + 1)) if args.roll_all else [OFFICE])
            run_queries(engine, args.runs, args.tickets)
    finally:
        engine.dispose()
    return 0


def dashboard_queries(s: Session, office: int, per: Period, raw: bool) -> dict[str, Callable[[], Any]]:
    """Every period query the dashboard makes, by name: from raw rows (the baseline, as before the
    rollup) or as the dashboard makes them now (rolled days + raw remainder)."""
    if raw:
        return {
            "summary": lambda: period.figures(s, office, per, TARGET_S),
            "by_station": lambda: period.figures(s, office, per, TARGET_S, by="station"),
            "by_service": lambda: period.figures(s, office, per, TARGET_S, by="service"),
            "by_agent": lambda: period.agent_figures(s, office, per),
            "served_per_hour": lambda: period.served_per_hour(s, office, per),
            "wait_distribution": lambda: period.wait_distribution(s, office, per),
            "satisfaction_trend": lambda: period.satisfaction_trend(s, office, per),
            "estimate_accuracy": lambda: period.wait_accuracy(s, office, per),
        }
    return {
        "summary": lambda: daily.figures(s, office, per),
        "by_station": lambda: daily.figures(s, office, per, by="station"),
        "by_service": lambda: daily.figures(s, office, per, by="service"),
        "by_agent": lambda: daily.agent_figures(s, office, per),
        "served_per_hour": lambda: daily.served_per_hour(s, office, per),
        "wait_distribution": lambda: daily.wait_distribution(s, office, per),
        "satisfaction_trend": lambda: daily.satisfaction_trend(s, office, per),
        "estimate_accuracy": lambda: daily.wait_accuracy(s, office, per),
    }


def bench_now() -> datetime:
    """The bench's "now": 12:00 local on the generated year's last day (today; yesterday is not
    finished yet either, so both are computed from raw rows)."""
    last = FIRST_DAY + timedelta(days=DAYS - 1)
    return datetime.combine(last, datetime.min.time(), tzinfo=UTC) + timedelta(hours=4)


def load() -> float:
    return round(os.getloadavg()[0], 2)


def run_queries(engine: Engine, runs: int, tickets: int) -> None:
    last = FIRST_DAY + timedelta(days=DAYS - 1)
    periods = {
        "today": Period(last, last, ZONE),
        "7d": Period(last - timedelta(days=6), last, ZONE),
        "30d": Period(last - timedelta(days=29), last, ZONE),
        "year": Period(FIRST_DAY, last, ZONE),
    }
    now = bench_now()
    office = OFFICE
    worst = 0.0
    worst_raw = 0.0
    for name, per in periods.items():
        with Session(engine) as s:
            new = dashboard_queries(s, office, per, raw=False)
            old = dashboard_queries(s, office, per, raw=True)
            n = runs if name != "year" else max(3, runs // 2)
            for q in new:
                before = load()
                figs = measure({"rollup": new[q], "raw": old[q]}, n)
                fig, base = figs["rollup"], figs["raw"]
                worst = max(worst, fig["p95_ms"])
                worst_raw = max(worst_raw, base["p95_ms"])
                emit(
                    bench="stats.query",
                    period=name,
                    query=q,
                    office_tickets_per_day=round(tickets / OFFICES / DAYS),
                    **fig,
                    raw_p50_ms=base["p50_ms"],
                    raw_p95_ms=base["p95_ms"],
                    target_ms=TARGET_MS,
                    ok=fig["p95_ms"] < TARGET_MS,
                    load=[before, load()],
                )
    with Session(engine) as s:
        for q, fn in {
            "live_stations": lambda: live.stations(s, office, now, set()),
            "live_agents": lambda: live.agents(s, office),
            "live_calls": lambda: live.calls(s, office),
        }.items():
            fig = measure({"live": fn}, runs)["live"]
            worst = max(worst, fig["p95_ms"])
            emit(
                bench="stats.query",
                period="live",
                query=q,
                **fig,
                target_ms=TARGET_MS,
                ok=fig["p95_ms"] < TARGET_MS,
                load=load(),
            )
    emit(bench="stats.worst", p95_ms=worst, raw_p95_ms=worst_raw, target_ms=TARGET_MS, ok=worst < TARGET_MS)


if __name__ == "__main__":
    raise SystemExit(main())
