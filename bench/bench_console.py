"""The agent workbench under load: one ``doorstep office run`` process (SQLite, background jobs off)
with 1,000 waiting tickets across 100 stations.

Figures (JSON lines, each beside its baseline measured in the same run):

* ``event_fanout`` — a ticket issued over REST until its ``queue.issued`` event is received by each of
  200 headless consoles on ``/ws/events`` (one client process, one office process); baseline: the same
  with a single console connected.
* ``console_load`` — the workbench (``/console/index.html``, Chromium) from navigation start until the
  1,000 rows are in the queue panel; baseline: the page's own ``GET /api/queue/tickets`` alone (data,
  no rendering), fetched from the same page.
* ``queue_panel_update`` — a ticket issued (or leaving) over REST until its row is inserted (removed)
  in the open workbench and a frame has been painted; baseline: the same event received by a headless
  console on ``/ws/events`` at the same time.

``python bench/bench_console.py [--quick]`` (``--quick``: 200 tickets, 50 consoles, fewer samples).
"""

from __future__ import annotations

import asyncio
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
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection, connect

from office.accounts import create_user
from office.audit import Actor
from office.context import OfficeContext
from office.db import make_engine
from office.migrate import upgrade
from office.models import Office, Role, Service, Station, User
from office.queue.issue import IssueRequest, issue_ticket
from office.seed_catalog import seed_catalog
from office.settings import Settings

QUICK = "--quick" in sys.argv
STATIONS = 100
TICKETS = 200 if QUICK else 1000
CONSOLES = 50 if QUICK else 200
FANOUT_EVENTS = 10 if QUICK else 40
LOADS = 2 if QUICK else 5
UPDATES = 10 if QUICK else 30
PASSWORD = "Bench-pass-123"
CHROMIUM = os.environ.get("DOORSTEP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--no-first-run",
    "--disable-background-networking",
]


