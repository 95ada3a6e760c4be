"""Ticket printer benchmark: layout, preview and a full print over the TCP simulator.

Prints one JSON line per step with p50/p95 over N runs, beside a baseline measured in the same
run: python-escpos ``Dummy`` writing the same text lines with no layout logic (the least any
ESC/POS slip costs to build). ``print_over_sim`` includes the DLE EOT status round trips before
and after the job on a loopback socket.

``python bench/bench_printer.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import datetime

import numpy as np
from escpos.printer import Dummy

from hardware import FakeClock, open_device
from hardware.printer import preview, ticket
from hardware.printer.device import TicketPrinter

TICKET = ticket.QueueTicket(
    office="静安寺街道社区事务受理服务中心",
    service="社会保障卡申领",
    number="A017",
    people_ahead=5,
    issued_at=datetime(2026, 11, 22, 9, 30),
    qr_content="https://office.example/q/A017",
    wait_minutes=(10, 20),
    station="愚园路家门口服务站",
)


def _baseline() -> bytes:
    dummy = Dummy()
    for line in (TICKET.office, TICKET.service, TICKET.number, "前面还有 5 人等候", "扫码查看叫号进度"):
        dummy._raw(line.encode("gb18030") + b"\n")
    return bytes(dummy.output)


def _measure(step: Callable[[], object], runs: int) -> dict[str, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    arr = np.array(times) * 1000
    return {
        "p50_ms": round(float(np.percentile(arr, 50)), 3),
        "p95_ms": round(float(np.percentile(arr, 95)), 3),
    }


def main() -> int:
    """Measure the baseline first, then each step."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    baseline = _measure(_baseline, args.runs)
    native = ticket.render_queue_ticket(TICKET)
    image = ticket.render_queue_ticket(TICKET, ticket.TicketStyle(qr="image"))
    rows = {
        "layout_native_qr": _measure(lambda: ticket.render_queue_ticket(TICKET), args.runs),
        "layout_image_qr": _measure(
            lambda: ticket.render_queue_ticket(TICKET, ticket.TicketStyle(qr="image")), args.runs
        ),
        "preview_png": _measure(lambda: preview.render_png(native), max(5, args.runs // 5)),
    }
    printer = open_device("printer", "sim://printer", clock=FakeClock())
    assert isinstance(printer, TicketPrinter)
    with printer:
        rows["print_over_sim"] = _measure(lambda: printer.print_ticket(TICKET), args.runs)
    for step, figures in rows.items():
        row: dict[str, object] = {"bench": "printer", "step": step, "runs": args.runs, **figures}
        row["baseline_dummy_p50_ms"] = baseline["p50_ms"]
        row["job_bytes"] = len(image) if step == "layout_image_qr" else len(native)
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
