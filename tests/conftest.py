"""Suite-wide fixtures and policing.

- Storage: every database test runs on SQLite (always) and on PostgreSQL when reachable
  (``OFFICE_TEST_DATABASE_URL``); each test gets its own freshly migrated database (a copied SQLite
  file, or a PostgreSQL schema of its own). ``DOORSTEP_REQUIRE_SERVICES=1`` (set by CI) turns an
  unreachable PostgreSQL or Redis into a failure instead of a skip.
- Network: an audit hook refuses socket connections to anything but loopback and Unix sockets.
- Cleanup: a test that leaves threads behind fails.
- Hangs: shortly before pytest-timeout fails a test, every pending asyncio task's await chain is
  printed (pytest-timeout itself shows only threads, which for an async test is the idle loop).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import shutil
import socket
import sys
import threading
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from sqlalchemy import Engine, text

from office.clock import FakeClock
from office.db import make_engine
from office.migrate import upgrade
from office.settings import Environment, Settings

PG_URL = os.environ.get("OFFICE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("OFFICE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = os.environ.get("DOORSTEP_REQUIRE_SERVICES") == "1"

#: Base timeout for anything that waits in tests; scale here, not per test.
TIMEOUT = float(os.environ.get("DOORSTEP_TEST_TIMEOUT", "10"))


# --- network policy -------------------------------------------------------------------------------

#: Networks of test hosts that tests created themselves (veth pairs into network namespaces).
TEST_HOST_NETWORKS: set[ipaddress.IPv4Network] = set()


def _loopback_only(event: str, args: tuple[Any, ...]) -> None:
    if event != "socket.connect":
        return
    sock, address = args[0], args[1]
    if sock.family == socket.AF_UNIX:
        return
    host = address[0] if isinstance(address, tuple) else address
    try:
        ip = ipaddress.ip_address(host)
        ok = ip.is_loopback or any(ip in net for net in TEST_HOST_NETWORKS)
    except ValueError:
        ok = host == "localhost"
    if not ok:
        raise ConnectionRefusedError(
            f"tests may only connect to loopback or their own test hosts, not {host!r}"
        )


sys.addaudithook(_loopback_only)


# --- services -------------------------------------------------------------------------------------


def _service_missing(name: str, reason: str) -> None:
    message = f"{name} unreachable ({reason})"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message}; DOORSTEP_REQUIRE_SERVICES=1 requires it")
    pytest.skip(message)


_pg_state: dict[str, str | None] = {}


def postgres_available() -> str | None:
    """None when PostgreSQL answers, else the reason it does not (checked once per run)."""
    if "reason" not in _pg_state:
        try:
            eng = make_engine(PG_URL, pool_size=1)
            with eng.connect() as conn:
                conn.execute(text("SELECT 1"))
            eng.dispose()
            _pg_state["reason"] = None
        except Exception as err:  # any driver error: not reachable
            _pg_state["reason"] = f"{type(err).__name__}"
    return _pg_state["reason"]


def require_redis() -> str:
    """The Redis URL, skipping (or failing under CI) when Redis does not answer."""
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        client.ping()
        client.close()
    except Exception as err:  # any client error: not reachable
        _service_missing("Redis", type(err).__name__)
    return REDIS_URL


# --- databases ------------------------------------------------------------------------------------


@dataclass
class TestDatabase:
    """A migrated, isolated database for one test."""

    __test__ = False

    kind: str  # "sqlite" | "postgres"
    url: str
    engine: Engine
    pg_schema: str | None = None

    def new_engine(self, pool_size: int = 20) -> Engine:
        """Another engine on the same database (e.g. a second office process's view)."""
        return make_engine(self.url, pool_size=pool_size, pg_schema=self.pg_schema)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per run; each test copies it."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    eng = make_engine(f"sqlite:///{path}")
    upgrade(eng)
    eng.dispose()  # the last connection to close checkpoints the WAL into the main file
    return path


def _make_db(kind: str, tmp_path: Path, template: Path) -> Iterator[TestDatabase]:
    if kind == "sqlite":
        path = tmp_path / "office.db"
        shutil.copyfile(template, path)
        url = f"sqlite:///{path}"
        eng = make_engine(url)
        yield TestDatabase("sqlite", url, eng)
        eng.dispose()
        return
    reason = postgres_available()
    if reason is not None:
        _service_missing("PostgreSQL", reason)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL, pool_size=1)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    eng = make_engine(PG_URL, pg_schema=schema)
    upgrade(eng)
    try:
        yield TestDatabase("postgres", PG_URL, eng, pg_schema=schema)
    finally:
        eng.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[TestDatabase]:
    """A fresh migrated database, on SQLite and on PostgreSQL."""
    yield from _make_db(request.param, tmp_path, sqlite_template)


