"""Engine and session factory: SQLite (WAL) by default, PostgreSQL by URL.

Everything is built from :class:`office.settings.Settings` by :func:`make_engine`; there is no
module-level engine. SQLite connections get WAL, a busy timeout and foreign keys; writers take the
database lock at ``BEGIN`` (``BEGIN IMMEDIATE``) so read-modify-write transactions serialize instead
of failing on upgrade, which is how concurrency guarantees hold on the embedded engine.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

__all__ = [
    "DEFAULT_POOL_SIZE",
    "READONLY_OPTION",
    "DatabaseUnavailable",
    "make_engine",
    "make_read_session_factory",
    "make_session_factory",
    "ping",
    "transaction",
]

#: Execution option marking read-only work: on SQLite it begins a deferred (shared) transaction.
READONLY_OPTION = "doorstep_readonly"


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached."""


#: Pooled connections kept open: as many as AnyIO's worker threads (40), which run the office's
#: blocking work, so a burst that fills the thread pool reuses connections instead of opening
#: overflow ones and closing them again on check-in (20 new PostgreSQL backends per burst of 50).
DEFAULT_POOL_SIZE = 40


def make_engine(
    url: str, *, pool_size: int = DEFAULT_POOL_SIZE, echo: bool = False, pg_schema: str | None = None
) -> Engine:
    """Create an engine for ``url`` with the per-dialect settings the office relies on.

    ``pg_schema`` puts every PostgreSQL connection's ``search_path`` on one schema (test isolation).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or database == ":memory:":
            engine = create_engine(
                parsed, echo=echo, connect_args={"check_same_thread": False}, poolclass=StaticPool
            )
            _configure_sqlite(engine)
            return engine
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        _configure_sqlite(engine)
        return engine
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    connect_args = {"options": f"-csearch_path={pg_schema}"} if pg_schema else {}
    engine = create_engine(
        parsed,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args=connect_args,
    )
    _ping_when_idle(engine)
    return engine


#: A pooled connection unused for longer than this is pinged before it is handed out.
PING_AFTER_IDLE_S = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling without a round trip per checkout.

    ``pool_pre_ping`` pings on every checkout: two extra round trips for a request that checks out
    twice (session look-up, then its work). A connection that went back to the pool moments ago was
    alive then; only one idle for :data:`PING_AFTER_IDLE_S` is pinged (a database restart while
    idle is caught here; a dead connection met mid-burst is invalidated with the whole pool by
    SQLAlchemy's disconnect detection, and that one request fails).
    """

    @event.listens_for(engine.pool, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return  # new (just connected) or used moments ago
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as err:  # any driver error: let the pool reconnect
            raise DisconnectionError(str(type(err).__name__)) from err
        if not alive:
            raise DisconnectionError("ping failed")


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (below) instead of pysqlite's deferred implicit BEGIN.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(READONLY_OPTION):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that do not expire objects on commit (responses are built after commit)."""
    return sessionmaker(engine, expire_on_commit=False)


def make_read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for read-only work; they never take SQLite's write lock."""
    return sessionmaker(engine.execution_options(**{READONLY_OPTION: True}), expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def ping(engine: Engine) -> None:
    """Raise :class:`DatabaseUnavailable` unless a trivial query succeeds."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as err:  # any driver error means "not ready"
        raise DatabaseUnavailable(type(err).__name__) from err
