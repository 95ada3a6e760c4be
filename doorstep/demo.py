"""``doorstep demo``: the whole system on embedded defaults (SQLite, in-process bus, simulated devices).

Migrates ``var/doorstep.db``, seeds demo data, prints URLs and logins, serves the office on
127.0.0.1:8000 and stops cleanly on Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys

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
    lines += ["  Ctrl-C stops everything.", ""]
    print("\n".join(lines), flush=True)
    import uvicorn

    uvicorn.run(create_app(settings), host="127.0.0.1", port=args.port, log_config=None, access_log=False)
    print("doorstep demo stopped", file=sys.stderr)
    return 0