@pytest.fixture
def sqlite_db(tmp_path: Path, sqlite_template: Path) -> Iterator[TestDatabase]:
    """A fresh migrated SQLite database (for tests whose subject is not the engine)."""
    yield from _make_db("sqlite", tmp_path, sqlite_template)


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock starting Monday 2026-03-02 09:00 Asia/Shanghai (01:00 UTC)."""
    return FakeClock()


def make_settings(db: TestDatabase, **overrides: Any) -> Settings:
    """Test settings (environment=test with real-looking secrets)."""
    values: dict[str, Any] = {
        "environment": Environment.TEST,
        "database_url": db.url,
        "secret_key": "test-only-" + "k3y" * 8,
        "data_encryption_key": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        "lookup_hash_key": "test-lookup-" + "h4sh" * 6,
        "log_json": True,
        # Cheap argon2 for test speed; production keeps the strong default (a test checks it).
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        # In-process tests drive periodic jobs explicitly with the fake clock.
        "background_jobs": False,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings_factory() -> Callable[..., Settings]:
    """Build settings for a test database with overrides."""
    return make_settings


# --- cleanup policing -----------------------------------------------------------------------------

_ALLOWED_THREAD_PREFIXES = (
    "AnyIO worker thread",
    "asyncio_",
    "asyncio-portal",  # Schemathesis' ASGI transport keeps one portal thread per process
    "ThreadPoolExecutor",
    "pydevd",
    "Dummy-",
)


@pytest.fixture(autouse=True)
def verify_no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves non-pool threads running."""
    before = set(threading.enumerate())
    yield
    leaked: list[threading.Thread] = []
    for th in set(threading.enumerate()) - before:
        if th.name.startswith(_ALLOWED_THREAD_PREFIXES) or not th.is_alive():
            continue
        th.join(timeout=TIMEOUT / 2)
        if th.is_alive():
            leaked.append(th)
    assert not leaked, f"test left threads running: {[t.name for t in leaked]}"


# --- hang diagnosis -------------------------------------------------------------------------------

#: How long before pytest-timeout fires the asyncio tasks are dumped.
_DUMP_LEAD_S = 5.0


def _await_chain(awaitable: Any) -> list[FrameType]:
    """The frames of a coroutine and of everything it is awaiting, outermost first."""
    frames: list[FrameType] = []
    seen: set[int] = set()
    while awaitable is not None and id(awaitable) not in seen:
        seen.add(id(awaitable))
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "ag_frame", None)
        frame = frame or getattr(awaitable, "gi_frame", None)
        if frame is not None:
            frames.append(frame)
        awaitable = (
            getattr(awaitable, "cr_await", None)
            or getattr(awaitable, "ag_await", None)
            or getattr(awaitable, "gi_yieldfrom", None)
        )
    return frames


def _dump_asyncio_tasks(nodeid: str) -> None:
    tasks: set[asyncio.Task[Any]] = set()
    registry: Any = getattr(asyncio.tasks, "_all_tasks", None) or getattr(
        asyncio.tasks, "_scheduled_tasks", ()
    )
    for _ in range(3):  # the registry is a WeakSet the loop thread changes under us
        try:
            tasks = {t for t in list(registry) if not t.done()}
            break
        except RuntimeError:
            continue
    out = [f"\n+++ {len(tasks)} pending asyncio tasks of {nodeid} +++"]
    for task in sorted(tasks, key=lambda t: t.get_name()):
        out.append(f"--- {task.get_name()}")
        for frame in _await_chain(task.get_coro()):
            out.append(f"    {frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}")
    print("\n".join(out), flush=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    marker = item.get_closest_marker("timeout")
    limit = float(marker.args[0]) if marker and marker.args else float(item.config.getini("timeout") or 0)
    timer = None
    if limit > _DUMP_LEAD_S:
        timer = threading.Timer(limit - _DUMP_LEAD_S, _dump_asyncio_tasks, (item.nodeid,))
        timer.name = "asyncio-task-dump"
        timer.daemon = True
        timer.start()
    try:
        return (yield)
    finally:
        if timer is not None:
            timer.cancel()
            timer.join()
