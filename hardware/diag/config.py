"""Which devices diagnostics look at: ``--device kind=url`` options or a TOML/JSON file.

File format (TOML shown; JSON has the same shape)::

    [devices."idcard.main"]
    kind = "idcard"
    url = "sim://idcard?card=resident-male"
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hardware.device import DEVICE_KINDS
from hardware.errors import ConfigurationError

__all__ = ["DeviceSpec", "load_config", "parse_device_option"]


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """A configured device: logical name, kind and URL."""

    name: str
    kind: str
    url: str

    def to_dict(self) -> dict[str, str]:
        """JSON-ready view."""
        return {"name": self.name, "kind": self.kind, "url": self.url}


def _check_kind(kind: str) -> None:
    if kind not in DEVICE_KINDS:
        raise ConfigurationError(f"unknown device kind {kind!r}; supported: {', '.join(DEVICE_KINDS)}")


def parse_device_option(option: str) -> DeviceSpec:
    """Parse ``kind=url`` or ``name:kind=url`` (e.g. ``idcard.main:idcard=sim://idcard``)."""
    head, sep, url = option.partition("=")
    if not sep or not url:
        raise ConfigurationError(f"--device expects kind=url, got {option!r}")
    name, _, kind = head.rpartition(":")
    kind = kind.strip()
    _check_kind(kind)
    return DeviceSpec(name=name.strip() or kind, kind=kind, url=url.strip())


def load_config(path: Path) -> list[DeviceSpec]:
    """Read devices from a ``.toml`` or ``.json`` file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigurationError(f"cannot read config {path}: {err.strerror}") from err
    try:
        raw: Any = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as err:
        raise ConfigurationError(f"config {path} is not valid {path.suffix.lstrip('.') or 'TOML'}") from err
    devices = raw.get("devices") if isinstance(raw, dict) else None
    if not isinstance(devices, dict):
        raise ConfigurationError(f"config {path} needs a [devices] table")
    specs = []
    for name, entry in devices.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise ConfigurationError(f"device {name!r} needs a url")
        kind = str(entry.get("kind", name.split(".")[0]))
        _check_kind(kind)
        specs.append(DeviceSpec(name=str(name), kind=kind, url=entry["url"]))
    return specs
