"""The agent workbench under load: one ``doorstep office run`` process (SQLite, background jobs off)
with 1,000 waiting tickets across 100 stations.

Figures (JSON lines, each beside its baseline measured in the same run):

* ``event_fanout_publish`` — each ``queue.issued`` event from its publication in the office (the
  envelope's ``ts``, wall-clock ms taken by the hub) until each of 200 headless consoles on
  ``/ws/events`` (session cookie, like a console) has received it; client and office on one machine,
  one clock. Baseline ``event_fanout_bare_publish``: a bare ``websockets`` server process that
  stamps and broadcasts the same frames to 200 clients of its own, one baseline event interleaved
  after each office event in the same run.
* ``event_fanout_request`` — the same receipts measured from the REST issue request (request +
  transaction + publication + fan-out); ``event_fanout_spread``: first → last console per event;
  ``event_fanout_baseline_one_console``: the REST → receipt path with a single console.
* ``console_load`` — the workbench (``/console/index.html``, Chromium) from navigation start until the
  1,000 rows are in the queue panel; baseline: the page's own ``GET /api/queue/tickets`` alone (data,
  no rendering), fetched from the same page.
* ``queue_panel_update`` — a ticket issued (or leaving) over REST until its row is inserted (removed)
  in the open workbench and a frame has been painted; baseline: the same event received by a headless
  console on ``/ws/events`` at the same time.

``python bench/bench_console.py [--quick] [--fanout-only]`` (``--quick``: 200 tickets, 50 consoles,
fewer samples; ``--fanout-only``: no Chromium figures). ``BENCH_CONSOLE_PYSPY=out.txt`` records the
office process with ``py-spy`` (collapsed stacks) during the many-console fan-out.
Every figure line carries the 1-minute load average at the time it was printed.
"""

from __future__ import annotations

import asyncio
import contextlib
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
FANOUT_ONLY = "--fanout-only" in sys.argv  # skip the Chromium figures
PROFILE = os.environ.get("BENCH_CONSOLE_PYSPY")  # collapsed py-spy stacks of the office, 200-console run
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
                "loadavg_1m": round(os.getloadavg()[0], 2),
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
    """``n`` headless consoles on a live-events socket recording, per ticket, when each received its
    ``queue.issued`` event: (``perf_counter`` at receipt, age in ms since the envelope's ``ts``)."""

    def __init__(self, ws_url: str, cookie: str, n: int) -> None:
        self.ws_url, self.cookie, self.n = ws_url, cookie, n
        self.arrivals: dict[int, list[tuple[float, float]]] = {}
        self.frames: dict[int, str] = {}
        self.sockets: list[ClientConnection] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.complete = asyncio.Event()

    async def __aenter__(self) -> Consoles:
        headers = {"Cookie": self.cookie} if self.cookie else None
        for _ in range(self.n):
            ws = await connect(self.ws_url, additional_headers=headers, max_queue=None)
            self.sockets.append(ws)
            self.tasks.append(asyncio.create_task(self._read(ws)))
        return self

    async def _read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            now = time.perf_counter()
            wall = time.time() * 1000
            if '"queue.issued"' not in raw:  # cheap: the client process must not be the bottleneck
                continue
            event = json.loads(raw)
            if event["topic"] == "queue.issued":
                ticket_id = event["payload"]["ticket_id"]
                got = self.arrivals.setdefault(ticket_id, [])
                got.append((now, wall - event.get("ts", wall)))
                self.frames.setdefault(ticket_id, str(raw))
                if len(got) == self.n:
                    self.complete.set()

    async def wait_all(self, ticket_id: int) -> list[tuple[float, float]]:
        """Every console's (receipt time, age) of ``ticket_id``'s issue event (10 s at most)."""
        try:
            async with asyncio.timeout(10):
                while len(self.arrivals.get(ticket_id, [])) < self.n:
                    await self.complete.wait()
                    self.complete.clear()
        except TimeoutError:
            n = len(self.arrivals.get(ticket_id, []))
            raise RuntimeError(f"only {n} of {self.n} consoles got ticket {ticket_id}") from None
        return self.arrivals[ticket_id]

    async def __aexit__(self, *exc: object) -> None:
        for ws in self.sockets:
            await ws.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


class Fanout:
    """Samples (ms) of one fan-out run."""

    def __init__(self) -> None:
        self.request: list[float] = []
        self.publish: list[float] = []
        self.spread: list[float] = []
        self.bare_publish: list[float] = []
        self.bare_spread: list[float] = []


