"""Detect attached serial ports and video devices (for ``doorstep diag list``).

Pure enough to test: the roots are parameters.  Serial ports come from pyserial's
``list_ports`` (USB VID:PID, description); video devices from ``/dev/video*`` with
their V4L2 names from sysfs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from serial.tools import list_ports

__all__ = ["detect_serial_ports", "detect_video_devices"]


def detect_serial_ports() -> list[dict[str, Any]]:
    """Serial ports the OS knows (USB adapters, CDC-ACM readers, on-board UARTs)."""
    ports = []
    for port in sorted(list_ports.comports(), key=lambda p: p.device):
        ports.append(
            {
                "device": port.device,
                "description": port.description,
                "usb": None if port.vid is None else f"{port.vid:04x}:{port.pid or 0:04x}",
            }
        )
    return ports


def detect_video_devices(
    dev: Path = Path("/dev"), sysfs: Path = Path("/sys/class/video4linux")
) -> list[dict[str, Any]]:
    """Video capture nodes (``/dev/videoN``) with their driver-reported names."""
    devices = []
    for node in sorted(dev.glob("video*")):
        name_file = sysfs / node.name / "name"
        try:
            name = name_file.read_text(encoding="utf-8").strip()
        except OSError:
            name = ""
        devices.append({"device": str(node), "name": name})
    return devices
