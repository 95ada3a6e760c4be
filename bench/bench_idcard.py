"""Benchmark: ID-card read time through the real SAM driver against the pty simulator.

Prints JSON lines.  For each latency profile the figure of merit is ``ratio`` =
measured read time / the simulator's configured device latency for the same
commands (find + select + read, plus wire time in the realistic profile).  The
``zero-latency`` run, measured in the same process, is the baseline: the pure
driver + pty overhead.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

from hardware import open_device
from hardware.idcard import frames
from hardware.idcard.fixtures import CARD_FIXTURES
from hardware.idcard.sim import SimIdCardReader

READS = 5
PROFILES = {"zero-latency": "&latency=0", "uniform-0.2s": "&latency=0.2", "realistic": ""}


def measure(profile: str, query: str, fingerprint: bool) -> dict[str, object]:
    """Read the card READS times; return median/min/max and the latency ratio."""
    device = open_device("idcard", f"sim://idcard?card=resident-with-fingerprint{query}")
    assert isinstance(device, SimIdCardReader)
    card = CARD_FIXTURES["resident-with-fingerprint"]
    read = frames.CMD_READ_TEXT_PHOTO_FINGERPRINT if fingerprint else frames.CMD_READ_TEXT_PHOTO
    reply = 2321 if fingerprint else 1295
    configured = (
        device.core.expected_latency(frames.CMD_FIND, 15)
        + device.core.expected_latency(frames.CMD_SELECT, 19)
        + device.core.expected_latency(read, reply)
    )
    times = []
    with device:
        for _ in range(READS):
            device.core.insert_card(card)
            start = time.perf_counter()
            device.read_card(fingerprint=fingerprint)
            times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return {
        "bench": "idcard_read",
        "profile": profile,
        "fingerprint": fingerprint,
        "reads": READS,
        "median_s": round(median, 4),
        "min_s": round(min(times), 4),
        "max_s": round(max(times), 4),
        "configured_latency_s": round(configured, 4),
        "ratio": round(median / configured, 3) if configured else None,
    }


def main() -> int:
    """Run every profile, baseline first."""
    baseline = None
    for profile, query in PROFILES.items():
        for fingerprint in (False, True):
            row = measure(profile, query, fingerprint)
            if profile == "zero-latency" and not fingerprint:
                baseline = row["median_s"]
            row["baseline_overhead_s"] = baseline
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
