"""``doorstep office …``: run the server, migrate, create users, register kiosks, seed demo data."""

from __future__ import annotations

import argparse
import getpass
import sys

from pydantic import ValidationError

from office.context import OfficeContext
from office.models import Role
from office.settings import Settings

__all__ = ["main"]


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as err:
        print(f"configuration error:\n{err}", file=sys.stderr)
        raise SystemExit(2) from err


def build_parser() -> argparse.ArgumentParser:
    """The ``office`` subcommand parser."""
    p = argparse.ArgumentParser(prog="doorstep office", description="Street-office server")
    sub = p.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="serve the office (HTTP + WebSocket)")
    run.add_argument("--host")
    run.add_argument("--port", type=int)
    run.add_argument("--no-migrate", action="store_true", help="do not upgrade the schema first")
    sub.add_parser("migrate", help="upgrade the database schema to the newest revision")
    cu = sub.add_parser("create-user", help="create a staff account (asks for the password)")
    cu.add_argument("username")
    cu.add_argument("--display-name", required=True)
    cu.add_argument("--role", choices=[r.value for r in Role], required=True)
    cu.add_argument("--office-id", type=int)
    cu.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    rk = sub.add_parser("register-kiosk", help="register a kiosk and print its one-time enrollment code")
    rk.add_argument("--station-id", type=int, required=True)
    rk.add_argument("--name", required=True)
    sub.add_parser("seed-demo", help="create demo data (development only)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    settings = _settings()
    from office.logs import configure_logging

    configure_logging(settings.log_level, json_lines=settings.log_json)
    if args.cmd == "run":
        return _run(settings, args)
    from office.migrate import upgrade

    ctx = OfficeContext.build(settings)
    try:
        if args.cmd == "migrate":
            upgrade(ctx.engine)
            print("database is at the newest revision")
            return 0
        upgrade(ctx.engine)
        if args.cmd == "create-user":
            return _create_user(ctx, args)
        if args.cmd == "register-kiosk":
            from office import enrollment
            from office.audit import Actor
            from office.errors import ApiError

            try:
                issued = enrollment.register(
                    ctx, station_id=args.station_id, name=args.name, actor=Actor("system", "cli")
                )
            except ApiError as err:
                print(f"error: {err.message}", file=sys.stderr)
                return 1
            print(f"kiosk {issued.kiosk.id} registered; one-time enrollment code: {issued.code}")
            return 0
        if args.cmd == "seed-demo":
            from office.seed import seed_demo

            seed = seed_demo(ctx)
            print(f"demo office {seed.office_id}, stations {seed.station_ids}")
            return 0
    finally:
        ctx.engine.dispose()
    return 2


def _create_user(ctx: OfficeContext, args: argparse.Namespace) -> int:
    from office import accounts
    from office.errors import ApiError
    from office.security import PasswordPolicyError

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("passwords differ", file=sys.stderr)
            return 1
    try:
        with ctx.db() as s, s.begin():
            user = accounts.create_user(
                s,
                username=args.username,
                display_name=args.display_name,
                role=Role(args.role),
                password=password,
                office_id=args.office_id,
                hashing=ctx.passwords,
            )
    except (PasswordPolicyError, ApiError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"user {user.id} ({user.username}, {user.role.value}) created")
    return 0


def settle_heap() -> None:
    """Keep the cyclic garbage collector's pauses short in a long-running office process.

    Everything alive once the app is built (modules, routes, pydantic and SQLAlchemy models) lives
    as long as the process: frozen out of the collector's view, a full collection no longer walks
    it. Young collections run every 50,000 net allocations instead of 700 (request handling makes
    many short-lived objects that reference counting frees anyway), and full ones less often.
    Measured with 50 agents pressing call-next together (``bench/bench_queue.py``, PostgreSQL):
    full collections over the unfrozen heap paused the event loop for 125–180 ms, one round in
    five (call-next p95 252–275 ms); with this, p95 128–138 ms and 1.8–1.9 ms office CPU per press
    instead of 2.1–2.6.
    """
    import gc

    from sqlalchemy.orm import configure_mappers

    configure_mappers()  # otherwise built lazily by the first query, after the freeze
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _run(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from office.app import create_app
    from office.migrate import upgrade

    if not args.no_migrate:
        ctx = OfficeContext.build(settings)
        upgrade(ctx.engine)
        ctx.engine.dispose()
    app = create_app(settings)
    settle_heap()
    uvicorn.run(
        app,
        host=args.host or settings.host,
        port=args.port or settings.port,
        log_config=None,
        access_log=False,
        ws_max_size=256 * 1024,
        # Frames are small JSON (live events, signaling); per-connection deflate cost ~9 % of the
        # office's CPU fanning one event out to 200 consoles (py-spy, docs/benchmarks.md).
        ws_per_message_deflate=False,
    )
    return 0
