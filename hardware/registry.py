"""Choose a device backend from a URL (``sim://idcard?card=resident-male``).

``BACKENDS`` maps ``(kind, scheme)`` to a lazy ``"module:factory"`` string so that
importing the registry never imports OpenCV, python-escpos or pyserial.  A factory
has the signature::

    factory(url: urllib.parse.SplitResult, params: dict[str, str], *,
            clock: Clock, statistics: Statistics) -> Device

and returns a **closed** device; the caller runs ``open() / claim() / enable()``.
"""

from __future__ import annotations

import importlib
import re
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from hardware.clock import Clock, RealClock
from hardware.device import DEVICE_KINDS, Device
from hardware.errors import ConfigurationError
from hardware.stats import Statistics

__all__ = [
    "BACKENDS",
    "DeviceFactory",
    "open_device",
    "open_device_as",
    "parse_device_url",
    "statistics_path",
]

DeviceFactory = Callable[..., Device]
D = TypeVar("D", bound=Device)

BACKENDS: dict[tuple[str, str], str] = {
    ("idcard", "sim"): "hardware.idcard.sim:open_sim_idcard_reader",
    ("idcard", "serial"): "hardware.idcard.driver:open_serial_idcard_reader",
    ("fingerprint", "sim"): "hardware.fingerprint.sim:open_sim_fingerprint_scanner",
    ("fingerprint", "serial"): "hardware.fingerprint.driver:open_serial_fingerprint_scanner",
    ("fingerprint", "fprintd"): "hardware.fingerprint.fprintd:open_fprintd_scanner",
    ("document_camera", "sim"): "hardware.camera.sim:open_sim_document_camera",
    ("document_camera", "uvc"): "hardware.camera.uvc:open_uvc_document_camera",
    ("face_camera", "sim"): "hardware.camera.sim:open_sim_face_camera",
    ("face_camera", "uvc"): "hardware.camera.uvc:open_uvc_face_camera",
    ("printer", "sim"): "hardware.printer.sim:open_sim_printer",
    ("printer", "escpos+usb"): "hardware.printer.escpos:open_escpos_printer",
    ("printer", "escpos+serial"): "hardware.printer.escpos:open_escpos_printer",
    ("printer", "escpos+tcp"): "hardware.printer.escpos:open_escpos_printer",
}
"""``(kind, URL scheme) -> "module:factory"``; add rows to register a backend."""


def parse_device_url(url: str) -> tuple[urllib.parse.SplitResult, dict[str, str]]:
    """Split a device URL and decode its query into ``{name: value}`` (last value wins)."""
    parts = urllib.parse.urlsplit(url)
    if not parts.scheme:
        raise ConfigurationError(f"device URL {url!r} has no scheme (e.g. sim://, serial://)")
    try:
        pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as err:
        raise ConfigurationError(f"device URL {url!r} has a malformed query") from err
    return parts, dict(pairs)


def statistics_path(stats_dir: Path, kind: str, parts: urllib.parse.SplitResult) -> Path:
    """The statistics file for a device: stable per kind, scheme and address (query ignored)."""
    address = re.sub(r"[^A-Za-z0-9]+", "_", f"{parts.netloc}{parts.path}").strip("_") or "default"
    scheme = re.sub(r"[^A-Za-z0-9]+", "_", parts.scheme)
    return stats_dir / f"{kind}-{scheme}-{address}.json"


def _resolve(target: str) -> DeviceFactory:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigurationError(f"backend {target!r} is not installed ({err.name})") from err
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ConfigurationError(f"backend {target!r} has no factory {attr!r}")
    return cast(DeviceFactory, factory)


def open_device(
    kind: str,
    url: str,
    *,
    clock: Clock | None = None,
    stats_dir: Path | None = None,
    name: str | None = None,
) -> Device:
    """Build the device for ``kind`` described by ``url`` (closed; call ``open()`` next).

    Statistics persist under ``stats_dir`` when given, otherwise in memory.  Raises
    :class:`~hardware.errors.ConfigurationError` for an unknown kind or scheme,
    listing what is supported.
    """
    if kind not in DEVICE_KINDS:
        raise ConfigurationError(f"unknown device kind {kind!r}; supported: {', '.join(DEVICE_KINDS)}")
    parts, params = parse_device_url(url)
    target = BACKENDS.get((kind, parts.scheme))
    if target is None:
        schemes = sorted(scheme for (k, scheme) in BACKENDS if k == kind)
        raise ConfigurationError(
            f"no {kind} backend for scheme {parts.scheme!r}; supported: {', '.join(schemes)}"
        )
    statistics = Statistics(statistics_path(stats_dir, kind, parts) if stats_dir is not None else None)
    factory = _resolve(target)
    kwargs: dict[str, Any] = {"clock": clock or RealClock(), "statistics": statistics}
    device = factory(parts, params, **kwargs)
    if name is not None:
        device.name = name
    return device


def open_device_as(
    device_class: Callable[..., D],
    url: str,
    *,
    clock: Clock | None = None,
    stats_dir: Path | None = None,
    name: str | None = None,
) -> D:
    """Like :func:`open_device` for ``device_class.kind``, typed as ``device_class``.

    ``open_device_as(IdCardReader, url)`` returns an ``IdCardReader`` (statically
    and at run time); a backend of another class raises ConfigurationError.
    """
    # Typed as a callable so abstract classes (IdCardReader…) are accepted by mypy.
    cls = cast(type[Device], device_class)
    device = open_device(cls.kind, url, clock=clock, stats_dir=stats_dir, name=name)
    if not isinstance(device, cls):
        raise ConfigurationError(f"{url!r} is not a {cls.__name__} backend")
    return cast(D, device)
