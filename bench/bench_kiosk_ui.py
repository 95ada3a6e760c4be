"""The resident's page during a call: agent video latency to the page, kiosk CPU, kiosk memory.

Measured system: ``doorstep office run`` (SQLite) and ``doorstep kiosk run`` (its resident UI,
640×480@30 synthetic camera) as real processes on loopback; the kiosk page in headless Chromium,
driven to the waiting screen (take a number); an agent (``agent_console.headless``, 640×480@30)
calls the ticket and sends frames stamped with the wall clock (:func:`kiosk.media.stamp`).

Figures (JSON lines, ``bench`` = ``kiosk_ui_*``):

- ``latency``: agent video → kiosk page. The page draws the agent ``<img>`` (MJPEG from the kiosk
  process) onto a canvas on every animation frame and decodes the stamp; latency = the page's
  ``Date.now()`` at the first paint of a frame − the stamp. Baseline in the same run: the same
  MJPEG stream read by this script (no browser), and stamps read straight off the WebRTC track in
  the kiosk process would be lower still (see ``bench_call_browser``). p50/p95 over ``--seconds``.
- ``cpu``: kiosk process CPU (user + system, % of one core) during the 640×480 call with the page
  showing the video, beside the same call with the page away (no MJPEG encoding) — the UI's cost.
- ``memory``: the kiosk's RSS over a call of ``--minutes`` (``make bench``: 10), samples every 30 s.

Both clocks are CLOCK_REALTIME on this host (Python ``time.time_ns`` and Chromium ``Date.now``).

``python bench/bench_kiosk_ui.py [--seconds 20] [--minutes 10]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import av
import cv2
import httpx
import numpy as np
import psutil

import agent_console.headless as headless
from agent_console.headless import HeadlessAgent
from kiosk.media import read_stamp, stamp
from office import enrollment
from office.accounts import create_user
from office.audit import Actor
from office.context import OfficeContext
from office.db import make_engine
from office.migrate import upgrade
from office.models import Office, Role, Station
from office.seed_catalog import seed_catalog
from office.settings import Environment, Settings

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("DOORSTEP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
SECRETS = {
    "OFFICE_SECRET_KEY": "bench-only-" + "k3y" * 8,
    "OFFICE_DATA_ENCRYPTION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    "OFFICE_LOOKUP_HASH_KEY": "bench-lookup-" + "h4sh" * 6,
}
PASSWORD = "Bench-pass-123"

# Reads the stamp (see kiosk.media.stamp: 64 bits as 8×8 blocks, 32 per row) off the agent <img>.
_PROBE_JS = """
() => {
  const img = document.getElementById('agent-video');
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  window.__lat = []; let last = -1;
  const tick = () => {
    if (img.naturalWidth >= 256) {
      canvas.width = img.naturalWidth; canvas.height = 16;
      ctx.drawImage(img, 0, 0);
      const px = ctx.getImageData(0, 0, 256, 16).data;
      let hi = 0, lo = 0;
      for (let bit = 0; bit < 64; bit++) {
        const x = (bit % 32) * 8 + 4, y = Math.floor(bit / 32) * 8 + 4;
        const i = (y * 256 + x) * 4; const on = (px[i] + px[i + 1] + px[i + 2]) / 3 > 127 ? 1 : 0;
        if (bit < 24) hi = hi * 2 + on; else lo = lo * 2 + on;
      }
      if (hi !== last) { last = hi; window.__lat.push(Date.now() % 2 ** 40 - lo); }
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}
"""


class StampedTrack(headless._ColourTrack):
    """The headless agent's camera with the wall clock drawn into every frame."""

    async def recv(self) -> av.VideoFrame:
        frame = await super().recv()
        image = np.ascontiguousarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)
        stamp(image, self.frames_sent, time.time_ns() // 1_000_000)
        out = av.VideoFrame.from_ndarray(image, format="bgr24")
        out.pts, out.time_base = frame.pts, frame.time_base
        return out


def emit(**fields: Any) -> None:
    print(json.dumps(fields, ensure_ascii=False), flush=True)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(name: str, argv: list[str], env: dict[str, str], workdir: Path) -> subprocess.Popen[bytes]:
    with (workdir / f"{name}.log").open("wb") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=str(ROOT))


def wait_http(url: str, proc: subprocess.Popen[bytes], within: float = 90) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(url)


def prepare(db_url: str) -> str:
    """Office, station, catalog, an agent; returns a one-time kiosk enrollment code."""
    engine = make_engine(db_url)
    upgrade(engine)
    ctx = OfficeContext.build(
        Settings(database_url=db_url, environment=Environment.TEST, **_secret_kwargs()), engine=engine
    )
    seed_catalog(ctx)
    with ctx.db() as s, s.begin():
        office = Office(code="KU", name="基准街道", name_en="Bench office", timezone="Asia/Shanghai")
        s.add(office)
        s.flush()
        station = Station(office_id=office.id, code="S1", name="基准站", name_en="Bench station")
        s.add(station)
        s.flush()
        create_user(
            s,
            username="agent",
            display_name="基准坐席",
            role=Role.AGENT,
            password=PASSWORD,
            office_id=office.id,
            hashing=ctx.passwords,
        )
        station_id = station.id
    code = enrollment.register(ctx, station_id=station_id, name="bench", actor=Actor("system", "bench")).code
    engine.dispose()
    return code


def _secret_kwargs() -> dict[str, Any]:
    return {
        "secret_key": SECRETS["OFFICE_SECRET_KEY"],
        "data_encryption_key": SECRETS["OFFICE_DATA_ENCRYPTION_KEY"],
        "lookup_hash_key": SECRETS["OFFICE_LOOKUP_HASH_KEY"],
    }


def cpu_s(ps: psutil.Process) -> float:
    t = ps.cpu_times()
    return float(t.user + t.system)


async def cpu_pct(ps: psutil.Process, seconds: float) -> float:
    start, wall = cpu_s(ps), time.monotonic()
    await asyncio.sleep(seconds)
    return round(100 * (cpu_s(ps) - start) / (time.monotonic() - wall), 1)


async def stream_latency(url: str, seconds: float) -> list[float]:
    """Baseline: read the MJPEG stream directly (no browser) and decode the stamps."""
    out: list[float] = []
    last = -1
    buf = b""
    async with httpx.AsyncClient(timeout=30) as client, client.stream("GET", url) as response:
        end = time.monotonic() + seconds
        async for chunk in response.aiter_bytes():
            buf += chunk
            while True:
                start = buf.find(b"\xff\xd8")
                stop = buf.find(b"\xff\xd9", start + 2)
                if start < 0 or stop < 0:
                    break
                jpeg, buf = buf[start : stop + 2], buf[stop + 2 :]
                image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
                decoded = read_stamp(np.asarray(image, np.uint8)) if image is not None else None
                if decoded is not None and decoded[0] != last:
                    last = decoded[0]
                    out.append(float((time.time_ns() // 1_000_000 - decoded[1]) % 2**40))
            if time.monotonic() > end:
                break
    return out


async def run(args: argparse.Namespace) -> None:
    from playwright.async_api import async_playwright, expect

    workdir = Path(tempfile.mkdtemp(prefix="kioskui-bench-"))
    db_url = f"sqlite:///{workdir / 'office.db'}"
    code = prepare(db_url)
    office_port, ui_port = free_port(), free_port()
    office_url, ui_url = f"http://127.0.0.1:{office_port}", f"http://127.0.0.1:{ui_port}"
    office_env = {
        **os.environ,
        **SECRETS,
        "OFFICE_ENVIRONMENT": "test",
        "OFFICE_DATABASE_URL": db_url,
        "OFFICE_PORT": str(office_port),
        "OFFICE_PUBLIC_URL": office_url,
        "OFFICE_LOG_LEVEL": "WARNING",
    }
    kiosk_env = {
        **os.environ,
        "KIOSK_OFFICE_URL": office_url,
        "KIOSK_STATE_DIR": str(workdir / "kiosk"),
        "KIOSK_UI_PORT": str(ui_port),
        "KIOSK_VIDEO_WIDTH": "640",
        "KIOSK_VIDEO_HEIGHT": "480",
        "KIOSK_VIDEO_FPS": "30",
        "KIOSK_CONSENT": "ui",
        "KIOSK_UI_TIMEOUTS": json.dumps({"ticketed": 1}),
    }
    procs: list[subprocess.Popen[bytes]] = []
    headless._ColourTrack = StampedTrack  # type: ignore[misc]
    try:
        office = spawn(
            "office",
            [sys.executable, "-m", "doorstep.cli", "office", "run", "--no-migrate"],
            office_env,
            workdir,
        )
        procs.append(office)
        wait_http(f"{office_url}/readyz", office)
        cli = [sys.executable, "-m", "doorstep.cli", "kiosk"]
        await asyncio.to_thread(
            subprocess.run,
            [*cli, "enroll", code],
            env=kiosk_env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        kiosk = spawn("kiosk", [*cli, "run"], kiosk_env, workdir)
        procs.append(kiosk)
        wait_http(f"{ui_url}/healthz", kiosk)
        ps = psutil.Process(kiosk.pid)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
            page.set_default_timeout(60_000)
            await page.goto(ui_url + "/")
            await page.click("#start")
            await page.click("#category-legal")
            await page.click("#service-LEGAL-CONSULT")
            await page.click("#take-number-now")
            await expect(page.locator("body")).to_have_attribute("data-state", "waiting")
            agent = await HeadlessAgent.login(office_url, "agent", PASSWORD, width=640, height=480, fps=30.0)
            async with agent:
                await agent.set_available()
                offered = await agent.call_next()
                assert offered is not None
                await agent.start_call(offered["id"])
                await expect(page.locator("#call")).to_have_attribute("data-phase", "connected")
                await page.evaluate(_PROBE_JS)
                await asyncio.sleep(3)  # first key frame, decoders warm
                await page.evaluate("() => { window.__lat = []; }")
                cpu_watching = await cpu_pct(ps, args.seconds)
                in_page = [float(x) for x in await page.evaluate("() => window.__lat")]
                direct = await stream_latency(f"{ui_url}/media/agent.mjpeg", min(args.seconds, 10))
                emit(
                    bench="kiosk_ui_latency",
                    what="agent video → kiosk page, wall-clock stamp drawn by the agent → read from the painted <img>",
                    unit="ms",
                    page_p50=pct(in_page, 0.5),
                    page_p95=pct(in_page, 0.95),
                    page_frames=len(in_page),
                    baseline="the same MJPEG stream read without a browser",
                    stream_p50=pct(direct, 0.5),
                    stream_p95=pct(direct, 0.95),
                    stream_frames=len(direct),
                )
                ui_page = page.url
                await page.goto("about:blank")
                await asyncio.sleep(2)
                cpu_away = await cpu_pct(ps, args.seconds)
                emit(
                    bench="kiosk_ui_cpu",
                    what="kiosk process CPU during a 640×480@30 call, % of one core",
                    with_page=cpu_watching,
                    baseline="same call, page away (no MJPEG)",
                    without_page=cpu_away,
                    cores=psutil.cpu_count(),
                )
                await page.goto(ui_page)
                samples = [{"t_s": 0, "rss_mb": round(ps.memory_info().rss / 2**20, 1)}]
                start = time.monotonic()
                while time.monotonic() - start < args.minutes * 60:
                    await asyncio.sleep(min(30, args.minutes * 60))
                    if kiosk.poll() is not None:
                        raise RuntimeError("kiosk exited during the long call")
                    rss = round(ps.memory_info().rss / 2**20, 1)
                    samples.append({"t_s": round(time.monotonic() - start), "rss_mb": rss})
                first, last = samples[0]["rss_mb"], samples[-1]["rss_mb"]
                emit(
                    bench="kiosk_ui_memory",
                    what=f"kiosk RSS over a {args.minutes} min call with the page showing the video",
                    unit="MiB",
                    start=first,
                    end=last,
                    growth_pct=round(100 * (last - first) / first, 1),
                    samples=samples,
                )
                await agent.hang_up()
            await browser.close()
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=20.0, help="latency and CPU windows")
    parser.add_argument("--minutes", type=float, default=10.0, help="the long call for memory")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
