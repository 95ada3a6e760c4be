"""Kiosk fleet health for technicians: reports, alerts, remote health checks."""

from office.fleet.service import (
    DiagOutcome,
    device_ok,
    failing_devices,
    process_silent_kiosks,
    record_report,
    request_diag,
)

__all__ = [
    "DiagOutcome",
    "device_ok",
    "failing_devices",
    "process_silent_kiosks",
    "record_report",
    "request_diag",
]
