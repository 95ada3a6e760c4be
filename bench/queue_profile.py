"""Deterministic cost of one queue request: SQL statements, connection checkouts and transactions
per request (SQLAlchemy event hooks), and optionally wall and CPU time per request over repeated cycles (profile them
with ``py-spy record --native -o out.txt -f raw -- .venv/bin/python bench/queue_profile.py --cycles 300``).

The office app runs in this process behind ``httpx.ASGITransport`` (no sockets, no timing): the
counts do not depend on how busy the machine is. Used to find and check round-trip cuts.

Run: ``.venv/bin/python bench/queue_profile.py [--pg URL | --sqlite] [--statements] [--cycles N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from bench_queue import PG_DEFAULT, SECRETS, World, prepare
from sqlalchemy import Engine, event, text

from office.app import create_app
from office.db import make_engine
from office.settings import Environment, Settings


@dataclass
class Counts:
    """What one request cost in database work."""

    statements: list[str] = field(default_factory=list)
    checkouts: int = 0
    commits: int = 0
    #: PostgreSQL only: what psycopg sent (queries incl. pool pre-pings, BEGIN/COMMIT/ROLLBACK).
    round_trips: int = 0


class Recorder:
    """Counts statements, checkouts and commits on an engine while armed."""

    def __init__(self, engine: Engine) -> None:
        self.current: Counts | None = None
        event.listen(engine, "before_cursor_execute", self._stmt)
        event.listen(engine, "commit", self._commit)
        event.listen(engine.pool, "checkout", self._checkout)
        if engine.dialect.name == "postgresql":
            self._count_driver_round_trips()

    def _count_driver_round_trips(self) -> None:
        """Wrap psycopg's query and transaction-command entry points (a profiler's instrument)."""
        import psycopg
        from psycopg._connection_base import BaseConnection

        recorder = self
        execute, command = psycopg.Cursor.execute, BaseConnection._exec_command

        def counted_execute(cur: Any, *args: Any, **kwargs: Any) -> Any:
            if recorder.current is not None:
                recorder.current.round_trips += 1
            return execute(cur, *args, **kwargs)

        def counted_command(conn: Any, *args: Any, **kwargs: Any) -> Any:
            if recorder.current is not None:
                recorder.current.round_trips += 1
            return command(conn, *args, **kwargs)

        setattr(psycopg.Cursor, "execute", counted_execute)  # noqa: B010 - patched on purpose
        setattr(BaseConnection, "_exec_command", counted_command)  # noqa: B010 - patched on purpose

    def _stmt(self, _conn: Any, _cur: Any, statement: str, *_: Any) -> None:
        if self.current is not None:
            self.current.statements.append(" ".join(statement.split())[:160])

    def _commit(self, _conn: Any) -> None:
        if self.current is not None:
            self.current.commits += 1

    def _checkout(self, *_: Any) -> None:
        if self.current is not None:
            self.current.checkouts += 1

    @contextmanager
    def armed(self) -> Iterator[Counts]:
        self.current = Counts()
        try:
            yield self.current
        finally:
            self.current = None


def _settings(world: World) -> Settings:
    return Settings(
        environment=Environment.TEST,
        database_url=world.url,
        secret_key=SECRETS["OFFICE_SECRET_KEY"],
        data_encryption_key=SECRETS["OFFICE_DATA_ENCRYPTION_KEY"],
        lookup_hash_key=SECRETS["OFFICE_LOOKUP_HASH_KEY"],
        background_jobs=False,
        log_level="WARNING",
    )


async def _cycle(
    c: httpx.AsyncClient,
    rec: Recorder | None,
    report: dict[str, Counts],
    cpu: dict[str, list[float]] | None = None,
) -> None:
    @contextmanager
    def measure(name: str) -> Iterator[None]:
        if rec is None:
            c0 = time.process_time()
            yield
            if cpu is not None:
                cpu.setdefault(name, []).append((time.process_time() - c0) * 1000)
            return
        with rec.armed() as counts:
            yield
        report[name] = counts

    with measure("GET /api/auth/me"):
        r = await c.get("/api/auth/me")
    assert r.status_code == 200, r.text
    with measure("POST /api/queue/call-next"):
        r = await c.post("/api/queue/call-next")
    assert r.status_code == 200, r.text
    tid = r.json()["ticket"]["id"]
    for step in ("answer", "complete"):
        with measure(f"POST /api/queue/tickets/{{id}}/{step}"):
            r = await c.post(f"/api/queue/tickets/{tid}/{step}", json={})
        assert r.status_code == 200, r.text
    with measure("PUT /api/queue/agents/me/state"):
        r = await c.put("/api/queue/agents/me/state", json={"state": "available"})
    assert r.status_code == 200, r.text


async def _kiosk_issue(c: httpx.AsyncClient, world: World, n: int, rec: Recorder | None) -> Counts | None:
    counts = None
    for i in range(n):
        if rec is not None and i == n - 1:
            with rec.armed() as counts:
                r = await c.post("/api/queue/tickets", json={"service_id": world.service_id})
        else:
            r = await c.post("/api/queue/tickets", json={"service_id": world.service_id})
        assert r.status_code == 201, r.text
    return counts


async def main_async(world: World, show_statements: bool, profile_cycles: int) -> None:
    app = create_app(_settings(world), engine=world.engine)
    rec = Recorder(world.engine)
    transport = httpx.ASGITransport(app=app)
    _, cookie, csrf = world.agents[0]
    kiosk = httpx.AsyncClient(
        transport=transport,
        base_url="http://office",
        headers={"Authorization": f"Bearer {world.kiosk_tokens[0]}"},
    )
    agent = httpx.AsyncClient(
        transport=transport,
        base_url="http://office",
        cookies={"doorstep_session": cookie},
        headers={"X-CSRF-Token": csrf},
    )
    async with kiosk, agent:
        issue = await _kiosk_issue(kiosk, world, 3 + profile_cycles + 2, rec)
        r = await agent.put("/api/queue/agents/me/state", json={"state": "available", "window_no": 1})
        assert r.status_code == 200, r.text
        await _cycle(agent, None, {})  # warm caches and pools
        report: dict[str, Counts] = {"POST /api/queue/tickets (kiosk)": issue} if issue else {}
        await _cycle(agent, rec, report)
        for name, counts in report.items():
            print(
                json.dumps(
                    {
                        "engine": world.engine.dialect.name,
                        "request": name,
                        "statements": len(counts.statements),
                        "commits": counts.commits,
                        "checkouts": counts.checkouts,
                        "pg_round_trips": counts.round_trips
                        if world.engine.dialect.name == "postgresql"
                        else None,
                    }
                ),
                flush=True,
            )
            if show_statements:
                for st in counts.statements:
                    print("    ", st)
        if profile_cycles:
            cpu: dict[str, list[float]] = {}
            for _ in range(profile_cycles):
                await _cycle(agent, None, {}, cpu)
            for name, values in cpu.items():
                print(
                    json.dumps(
                        {
                            "engine": world.engine.dialect.name,
                            "request": name,
                            "cycles": profile_cycles,
                            "cpu_ms_median": round(statistics.median(values), 2),
                            "note": "client (httpx in process) + office CPU, one request at a time",
                        }
                    ),
                    flush=True,
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pg", default=PG_DEFAULT)
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--statements", action="store_true", help="print each statement")
    parser.add_argument("--cycles", type=int, default=0, help="time this many cycles (for a profiler)")
    args = parser.parse_args()
    world = prepare("sqlite" if args.sqlite else "postgresql", args.pg)
    try:
        asyncio.run(main_async(world, args.statements, args.cycles))
    finally:
        world.engine.dispose()
        if world.schema:
            admin = make_engine(args.pg, pool_size=1)
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{world.schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    main()
