"""Run every ``bench/bench_*.py`` in turn; each prints JSON lines with its figures and baseline.

``python bench/run.py [name-substring ...]`` runs a subset. Exit status is non-zero if a script fails.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
TIMEOUT_S = 900
TIMEOUTS_S = {
    "bench_call_browser.py": 2700,  # 20 calls a side, then a 10-minute call a side
    "bench_stats.py": 2400,  # first run: generate the district year (3–8 min) and roll it up
}


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if any(a in s.name for a in argv)]
    failed: list[str] = []
    for script in scripts:
        print(f"# {script.name}", flush=True)
        start = time.monotonic()
        try:
            proc = subprocess.run(
                [sys.executable, str(script)], timeout=TIMEOUTS_S.get(script.name, TIMEOUT_S), check=False
            )
            ok = proc.returncode == 0
        except subprocess.TimeoutExpired:
            ok = False
        print(f"# {script.name}: {'ok' if ok else 'FAILED'} in {time.monotonic() - start:.1f}s", flush=True)
        if not ok:
            failed.append(script.name)
    if failed:
        print(f"# failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
