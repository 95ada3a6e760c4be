"""``doorstep demo``: the whole system on embedded defaults (SQLite, in-process bus, simulated devices).

Migrates ``var/doorstep.db``, seeds demo data, prints URLs and logins, serves the office on
127.0.0.1:8000 and, beside it, one simulated kiosk (``doorstep kiosk run`` with simulated ID card,
document camera and printer; its state in ``var/demo-kiosk``) whose resident UI it prints
(127.0.0.1:8100); stops both cleanly on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from office.app import create_app
from office.context import OfficeContext
from office.logs import configure_logging
from office.migrate import upgrade
from office.seed import DEMO_USERS, seed_demo
from office.settings import Environment, Settings

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the demo until interrupted."""
    parser = argparse.ArgumentParser(prog="doorstep demo")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--database-url", default="sqlite:///var/doorstep.db")
    parser.add_argument("--kiosk-port", type=int, default=8100, help="the simulated kiosk's resident UI")
    parser.add_argument("--no-kiosk", action="store_true", help="serve the office only")
    args = parser.parse_args(argv)
    settings = Settings(
        environment=Environment.DEVELOPMENT,
        database_url=args.database_url,
        port=args.port,
        public_url=f"http://127.0.0.1:{args.port}",
        log_json=False,
        log_level="WARNING",
    )
    configure_logging(settings.log_level, json_lines=False)
    ctx = OfficeContext.build(settings)
    upgrade(ctx.engine)
    seed = seed_demo(ctx)
    ctx.engine.dispose()
    base = settings.public_url
    lines = [
        "",
        "doorstep demo — 家门口 远程视频帮办",
        f"  database      {settings.database_url}",
        f"  console login {base}/console/login.html",
        f"  display board {base}/console/board.html?office={seed.office_id}",
        f"  API docs      {base}/docs",
        f"  health        {base}/healthz  {base}/readyz  {base}/metrics",
        "  logins (development only):",
    ]
    lines += [f"    {role.value:<11} {user:<11} {password}" for user, _name, role, password in DEMO_USERS]
    if seed.kiosk_codes:
        lines.append("  kiosk enrollment codes (one-time):")
        lines += [f"    kiosk {kid}: {code}" for kid, code in seed.kiosk_codes.items()]
    if not args.no_kiosk:
        lines.append(
            f"  kiosk UI      http://127.0.0.1:{args.kiosk_port}/  (simulated kiosk; starts with the office)"
        )
    lines += ["  Ctrl-C stops everything.", ""]
    print("\n".join(lines), flush=True)
    import uvicorn

    kiosk: list[subprocess.Popen[bytes]] = []
    if not args.no_kiosk:
        code = next(iter(seed.kiosk_codes.values()), None)
        threading.Thread(
            target=_start_kiosk, args=(base, code, args.kiosk_port, kiosk), name="demo-kiosk", daemon=True
        ).start()
    try:
        uvicorn.run(create_app(settings), host="127.0.0.1", port=args.port, log_config=None, access_log=False)
    finally:
        for proc in kiosk:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=20)
    print("doorstep demo stopped", file=sys.stderr)
    return 0


def _start_kiosk(office_url: str, code: str | None, port: int, out: list[subprocess.Popen[bytes]]) -> None:
    """Once the office answers: enroll the demo kiosk (first run) and start ``doorstep kiosk run``."""
    state = Path("var/demo-kiosk")
    env = {
        **os.environ,
        "KIOSK_OFFICE_URL": office_url,
        "KIOSK_STATE_DIR": str(state),
        "KIOSK_UI_PORT": str(port),
        "KIOSK_CONSENT": "ui",
        "KIOSK_PRINTER_URL": f"sim://printer?preview_dir={state / 'printer'}",
    }
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{office_url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    cli = [sys.executable, "-m", "doorstep.cli", "kiosk"]
    if not (state / "device_token").exists():
        if code is None:
            print("demo kiosk: no enrollment code left; remove var/ to start afresh", file=sys.stderr)
            return
        subprocess.run([*cli, "enroll", code], env=env, check=False)  # noqa: S603 - our own CLI
    out.append(subprocess.Popen([*cli, "run"], env=env))  # noqa: S603 - our own CLI
    print(f"demo kiosk: resident UI on http://127.0.0.1:{port}/ (slips: {state / 'printer'})", flush=True)
