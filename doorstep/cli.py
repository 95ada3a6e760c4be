"""The ``doorstep`` command: ``office``, ``diag`` and ``demo`` subcommands.

Each subcommand's module is imported only when it is used, so ``doorstep diag`` on a station PC
does not load the office server.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import import_module

__all__ = ["main"]

_COMMANDS: dict[str, tuple[str, str]] = {
    "office": ("office.cli", "street-office server: run, migrate, create-user, register-kiosk"),
    "diag": ("hardware.diag.cli", "technician diagnostics for kiosk devices"),
    "demo": ("doorstep.demo", "run the whole system on embedded defaults with demo data"),
    "kiosk": ("kiosk.cli", "station kiosk: enroll, run"),
}


def _usage() -> str:
    lines = ["usage: doorstep <command> [options]", "", "commands:"]
    lines += [f"  {name:<8} {help_}" for name, (_, help_) in _COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a subcommand's ``main(argv) -> int``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in _COMMANDS:
        print(f"doorstep: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = import_module(_COMMANDS[name][0])
    entry: Callable[[list[str]], int] = module.main
    return entry(rest)


if __name__ == "__main__":
    raise SystemExit(main())