async def fanout(
    url: str,
    cookie: str,
    n_consoles: int,
    stations: list[int],
    services: list[int],
    bare_url: str | None = None,
) -> Fanout:
    """FANOUT_EVENTS tickets issued over REST, each received by ``n_consoles`` consoles; with
    ``bare_url``, after each one the same frame is broadcast by the bare server to as many clients."""
    ws_url = url.replace("http", "ws", 1) + "/ws/events"
    out = Fanout()
    async with contextlib.AsyncExitStack() as stack:
        desk = await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=30))
        consoles = await stack.enter_async_context(Consoles(ws_url, cookie, n_consoles))
        bare = publisher = None
        if bare_url is not None:
            bare = await stack.enter_async_context(Consoles(bare_url, "", n_consoles))
            publisher = await stack.enter_async_context(connect(bare_url + "publish"))
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
            got = await consoles.wait_all(ticket_id)
            out.request += [(t - start) * 1000 for t, _ in got]
            out.publish += [age for _, age in got]
            out.spread.append((max(t for t, _ in got) - min(t for t, _ in got)) * 1000)
            await desk.post(f"/api/queue/tickets/{ticket_id}/leave", json={"reason": "bench"})
            if bare is not None and publisher is not None:
                await asyncio.sleep(0.05)
                await publisher.send(consoles.frames[ticket_id])
                got = await bare.wait_all(ticket_id)
                out.bare_publish += [age for _, age in got]
                out.bare_spread.append((max(t for t, _ in got) - min(t for t, _ in got)) * 1000)
            await asyncio.sleep(0.1)
    return out


def bare_server(port: int) -> None:
    """The baseline: a bare ``websockets`` server; a frame sent on ``/publish`` is stamped (``ts``,
    wall-clock ms) and broadcast to every other client, serialized once."""
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    clients: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        if ws.request is not None and ws.request.path == "/publish":
            async for raw in ws:
                event = json.loads(raw)
                event["ts"] = time.time_ns() // 1_000_000
                broadcast(clients, json.dumps(event, ensure_ascii=False, separators=(",", ":")))
            return
        clients.add(ws)
        try:
            await ws.wait_closed()
        finally:
            clients.discard(ws)

    async def main() -> None:
        async with serve(handler, "127.0.0.1", port, max_queue=None) as server:
            await server.serve_forever()

    asyncio.run(main())


class BareServer:
    """:func:`bare_server` in a process of its own."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"ws://127.0.0.1:{self.port}/"
        self.proc = subprocess.Popen([sys.executable, __file__, "--bare-server", str(self.port)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise TimeoutError("bare server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


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
                return got[0][0]
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
            single = asyncio.run(fanout(office.url, cookie, 1, stations, services))
            bare_server_proc = BareServer()
            spy = None
            if PROFILE:
                spy = subprocess.Popen(
                    [
                        *(str(Path(sys.executable).parent / "py-spy"), "record", "--format", "raw"),
                        *("-r", "200", "-o", PROFILE, "-p", str(office.proc.pid)),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            try:
                many = asyncio.run(
                    fanout(office.url, cookie, CONSOLES, stations, services, bare_server_proc.url)
                )
            finally:
                bare_server_proc.stop()
                if spy is not None:
                    spy.send_signal(signal.SIGINT)
                    spy.wait(30)
            figure(
                "event_fanout_publish",
                many.publish,
                consoles=CONSOLES,
                events=FANOUT_EVENTS,
                target_p95_ms=200,
                what="office hub publish (envelope ts) → queue.issued received, every console",
            )
            figure(
                "event_fanout_bare_publish",
                many.bare_publish,
                consoles=CONSOLES,
                events=FANOUT_EVENTS,
                what="baseline: bare websockets server stamps and broadcasts the same frames, interleaved",
            )
            figure(
                "event_fanout_request",
                many.request,
                consoles=CONSOLES,
                events=FANOUT_EVENTS,
                what="REST issue request → queue.issued received, every console",
            )
            figure(
                "event_fanout_spread", many.spread, consoles=CONSOLES, what="first → last console, per event"
            )
            figure(
                "event_fanout_bare_spread", many.bare_spread, consoles=CONSOLES, what="baseline, per event"
            )
            figure(
                "event_fanout_baseline_one_console",
                single.request,
                consoles=1,
                events=FANOUT_EVENTS,
                what="REST issue request → received, one console",
            )
            if not FANOUT_ONLY:
                browser_figures(office.url, stations, services, cookie)
        finally:
            office.stop()


if __name__ == "__main__":
    if "--bare-server" in sys.argv:
        bare_server(int(sys.argv[sys.argv.index("--bare-server") + 1]))
    else:
        main()
