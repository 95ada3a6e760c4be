"""Engine and session factory: SQLite (WAL) by default, PostgreSQL by URL.

Everything is built from :class:`office.settings.Settings` by :func:`make_engine`; there is no
module-level engine. SQLite connections get WAL, a busy timeout and foreign keys; writers take the
database lock at ``BEGIN`` (``BEGIN IMMEDIATE``) so read-modify-write transactions serialize instead
of failing on upgrade, which is how concurrency guarantees hold on the embedded engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

__all__ = [
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


def make_engine(url: str, *, pool_size: int = 20, echo: bool = False, pg_schema: str | None = None) -> Engine:
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
    return create_engine(
        parsed,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args=connect_args,
    )


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
