"""End-to-end fixtures: real office processes on loopback sockets, and real Chromium via Playwright.

``live_office`` starts ``doorstep office run`` as a subprocess on a free port with its own SQLite
file (or a given database URL) and waits for ``/readyz``. ``browser`` is one Chromium per test
session (Debian's ``/usr/bin/chromium`` with fake media devices); ``page`` is a fresh context and
page per test. Screenshots go to ``test-artifacts/`` (see :func:`screenshot`).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from office.accounts import create_user
from office.context import OfficeContext
from office.models import Role
from tests.conftest import TIMEOUT, TestDatabase, make_settings

ARTIFACTS = Path(os.environ.get("DOORSTEP_TEST_ARTIFACTS", "test-artifacts"))
CHROMIUM = os.environ.get("DOORSTEP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    # Real host candidates, not mDNS names: a kiosk in another network namespace (or without
    # multicast to the agent) cannot resolve those. Deployments with TURN are unaffected.
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class LiveOffice:
    """A running office process and direct access to its database for arranging test data."""

    url: str
    port: int
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    log_path: Path
    ctx: OfficeContext
    office_id: int = 0
    station_id: int = 0
    passwords: dict[str, str] = field(default_factory=dict)

    def add_user(self, username: str, role: Role, password: str = "Secret-pass-1") -> str:
        """Create a staff account in the office's database; returns the password."""
        with self.ctx.db() as s, s.begin():
            create_user(
                s,
                username=username,
                display_name=f"测试{role.value}",
                role=role,
                password=password,
                office_id=None if role is Role.ADMIN else self.office_id,
                hashing=self.ctx.passwords,
            )
        self.passwords[username] = password
        return password

    def client(self, **kwargs: Any) -> httpx.Client:
        """An HTTP client for the live office."""
        return httpx.Client(base_url=self.url, timeout=TIMEOUT, **kwargs)

    def login(self, username: str) -> httpx.Client:
        """An HTTP client logged in as ``username`` with the CSRF header set."""
        c = self.client()
        r = c.post("/api/auth/login", json={"username": username, "password": self.passwords[username]})
        r.raise_for_status()
        c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return c

    def logs(self) -> str:
        """Everything the process wrote so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Stop the process (SIGINT, as Ctrl-C would) and wait for it."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=TIMEOUT)


def wait_ready(url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    """Poll ``/readyz`` until it answers 200, the process dies, or the timeout passes."""
    deadline = time.monotonic() + TIMEOUT * 3
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"office exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"office not ready:\n{log_path.read_text()[-3000:]}")


def start_office(
    db: TestDatabase, tmp_path: Path, *, port: int | None = None, host: str = "127.0.0.1", **env_extra: str
) -> LiveOffice:
    """Start ``doorstep office run`` on ``db`` (already migrated) and wait until it is ready.

    ``host`` is the address it listens on (``0.0.0.0`` to serve test hosts in namespaces as well);
    ``LiveOffice.url`` always reaches it over loopback.
    """
    port = port or free_port()
    settings = make_settings(db)
    env = {
        **os.environ,
        "OFFICE_ENVIRONMENT": "test",
        "OFFICE_DATABASE_URL": db.url,
        "OFFICE_SECRET_KEY": settings.secret_key.get_secret_value(),
        "OFFICE_DATA_ENCRYPTION_KEY": settings.data_encryption_key.get_secret_value(),
        "OFFICE_LOOKUP_HASH_KEY": settings.lookup_hash_key.get_secret_value(),
        "OFFICE_HOST": host,
        "OFFICE_PORT": str(port),
        "OFFICE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "OFFICE_LOG_LEVEL": "INFO",
        **env_extra,
    }
    if db.pg_schema:
        env["PGOPTIONS"] = f"-csearch_path={db.pg_schema}"
    log_path = tmp_path / f"office-{port}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "doorstep.cli", "office", "run"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc, log_path)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    ctx = OfficeContext.build(settings, engine=db.engine)
    return LiveOffice(url=url, port=port, env=env, proc=proc, log_path=log_path, ctx=ctx)


@pytest.fixture
def live_office(sqlite_db: TestDatabase, tmp_path: Path) -> Iterator[LiveOffice]:
    """A real office process on SQLite with one office and one station."""
    from tests.e2e.stations import seed_office

    office_id, station_id = seed_office(sqlite_db)
    live = start_office(sqlite_db, tmp_path)
    live.office_id, live.station_id = office_id, station_id
    yield live
    live.stop()


# --- browser --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module (Debian's package, fake camera and microphone).

    Module scope, not session: Playwright's sync API keeps an event loop marked as running on the
    main thread while it is alive, which would break every asyncio test collected after it.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make test` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


OFFICE_ZONE = "Asia/Shanghai"
"""The offices' time zone in these tests (the default)."""


def zone_with_another_date(zone: str = OFFICE_ZONE, now: datetime | None = None) -> str:
    """A time zone whose date differs from ``zone``'s at ``now``: UTC−12 or UTC+14, one of which
    always does (each shares Asia/Shanghai's date only 4 and 18 hours a day, never the same hours)."""
    now = now or datetime.now(UTC)
    here = now.astimezone(ZoneInfo(zone)).date()
    for other in ("Etc/GMT+12", "Pacific/Kiritimati"):
        if now.astimezone(ZoneInfo(other)).date() != here:
            return other
    raise AssertionError(f"no zone found whose date differs from {zone}'s")


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context and page; console errors are collected on ``page.console_errors``.

    Marked ``browser_date_differs``: the browser's clock shows another date than the office's."""
    zone = zone_with_another_date() if request.node.get_closest_marker("browser_date_differs") else None
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 1280, "height": 800}, **({"timezone_id": zone} if zone else {})
    )
    context.set_default_timeout(TIMEOUT * 1000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.console_errors = errors
    yield pg
    context.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under ``test-artifacts/`` and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


ScreenshotFn = Callable[[Any, str], Path]
