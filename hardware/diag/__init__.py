"""Diagnostics for technicians (``doorstep diag``): list, check, interactive, focus.

Reports are plain, redacted data (:mod:`hardware.diag.report`); the CLI in
:mod:`hardware.diag.cli` renders them as text or JSON.
"""

from hardware.diag.cli import main, run
from hardware.diag.report import check_device, redact

__all__ = ["check_device", "main", "redact", "run"]
