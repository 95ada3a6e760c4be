"""Queue benchmarks: take-number and call-next through a real office process (uvicorn subprocess),
50 concurrent HTTP clients, on SQLite and on PostgreSQL, each beside a raw-SQL baseline doing the
same row writes with 50 threads on the same database in the same run.

The clients run in a separate load-generator process (:mod:`bench.loadgen`, keep-alive HTTP/1.1 on
raw asyncio streams) so that client CPU is not measured as office latency; the office's own CPU per
request (its process tree, from ``/proc``) is reported beside the latencies. ``--workers N`` runs N
office processes (uvicorn's multi-process mode) on the same database.

* take-number: ``POST /api/queue/tickets`` from 10 kiosks (device tokens), Idempotency-Key set.
  Baseline: counter upsert + ticket insert + event insert in one transaction.
* call-next: in each round all 50 agents press call-next at once (timed), then answer, complete and
  go available again (untimed).
  Baseline: pick (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) + state-checked ticket update + agent
  update + event insert in one transaction.

Prints one JSON object per line. Target: call-next p95 < 150 ms with 50 agents on PostgreSQL.
Run: ``.venv/bin/python bench/bench_queue.py [--pg postgresql://…] [--skip-pg] [--skip-sqlite] [--workers N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # loadgen, also under uvicorn --factory

import httpx
from loadgen import tree_cpu_s
from sqlalchemy import Engine, text

from office.context import OfficeContext
from office.db import make_engine
from office.migrate import upgrade
from office.models import Kiosk, Office, Role, Station, User, WebSession
from office.security import digest
from office.seed_catalog import seed_catalog
from office.settings import Environment, Settings

CLIENTS = 50
KIOSKS = 10
PG_DEFAULT = os.environ.get("OFFICE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
SECRETS = {
    "OFFICE_SECRET_KEY": "bench-only-" + "k3y" * 8,
    "OFFICE_DATA_ENCRYPTION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    "OFFICE_LOOKUP_HASH_KEY": "bench-lookup-" + "h4sh" * 6,
}


def emit(**fields: object) -> None:
    print(json.dumps(fields, ensure_ascii=False), flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class World:
    """A prepared database: office, station, catalog, kiosk tokens, agent sessions."""

    kind: str
    url: str
    engine: Engine
    schema: str | None
    office_id: int = 0
    service_id: int = 0
    kiosk_tokens: list[str] = field(default_factory=list)
    agents: list[tuple[int, str, str]] = field(default_factory=list)  # (user id, cookie, csrf)


def prepare(kind: str, pg_url: str) -> World:
    schema = None
    if kind == "postgresql":
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = make_engine(pg_url, pool_size=1)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        url = pg_url
        engine = make_engine(url, pool_size=CLIENTS, pg_schema=schema)
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
        engine = make_engine(url, pool_size=CLIENTS)
    upgrade(engine)
    world = World(kind, url, engine, schema)
    ctx = OfficeContext.build(Settings(database_url=url), engine=engine)
    seed_catalog(ctx)
    now = datetime.now(UTC)
    with ctx.db() as s, s.begin():
        office = Office(code="BQ", name="基准街道", name_en="Bench office")
        s.add(office)
        s.flush()
        station = Station(office_id=office.id, code="S1", name="基准站")
        s.add(station)
        s.flush()
        for i in range(KIOSKS):
            token = f"dk_{uuid.uuid4().hex}{uuid.uuid4().hex}"
            s.add(
                Kiosk(
                    station_id=station.id,
                    name=f"k{i}",
                    token_hash=digest(token),
                    token_issued_at=now,
                    enrolled_at=now,
                )
            )
            world.kiosk_tokens.append(token)
        for i in range(CLIENTS):
            user = User(
                username=f"bench{i}",
                display_name="b",
                role=Role.AGENT,
                office_id=office.id,
                password_hash="!",
            )
            s.add(user)
            s.flush()
            cookie, csrf = uuid.uuid4().hex * 2, uuid.uuid4().hex
            s.add(
                WebSession(
                    id=digest(cookie),
                    user_id=user.id,
                    csrf_token=csrf,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + timedelta(hours=2),
                )
            )
            world.agents.append((user.id, cookie, csrf))
        world.office_id = office.id
    with ctx.read_db() as s:
        world.service_id = int(
            s.execute(text("SELECT id FROM services WHERE code = 'GOV-SSC-APPLY'")).scalar_one()
        )
    return world


def office_app() -> Any:
    """Application factory for ``uvicorn --factory --workers N`` (settings from the environment)."""
    from office.app import create_app
    from office.cli import settle_heap

    app = create_app(Settings())
    settle_heap()  # as `doorstep office run` does
    return app


def start_office(world: World, workers: int = 1) -> tuple[subprocess.Popen[bytes], str]:
    """The office as it is deployed: ``doorstep office run``; with ``workers`` > 1, uvicorn's
    multi-process mode on the same database (each worker a full office)."""
    port = free_port()
    env = {
        **os.environ,
        **SECRETS,
        "OFFICE_ENVIRONMENT": Environment.TEST.value,
        "OFFICE_DATABASE_URL": world.url,
        "OFFICE_PORT": str(port),
        "OFFICE_LOG_LEVEL": os.environ.get("OFFICE_LOG_LEVEL", "WARNING"),
    }
    if world.schema:
        env["PGOPTIONS"] = f"-csearch_path={world.schema}"
    log = open(Path(tempfile.mkdtemp()) / "office.log", "wb")  # noqa: SIM115 - closed with the process
    command = [sys.executable, "-m", "doorstep.cli", "office", "run", "--no-migrate"]
    if workers > 1:
        command = [sys.executable, "-m", "uvicorn", "--factory", "bench.bench_queue:office_app"]
        command += [
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
            "--log-level",
            "warning",
            "--timeout-worker-healthcheck",  # a loaded machine starts workers slowly
            "60",
        ]
    proc = subprocess.Popen(
        command,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=str(Path(__file__).resolve().parents[1]),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"office exited: {Path(log.name).read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise TimeoutError(f"office not ready: {Path(log.name).read_text()[-2000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- through the office ---------------------------------------------------------------------------


def load(scenario: str, url: str, world: World, **params: int) -> dict[str, Any]:
    """Run one scenario of :mod:`bench.loadgen` in its own process against the office at ``url``."""
    plan = {
        "scenario": scenario,
        "url": url,
        "service_id": world.service_id,
        "kiosk_tokens": world.kiosk_tokens,
        "agents": world.agents,
        **params,
    }
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("loadgen.py"))],
        input=json.dumps(plan).encode(),
        capture_output=True,
        check=False,
        timeout=600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed: {proc.stderr.decode()[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


class ServerCpu:
    """CPU the office process tree spent during a phase, per request."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.pid = proc.pid
        self.start = tree_cpu_s(self.pid)

    def per_request_ms(self, requests: int) -> float:
        return round((tree_cpu_s(self.pid) - self.start) * 1000 / max(1, requests), 2)


