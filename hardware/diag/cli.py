"""``doorstep diag``: hardware diagnostics for technicians.

Subcommands: ``list`` (configured and detected devices), ``check`` (health check
per level), ``interactive <kind>`` (guided tests: place card, place finger…),
``focus`` (live focus meter).  ``--json`` prints a machine-readable report.
Exit codes: 0 all checks passed (levels a device does not offer count as passed),
1 some check failed, 2 usage or configuration error (including an unknown backend
in a device URL).  Progress goes to stderr; personal data is masked in every report.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from hardware.clock import Clock, RealClock
from hardware.device import DEVICE_KINDS
from hardware.diag.config import DeviceSpec, load_config, parse_device_option
from hardware.diag.detect import detect_serial_ports, detect_video_devices
from hardware.diag.focus import as_focus_source, bar, run_focus
from hardware.diag.messages import prompt_text, text
from hardware.diag.report import check_device
from hardware.errors import ConfigurationError, HardwareError
from hardware.health import HealthLevel
from hardware.registry import open_device

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "build_parser", "main", "run"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (``doorstep diag …``)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--device",
        action="append",
        default=[],
        metavar="[NAME:]KIND=URL",
        help="a device to diagnose, e.g. idcard=sim://idcard (repeatable)",
    )
    common.add_argument("--config", type=Path, help="TOML or JSON file with a [devices] table")
    common.add_argument("--json", action="store_true", help="print a JSON report on stdout")
    common.add_argument("--lang", choices=["zh", "en"], default="zh", help="language of the text output")
    common.add_argument("--stats-dir", type=Path, help="directory of persisted device statistics")

    parser = argparse.ArgumentParser(prog="doorstep diag", description="Kiosk hardware diagnostics")
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", parents=[common], help="list configured and detected devices")
    listing.add_argument("--no-detect", action="store_true", help="skip detection of attached devices")
    check = sub.add_parser("check", parents=[common], help="run health checks")
    check.add_argument("--level", choices=["internal", "external", "interactive"], default="internal")
    check.add_argument("--only", action="append", default=[], metavar="NAME", help="check only this device")
    interactive = sub.add_parser("interactive", parents=[common], help="guided test of one device kind")
    interactive.add_argument("kind", choices=DEVICE_KINDS)
    focus = sub.add_parser("focus", parents=[common], help="live focus meter for the document camera")
    focus.add_argument("--seconds", type=float, default=10.0, help="how long to measure")
    focus.add_argument("--interval", type=float, default=0.5, help="seconds between samples")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``doorstep diag`` calls ``main(argv)``; returns the exit code."""
    return run(argv)


