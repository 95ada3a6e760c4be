"""The agents' web application (pages, JS, CSS, i18n) served by the office.

Later: the headless Python agent (aiortc) used by tests, benchmarks and load runs.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["STATIC_DIR"]

#: Directory of the console's static pages, mounted by the office at ``/console``.
STATIC_DIR = Path(__file__).parent / "static"