def figure(name: str, samples: list[float], **extra: object) -> None:
    """One JSON line: median and p95 of ``samples`` (ms)."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] if ordered else None
    print(
        json.dumps(
            {
                "bench": "console",
                "figure": name,
                "n": len(ordered),
                "median_ms": round(statistics.median(ordered), 2) if ordered else None,
                "p95_ms": round(p95, 2) if p95 is not None else None,
                **extra,
            },
            ensure_ascii=False,
        ),
        flush=True,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --- the office -----------------------------------------------------------------------------------


def seed(settings: Settings) -> tuple[int, list[int], list[int]]:
    """An office with 100 stations, the catalog, two agents and a desk; TICKETS waiting tickets spread
    over the stations and the first ten services. Returns (office id, station ids, service ids)."""
    engine = make_engine(settings.database_url)
    upgrade(engine)
    ctx = OfficeContext.build(settings, engine=engine)
    with ctx.db() as s, s.begin():
        office = Office(code="BENCH", name="压测街道", name_en="Bench Office", timezone="Asia/Shanghai")
        s.add(office)
        s.flush()
        stations = [
            Station(office_id=office.id, code=f"S{i:03d}", name=f"第{i}服务站", name_en=f"Station {i}")
            for i in range(1, STATIONS + 1)
        ]
        s.add_all(stations)
        for name, role in (("agent1", Role.AGENT), ("agent2", Role.AGENT), ("desk", Role.SUPERVISOR)):
            create_user(
                s,
                username=name,
                display_name=name,
                role=role,
                password=PASSWORD,
                office_id=office.id,
                hashing=ctx.passwords,
            )
        s.flush()
        office_id, station_ids = office.id, [st.id for st in stations]
    seed_catalog(ctx)
    with ctx.read_db() as s:
        service_ids = list(s.scalars(select(Service.id).order_by(Service.id).limit(10)))
    actor = Actor("system", "bench")
    with ctx.read_db() as s:
        desk_user = s.scalar(select(User.id).where(User.username == "desk"))
    for n in range(TICKETS):
        issue_ticket(
            ctx,
            IssueRequest(
                office_id=office_id,
                station_id=station_ids[n % STATIONS],
                user_id=desk_user,
                service_id=service_ids[n % len(service_ids)],
            ),
            actor,
        )
    engine.dispose()
    return office_id, station_ids, service_ids


class OfficeProcess:
    """``doorstep office run`` on the seeded database."""

    def __init__(self, database_url: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "OFFICE_DATABASE_URL": database_url,
            "OFFICE_HOST": "127.0.0.1",
            "OFFICE_PORT": str(self.port),
            "OFFICE_PUBLIC_URL": self.url,
            "OFFICE_BACKGROUND_JOBS": "false",
            "OFFICE_ARGON2_TIME_COST": "1",
            "OFFICE_ARGON2_MEMORY_KIB": "1024",
            "OFFICE_LOG_LEVEL": "WARNING",
        }
        self.log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "doorstep.cli", "office", "run"],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"office exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError(log.read_text()[-2000:])

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def login(url: str, username: str) -> httpx.Client:
    c = httpx.Client(base_url=url, timeout=30)
    r = c.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    r.raise_for_status()
    c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return c


def issue(desk: httpx.Client, station_id: int, service_id: int) -> dict[str, Any]:
    r = desk.post(
        "/api/queue/tickets",
        json={"service_id": service_id, "station_id": station_id},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    r.raise_for_status()
    body: dict[str, Any] = r.json()
    return body


# --- fan-out to headless consoles ------------------------------------------------------------------


class Consoles:
    """``n`` headless consoles on /ws/events recording when each ticket's ``queue.issued`` arrived."""

    def __init__(self, ws_url: str, cookie: str, n: int) -> None:
        self.ws_url, self.cookie, self.n = ws_url, cookie, n
        self.arrivals: dict[int, list[float]] = {}
        self.sockets: list[ClientConnection] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.complete = asyncio.Event()

    async def __aenter__(self) -> Consoles:
        for _ in range(self.n):
            ws = await connect(self.ws_url, additional_headers={"Cookie": self.cookie}, max_queue=None)
            self.sockets.append(ws)
            self.tasks.append(asyncio.create_task(self._read(ws)))
        return self

    async def _read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            now = time.perf_counter()
            if '"queue.issued"' not in raw:  # cheap: the client process must not be the bottleneck
                continue
            event = json.loads(raw)
            if event["topic"] == "queue.issued":
                got = self.arrivals.setdefault(event["payload"]["ticket_id"], [])
                got.append(now)
                if len(got) == self.n:
                    self.complete.set()

    async def wait_all(self, ticket_id: int) -> list[float]:
        """Every console's arrival time of ``ticket_id``'s issue event (10 s at most)."""
        async with asyncio.timeout(10):
            while len(self.arrivals.get(ticket_id, [])) < self.n:
                await self.complete.wait()
                self.complete.clear()
        return self.arrivals[ticket_id]

    async def __aexit__(self, *exc: object) -> None:
        for ws in self.sockets:
            await ws.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def fanout(
    url: str, cookie: str, n_consoles: int, stations: list[int], services: list[int]
) -> tuple[list[float], list[float]]:
    """Latency (ms) from the REST issue to each console's receipt, over FANOUT_EVENTS tickets; and per
    event the spread between the first and the last console's receipt (the fan-out itself)."""
    ws_url = url.replace("http", "ws", 1) + "/ws/events"
    samples: list[float] = []
    spreads: list[float] = []
    async with (
        httpx.AsyncClient(base_url=url, timeout=30) as desk,
        Consoles(ws_url, cookie, n_consoles) as consoles,
    ):
        r = await desk.post("/api/auth/login", json={"username": "desk", "password": PASSWORD})
        desk.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        await asyncio.sleep(0.5)
        for i in range(FANOUT_EVENTS):
            start = time.perf_counter()
            r = await desk.post(
                "/api/queue/tickets",
                json={"service_id": services[i % len(services)], "station_id": stations[i % len(stations)]},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            ticket_id = r.json()["id"]
            try:
                got = await consoles.wait_all(ticket_id)
            except TimeoutError:
                n = len(consoles.arrivals.get(ticket_id, []))
                raise RuntimeError(f"only {n} of {n_consoles} consoles got ticket {ticket_id}") from None
            samples += [(t - start) * 1000 for t in got]
            spreads.append((max(got) - min(got)) * 1000)
            await desk.post(f"/api/queue/tickets/{ticket_id}/leave", json={"reason": "bench"})
            await asyncio.sleep(0.1)
    return samples, spreads


# --- the workbench in Chromium ---------------------------------------------------------------------


def browser_figures(url: str, stations: list[int], services: list[int], cookie_for_ws: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
        context.set_default_timeout(60000)
        page = context.new_page()
        page.goto(f"{url}/console/login.html")
        page.fill("#username", "agent1")
        page.fill("#password", PASSWORD)
        page.click("#submit")
        page.wait_for_url(f"{url}/console/")
        loads: list[float] = []
        api_only: list[float] = []
        for _ in range(LOADS):
            page.reload()
            expect(page.locator("#tickets li")).to_have_count(TICKETS, timeout=60000)
            loads.append(float(page.evaluate("window.wbQueue.loadedAt")))
            api_only.append(
                float(
                    page.evaluate(
                        "async () => { const t = performance.now(); const r = await fetch('/api/queue/tickets?estimates=false');"
                        " await r.json(); return performance.now() - t; }"
                    )
                )
            )
        figure(
            "console_load",
            loads,
            tickets=TICKETS,
            stations=STATIONS,
            what="navigation start → rows in the panel",
        )
        figure("console_load_baseline_api", api_only, what="GET /api/queue/tickets alone from the page")

        # Update latency: REST issue / leave → row inserted / removed and a frame painted. A headless
        # console in a thread of its own (Playwright's sync API owns this thread's event loop) receives
        # the same events as the baseline.
        probe = Probe(url.replace("http", "ws", 1) + "/ws/events", cookie_for_ws)
        desk = login(url, "desk")
        inserts: list[float] = []
        removes: list[float] = []
        headless: list[float] = []
        try:
            time.sleep(0.3)
            for i in range(UPDATES):
                start_wall = time.time() * 1000
                start = time.perf_counter()
                ticket = issue(desk, stations[(i * 7) % len(stations)], services[i % len(services)])
                inserts.append(_painted(page, ticket["id"], True) - start_wall)
                arrived = probe.arrival(ticket["id"])
                if arrived is not None:
                    headless.append((arrived - start) * 1000)
                start_wall = time.time() * 1000
                desk.post(f"/api/queue/tickets/{ticket['id']}/leave", json={"reason": "bench"})
                removes.append(_painted(page, ticket["id"], False) - start_wall)
        finally:
            desk.close()
            probe.stop()
        figure(
            "queue_panel_insert", inserts, waiting=TICKETS, what="REST issue → row in the DOM, frame painted"
        )
        figure("queue_panel_remove", removes, waiting=TICKETS, what="REST leave → row gone, frame painted")
        figure(
            "queue_panel_baseline_ws", headless, what="the same issue events at a headless /ws/events client"
        )
        context.close()
        browser.close()


class Probe:
    """One headless console on its own thread and event loop."""

    def __init__(self, ws_url: str, cookie: str) -> None:
        self.consoles = Consoles(ws_url, cookie, 1)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stopping: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, name="probe", daemon=True)
        self.thread.start()
        self.ready.wait(30)

    def _run(self) -> None:
        async def main() -> None:
            self.stopping = asyncio.Event()
            async with self.consoles:
                self.ready.set()
                await self.stopping.wait()

        self.loop.run_until_complete(main())
        self.loop.close()

    def arrival(self, ticket_id: int) -> float | None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            got = self.consoles.arrivals.get(ticket_id)
            if got:
                return got[0]
            time.sleep(0.002)
        return None

    def stop(self) -> None:
        if self.stopping is not None:
            self.loop.call_soon_threadsafe(self.stopping.set)
        self.thread.join(10)


def _painted(page: Any, ticket_id: int, present: bool) -> float:
    """Wall-clock ms (Date.now) of the first painted frame after the row appeared / went."""
    script = """([id, present]) => new Promise((resolve) => {
      const check = () => {
        const has = document.querySelector(`#tickets li[data-ticket-id="${id}"]`) !== null;
        if (has === present) requestAnimationFrame(() => resolve(Date.now()));
        else setTimeout(check, 0);
      };
      check();
    })"""
    # The check polls with setTimeout(0) (≈1-4 ms granularity): good enough beside tens of ms.
    return float(page.evaluate(script, [ticket_id, present]))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url_db = f"sqlite:///{Path(tmp) / 'office.db'}"
        settings = Settings(
            database_url=url_db, background_jobs=False, argon2_time_cost=1, argon2_memory_kib=1024
        )
        t0 = time.perf_counter()
        _, stations, services = seed(settings)
        print(
            f"# seeded {TICKETS} tickets over {STATIONS} stations in {time.perf_counter() - t0:.1f}s",
            flush=True,
        )
        office = OfficeProcess(url_db, Path(tmp) / "office.log")
        try:
            agent = login(office.url, "agent2")
            cookie = "; ".join(f"{k}={v}" for k, v in agent.cookies.items())
            agent.close()
            single, _ = asyncio.run(fanout(office.url, cookie, 1, stations, services))
            many, spreads = asyncio.run(fanout(office.url, cookie, CONSOLES, stations, services))
            figure(
                "event_fanout",
                many,
                consoles=CONSOLES,
                events=FANOUT_EVENTS,
                target_p95_ms=200,
                what="REST issue → queue.issued received, every console",
            )
            figure("event_fanout_spread", spreads, consoles=CONSOLES, what="first → last console, per event")
            figure("event_fanout_baseline_one_console", single, consoles=1, events=FANOUT_EVENTS)
            browser_figures(office.url, stations, services, cookie)
        finally:
            office.stop()


if __name__ == "__main__":
    main()
