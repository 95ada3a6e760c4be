"""Benchmark: fingerprint 1:1 verify round trip through the real R30x driver and the pty simulator.

Prints JSON lines.  ``ratio`` = measured verify time / the simulator's configured
latency for the instructions the verify actually sent (GenImg, Img2Tz, LoadChar,
Match, with wire time at 57600 baud in the realistic profile).  The
``zero-latency`` run in the same process is the baseline driver + pty overhead.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

from hardware import open_device
from hardware.fingerprint.sim import SimFingerprintScanner

ROUNDS = 5
PROFILES = {"zero-latency": "&latency=0", "uniform-0.1s": "&latency=0.1", "realistic": ""}
ACK_SIZES = {0x03: 14}  # Match acks carry a 2-byte score; the others are 12-byte acks


def measure(profile: str, query: str) -> dict[str, object]:
    """Verify slot 0 ROUNDS times; return timings and the latency ratio."""
    device = open_device("fingerprint", f"sim://fingerprint?enrolled=resident-1@0{query}")
    assert isinstance(device, SimFingerprintScanner)
    times, configured = [], []
    with device:
        for _ in range(ROUNDS):
            sent = len(device.core.instructions)
            start = time.perf_counter()
            assert device.verify(0).matched
            times.append(time.perf_counter() - start)
            used = device.core.instructions[sent:]
            configured.append(sum(device.core.expected_latency(i, ACK_SIZES.get(i, 12)) for i in used))
    median, expected = statistics.median(times), statistics.median(configured)
    return {
        "bench": "fingerprint_verify",
        "profile": profile,
        "rounds": ROUNDS,
        "median_s": round(median, 4),
        "min_s": round(min(times), 4),
        "max_s": round(max(times), 4),
        "configured_latency_s": round(expected, 4),
        "ratio": round(median / expected, 3) if expected else None,
    }


def main() -> int:
    """Run every profile, baseline first."""
    baseline = None
    for profile, query in PROFILES.items():
        row = measure(profile, query)
        if profile == "zero-latency":
            baseline = row["median_s"]
        row["baseline_overhead_s"] = baseline
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