def run(
    argv: list[str] | None = None,
    *,
    clock: Clock | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Like :func:`main`, with the clock and streams injectable for tests."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    try:
        specs = _specs(args)
    except ConfigurationError as error:
        err.write(f"error: {error.message}\n")
        return EXIT_USAGE
    command = _COMMANDS[args.command]
    return command(args, specs, clock or RealClock(), out, err)


def _specs(args: argparse.Namespace) -> list[DeviceSpec]:
    specs = load_config(args.config) if args.config else []
    specs += [parse_device_option(option) for option in args.device]
    names = [spec.name for spec in specs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ConfigurationError(f"duplicate device names: {', '.join(duplicates)} (use NAME:KIND=URL)")
    return specs


def _emit_json(out: TextIO, data: dict[str, Any]) -> None:
    out.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


# --------------------------------------------------------------------- commands


def _cmd_list(
    args: argparse.Namespace, specs: list[DeviceSpec], clock: Clock, out: TextIO, err: TextIO
) -> int:
    detected: dict[str, Any] = {}
    if not args.no_detect:
        detected = {"serial": detect_serial_ports(), "video": detect_video_devices()}
    if args.json:
        _emit_json(out, {"command": "list", "devices": [s.to_dict() for s in specs], "detected": detected})
        return EXIT_OK
    lang = args.lang
    out.write(f"{text('configured', lang)}:\n")
    for spec in specs:
        out.write(f"  {spec.name:<20} {spec.kind:<16} {spec.url}\n")
    if not specs:
        out.write(f"  {text('none', lang)}\n")
    for key, label in (("serial", "detected_serial"), ("video", "detected_video")):
        if key in detected:
            out.write(f"{text(label, lang)}:\n")
            for item in detected[key]:
                out.write("  " + "  ".join(str(v) for v in item.values() if v) + "\n")
            if not detected[key]:
                out.write(f"  {text('none', lang)}\n")
    return EXIT_OK


def _cmd_check(
    args: argparse.Namespace, specs: list[DeviceSpec], clock: Clock, out: TextIO, err: TextIO
) -> int:
    selected = [s for s in specs if not args.only or s.name in args.only]
    level = HealthLevel[args.level.upper()]
    return _run_checks(args, selected, level, clock, out, err, guided=False)


def _cmd_interactive(
    args: argparse.Namespace, specs: list[DeviceSpec], clock: Clock, out: TextIO, err: TextIO
) -> int:
    selected = [s for s in specs if s.kind == args.kind]
    return _run_checks(args, selected, HealthLevel.INTERACTIVE, clock, out, err, guided=True)


def _run_checks(
    args: argparse.Namespace,
    specs: list[DeviceSpec],
    level: HealthLevel,
    clock: Clock,
    out: TextIO,
    err: TextIO,
    *,
    guided: bool,
) -> int:
    lang = args.lang
    if not specs:
        err.write(f"error: {text('no_devices', lang)}\n")
        return EXIT_USAGE

    def prompt(name: str) -> None:
        err.write(f"  >> {prompt_text(name, lang)}\n")
        err.flush()

    reports = []
    for index, spec in enumerate(specs, start=1):
        err.write(f"[{index}/{len(specs)}] {text('checking', lang)} {spec.name} ({spec.kind}) …\n")
        err.flush()
        report = check_device(
            spec, level, clock=clock, stats_dir=args.stats_dir, lang=lang, prompt=prompt, guided=guided
        )
        err.write(f"[{index}/{len(specs)}] {spec.name}: {_verdict(report['result'], lang)}\n")
        reports.append(report)
    ok = all(r["result"] in ("pass", "unsupported") for r in reports)
    if args.json:
        _emit_json(out, {"command": args.command, "level": level.name.lower(), "ok": ok, "devices": reports})
    else:
        for report in reports:
            _print_report(report, lang, out)
    if any(r["result"] == "config_error" for r in reports):
        return EXIT_USAGE
    return EXIT_OK if ok else EXIT_FAILED


def _verdict(result: str, lang: str) -> str:
    return {"pass": text("pass", lang), "fail": text("fail", lang)}.get(result, result)


def _print_report(report: dict[str, Any], lang: str, out: TextIO) -> None:
    out.write(f"{report['name']} ({report['kind']}, {report['url']}): {_verdict(report['result'], lang)}\n")
    for step in report.get("health", {}).get("steps", []):
        mark = "✓" if step["ok"] else "✗"
        detail = f" — {step['detail']}" if step["detail"] else ""
        out.write(f"  {mark} {step['name']}{detail}\n")
    if "card" in report:
        out.write(f"  {text('card_read', lang)}: {json.dumps(report['card'], ensure_ascii=False)}\n")
    if "error" in report:
        out.write(f"  ✗ {report['error']['code']}: {report['error']['message']}\n")
    advice = report.get("remedy") or report.get("error", {}).get("remedy")
    if advice and report["result"] in ("fail", "config_error"):
        out.write(f"  {text('remedy', lang)}: {advice}\n")


def _cmd_focus(
    args: argparse.Namespace, specs: list[DeviceSpec], clock: Clock, out: TextIO, err: TextIO
) -> int:
    lang = args.lang
    cameras = [s for s in specs if s.kind == "document_camera"]
    if not cameras:
        err.write(f"error: {text('no_devices', lang)} (document_camera)\n")
        return EXIT_USAGE
    spec = cameras[0]
    try:
        device = open_device(spec.kind, spec.url, clock=clock, stats_dir=args.stats_dir, name=spec.name)
    except HardwareError as error:
        err.write(f"error: {error.message}\n")
        return EXIT_USAGE
    source = as_focus_source(device)
    if source is None:
        err.write(f"error: {text('no_focus', lang)}\n")
        return EXIT_USAGE
    scale = float(getattr(source, "focus_threshold", None) or 100.0)

    def show(value: float) -> None:
        err.write(f"{text('focus', lang)} {value:9.1f} {bar(value, scale)}\n")
        err.flush()

    try:
        with device:
            report = run_focus(
                source, seconds=args.seconds, interval=args.interval, clock=clock, on_sample=show
            )
    except HardwareError as error:
        err.write(f"✗ {error.code}: {error.message}\n")
        return EXIT_FAILED
    summary = {"command": "focus", "device": spec.to_dict(), **report.to_dict()}
    if args.json:
        _emit_json(out, summary)
    else:
        out.write(
            f"{text('focus', lang)}: min {summary['min']} max {summary['max']} last {summary['last']}\n"
        )
    return EXIT_OK


_COMMANDS = {
    "list": _cmd_list,
    "check": _cmd_check,
    "interactive": _cmd_interactive,
    "focus": _cmd_focus,
}