# --- raw-SQL baselines ----------------------------------------------------------------------------


def _threads(n: int, work: Callable[[int], list[float]]) -> tuple[list[float], float]:
    barrier = threading.Barrier(n)

    def run(i: int) -> list[float]:
        barrier.wait()
        return work(i)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=n) as pool:
        chunks = list(pool.map(run, range(n)))
    return [x for c in chunks for x in c], time.perf_counter() - t0


def _ts(engine: Engine, dt: datetime) -> Any:
    return dt.replace(tzinfo=None) if engine.dialect.name == "sqlite" else dt


def baseline_take(world: World, per_client: int) -> tuple[list[float], float]:
    eng = world.engine
    day = date.today()

    def work(i: int) -> list[float]:
        out = []
        for _ in range(per_client):
            t0 = time.perf_counter()
            now = _ts(eng, datetime.now(UTC))
            with eng.begin() as conn:
                n = conn.execute(
                    text(
                        "INSERT INTO ticket_counters (office_id, queue_prefix, business_date, last_number) "
                        "VALUES (:o, 'Z', :d, 1) ON CONFLICT (office_id, queue_prefix, business_date) "
                        "DO UPDATE SET last_number = ticket_counters.last_number + 1 RETURNING last_number"
                    ),
                    {"o": world.office_id, "d": day},
                ).scalar_one()
                tid = conn.execute(
                    text(
                        "INSERT INTO tickets (office_id, service_id, service_version, queue_prefix, business_date,"
                        " number, display_number, state, priority, priority_basis, order_at, queued_at, issued_at,"
                        " recall_count, ended_by, end_reason, version) VALUES (:o, :s, 1, 'Z', :d, :n, :dn,"
                        " 'waiting', 3, '', :t, :t, :t, 0, '', '', 1) RETURNING id"
                    ),
                    {
                        "o": world.office_id,
                        "s": world.service_id,
                        "d": day,
                        "n": n,
                        "dn": f"Z{n:03d}",
                        "t": now,
                    },
                ).scalar_one()
                conn.execute(
                    text(
                        "INSERT INTO ticket_events (ticket_id, office_id, at, event, from_state, to_state, actor,"
                        " reason) VALUES (:t, :o, :at, 'issue', '', 'waiting', 'bench', '')"
                    ),
                    {"t": tid, "o": world.office_id, "at": now},
                )
            out.append((time.perf_counter() - t0) * 1000)
        return out

    return _threads(CLIENTS, work)


