"""Smoke tests against real devices; marked ``hardware`` and skipped unless DOORSTEP_REAL_HARDWARE=1.

Set ``DOORSTEP_IDCARD_URL`` (e.g. ``serial:///dev/ttyUSB0?baud=115200``) and/or
``DOORSTEP_FINGERPRINT_URL`` (e.g. ``serial:///dev/ttyS1?baud=57600``), then run
``pytest -m hardware tests/hardware/test_hw_real_devices.py``.
"""

from __future__ import annotations

import os

import pytest

from hardware import HealthLevel, open_device

pytestmark = [
    pytest.mark.hardware,
    pytest.mark.skipif(
        os.environ.get("DOORSTEP_REAL_HARDWARE") != "1", reason="needs DOORSTEP_REAL_HARDWARE=1"
    ),
]


@pytest.mark.parametrize(
    ("kind", "variable"), [("idcard", "DOORSTEP_IDCARD_URL"), ("fingerprint", "DOORSTEP_FINGERPRINT_URL")]
)
def test_real_device_internal_health(kind: str, variable: str) -> None:
    """A real reader/scanner opens, passes its INTERNAL health check and closes."""
    url = os.environ.get(variable)
    if not url:
        pytest.fail(f"{variable} must name the device URL when DOORSTEP_REAL_HARDWARE=1")
    with open_device(kind, url) as device:
        result = device.check_health(HealthLevel.INTERNAL)
    assert result.ok, result.to_dict()
