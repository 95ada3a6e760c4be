"""The PostgreSQL pool the queue's hot path relies on: a connection is pinged only after it sat idle
(no round trip per checkout during a burst), and a connection the server dropped while idle is
replaced before anyone uses it; a burst as wide as the worker thread pool, repeated, opens no new
connection (the pool keeps what the burst needed instead of closing overflow connections)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import pytest
from anyio import to_thread
from sqlalchemy import Engine, event, text

from office import db
from office.db import make_engine
from tests.conftest import PG_URL, TIMEOUT, _service_missing, postgres_available


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    """A PostgreSQL engine with a one-connection pool."""
    reason = postgres_available()
    if reason is not None:
        _service_missing("PostgreSQL", reason)  # a failure under DOORSTEP_REQUIRE_SERVICES=1 (CI)
    engine = make_engine(PG_URL, pool_size=1)
    yield engine
    engine.dispose()


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        pid: int = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    return pid


def _terminate(pid: int) -> None:
    admin = make_engine(PG_URL, pool_size=1)
    with admin.begin() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    admin.dispose()


@pytest.mark.postgres
def test_a_connection_dropped_while_idle_is_replaced_before_use(
    pg_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Server-side termination of an idle pooled connection: the next checkout pings, reconnects."""
    first = _backend_pid(pg_engine)
    _terminate(first)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)
    assert _backend_pid(pg_engine) != first  # no error reached the caller


@pytest.mark.postgres
def test_a_connection_used_moments_ago_is_not_pinged(
    pg_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Within the idle window no ping is sent: the same backend serves the next checkout directly."""
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 3600.0)
    sent: list[str] = []
    pid = _backend_pid(pg_engine)
    event.listen(pg_engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    pings: list[object] = []
    real_ping = pg_engine.dialect.do_ping

    def counted_ping(dbapi_conn: Any) -> bool:
        pings.append(dbapi_conn)
        return real_ping(dbapi_conn)

    monkeypatch.setattr(pg_engine.dialect, "do_ping", counted_ping)
    assert _backend_pid(pg_engine) == pid
    assert pings == [] and sent == ["SELECT pg_backend_pid()"]


async def _worker_threads() -> int:
    """How many worker threads AnyIO (so Starlette's thread pool) runs at most."""
    return int(to_thread.current_default_thread_limiter().total_tokens)


@pytest.mark.postgres
def test_a_repeated_burst_as_wide_as_the_thread_pool_opens_no_new_connection() -> None:
    """40 threads (AnyIO's worker limit) query at once, twice: the second burst reuses the first's
    connections (the default pool keeps them; overflow connections would be closed and reopened)."""
    reason = postgres_available()
    if reason is not None:
        _service_missing("PostgreSQL", reason)
    engine = make_engine(PG_URL)
    opened: list[object] = []
    event.listen(engine, "connect", lambda *_: opened.append(1))
    width = anyio.run(_worker_threads)
    barrier = threading.Barrier(width, timeout=TIMEOUT * 3)

    def query(_: int) -> int:
        with engine.connect() as conn:
            barrier.wait()  # all connections checked out at once
            pid: int = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        return pid

    try:
        with ThreadPoolExecutor(max_workers=width) as pool:
            first = set(pool.map(query, range(width)))
            after_first = len(opened)
            second = set(pool.map(query, range(width)))
    finally:
        engine.dispose()
    assert after_first == width == len(first)
    assert len(opened) == after_first and second == first