def baseline_call(world: World, cycles: int) -> tuple[list[float], float]:
    eng = world.engine
    pick = "SELECT id FROM tickets WHERE office_id = :o AND state = 'waiting' ORDER BY priority, order_at, id LIMIT 1"
    if eng.dialect.name == "postgresql":
        pick += " FOR UPDATE SKIP LOCKED"

    def work(i: int) -> list[float]:
        agent_id = world.agents[i][0]
        out = []
        for _ in range(cycles):
            t0 = time.perf_counter()
            now = _ts(eng, datetime.now(UTC))
            with eng.begin() as conn:
                tid = conn.execute(text(pick), {"o": world.office_id}).scalar_one()
                n = conn.execute(
                    text(
                        "UPDATE tickets SET state = 'offered', agent_id = :a, called_at = :t,"
                        " version = version + 1 WHERE id = :id AND state = 'waiting'"
                    ),
                    {"a": agent_id, "t": now, "id": tid},
                ).rowcount
                assert n == 1
                conn.execute(
                    text(
                        "UPDATE agent_states SET state = 'ringing', current_ticket_id = :id WHERE user_id = :a"
                    ),
                    {"a": agent_id, "id": tid},
                )
                conn.execute(
                    text(
                        "INSERT INTO ticket_events (ticket_id, office_id, at, event, from_state, to_state, agent_id,"
                        " actor, reason) VALUES (:t, :o, :at, 'offer', 'waiting', 'offered', :a, 'bench', '')"
                    ),
                    {"t": tid, "o": world.office_id, "at": now, "a": agent_id},
                )
            out.append((time.perf_counter() - t0) * 1000)
        return out

    return _threads(CLIENTS, work)


def _latency(lat: list[float], prefix: str = "") -> dict[str, float]:
    return {f"{prefix}p50_ms": round(statistics.median(lat), 1), f"{prefix}p95_ms": round(pct(lat, 0.95), 1)}


def run(kind: str, pg_url: str, takes: int, cycles: int, workers: int) -> None:
    world = prepare(kind, pg_url)
    proc = None
    try:
        proc, url = start_office(world, workers)
        cpu = ServerCpu(proc)
        took = load("take_numbers", url, world, takes=takes)
        lat, secs = took["latencies"], took["seconds"]
        n = len(lat)
        take_cpu = cpu.per_request_ms(n)
        base, base_secs = baseline_take(world, takes)
        emit(
            bench="queue.take_number",
            engine=kind,
            office_workers=workers,
            clients=CLIENTS,
            kiosks=KIOSKS,
            requests=n,
            per_s=round(n / secs, 1),
            **_latency(lat),
            office_cpu_ms_per_request=take_cpu,
            baseline="raw SQL: counter upsert + ticket insert + event insert, 50 threads",
            baseline_per_s=round(len(base) / base_secs, 1),
            **_latency(base, "baseline_"),
            ratio_p95=round(pct(lat, 0.95) / pct(base, 0.95), 2),
            ratio_throughput=round((n / secs) / (len(base) / base_secs), 3),
        )
        cpu = ServerCpu(proc)
        floor = load("http_floor", url, world, cycles=cycles)["latencies"]
        floor_cpu = cpu.per_request_ms(len(floor))
        cpu = ServerCpu(proc)
        called = load("call_next", url, world, cycles=cycles, office_pid=proc.pid)
        # 4 requests per agent and round (call-next, answer, complete, available) + 1 to start.
        call_cpu = cpu.per_request_ms(CLIENTS * (4 * cycles + 1))
        lat, offered = called["latencies"], called["offered"]
        assert len(offered) == len(set(offered)), "a ticket was offered twice"
        stop(proc)
        proc = None
        base, base_secs = baseline_call(world, cycles)
        emit(
            bench="queue.call_next",
            engine=kind,
            office_workers=workers,
            agents=CLIENTS,
            calls=len(offered),
            duplicates=len(offered) - len(set(offered)),
            rounds=cycles,
            calls_per_s=round(len(offered) / called["burst_seconds"], 1),
            **_latency(lat),
            target_p95_ms=150 if kind == "postgresql" else None,
            office_cpu_ms_per_press=called["office_cpu_ms_per_press"],
            round_max_ms=called["round_max_ms"],
            office_cpu_ms_per_request_all=call_cpu,
            scenario="each round all 50 agents press call-next at once (timed); then answer, complete, available",
            baseline="raw SQL: pick (SKIP LOCKED on PostgreSQL) + CAS update + agent update + event, 50 threads",
            baseline_per_s=round(len(base) / base_secs, 1),
            **_latency(base, "baseline_"),
            ratio_p95=round(pct(lat, 0.95) / pct(base, 0.95), 2),
            http_floor="same bursts on GET /api/auth/me (HTTP stack + session check only)",
            **_latency(floor, "http_floor_"),
            http_floor_office_cpu_ms_per_request=floor_cpu,
        )
    finally:
        if proc is not None:
            stop(proc)
        world.engine.dispose()
        if world.schema:
            admin = make_engine(pg_url, pool_size=1)
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{world.schema}" CASCADE'))
            admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--pg", default=PG_DEFAULT, help="PostgreSQL URL (a scratch schema is used and dropped)"
    )
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--takes", type=int, default=8, help="take-number requests per client")
    parser.add_argument("--cycles", type=int, default=4, help="rounds of 50 simultaneous call-next presses")
    parser.add_argument("--workers", type=int, default=1, help="office processes (uvicorn --workers)")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    if not args.skip_sqlite:
        run("sqlite", args.pg, args.takes, args.cycles, args.workers)
    if not args.skip_pg:
        run("postgresql", args.pg, args.takes, args.cycles, args.workers)


if __name__ == "__main__":
    main()
