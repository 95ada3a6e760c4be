"""Detect attached serial ports and video devices (for ``doorstep diag list``).

Pure enough to test: the roots are parameters.  Serial ports come from pyserial's
``list_ports`` (USB VID:PID, description); video devices from ``/dev/video*`` with
their V4L2 names from sysfs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from serial.tools import list_ports

__all__ = ["KNOWN_USB", "detect_serial_ports", "detect_video_devices"]

KNOWN_USB: dict[str, str] = {
    "0400:c35a": "SAM ID-card reader (USB bulk/HID, spec §1.1)",
    "1a86:7523": "CH340 USB-serial (common in ID-card readers and fingerprint modules)",
    "067b:2303": "PL2303 USB-serial",
    "10c4:ea60": "CP210x USB-serial",
    "0403:6001": "FTDI USB-serial",
    "0416:5011": "ESC/POS receipt printer (Winbond)",
}
"""USB VID:PID → what it usually is on a kiosk (a hint for technicians, not a guarantee)."""


def detect_serial_ports(comports: Callable[[], Iterable[Any]] = list_ports.comports) -> list[dict[str, Any]]:
    """Serial ports the OS knows (USB adapters, CDC-ACM readers, on-board UARTs), with hints."""
    ports = []
    for port in sorted(comports(), key=lambda p: str(p.device)):
        usb = None if port.vid is None else f"{port.vid:04x}:{port.pid or 0:04x}"
        ports.append(
            {
                "device": port.device,
                "description": port.description,
                "usb": usb,
                "hint": KNOWN_USB.get(usb or "", ""),
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
