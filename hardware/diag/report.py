"""Diagnostic reports as plain data: run a device through its lifecycle and health check.

Every report passes through :func:`redact`, which masks personal fields wherever
they appear (ID numbers, names, addresses, birth dates, photos, fingerprints,
document images), so no caller can print them by accident.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hardware.clock import Clock
from hardware.device import Device, PromptCallback
from hardware.diag.config import DeviceSpec
from hardware.diag.messages import remedy
from hardware.errors import ConfigurationError, HardwareError, UnsupportedOperation
from hardware.health import HealthLevel
from hardware.idcard.reader import IdCardReader
from hardware.redact import mask_bytes, mask_date, mask_id_number, mask_name, mask_text
from hardware.registry import open_device

__all__ = ["PERSONAL_KEYS", "check_device", "redact"]

_MASKS: dict[str, Callable[[str], str | None]] = {
    "english_name": mask_name,
    "id_number": mask_id_number,
    "pass_number": mask_id_number,
    "address": mask_text,
    "appended_address": mask_text,
    "birth_date": mask_date,
}
_PERSON_MASKS: dict[str, Callable[[str], str | None]] = {**_MASKS, "name": mask_name}
_PERSON_CONTAINERS = frozenset({"card", "person", "resident", "holder"})
_BINARY_KEYS = frozenset({"photo_raw", "fingerprint_raw", "template", "image", "document"})
PERSONAL_KEYS = frozenset(_PERSON_MASKS) | _BINARY_KEYS
"""Keys whose values are masked; ``name`` only inside a card/person record (elsewhere it
names a device or a check step)."""


def redact(value: Any, *, person: bool = False) -> Any:
    """Return a copy of ``value`` with personal fields masked (idempotent)."""
    masks = _PERSON_MASKS if person else _MASKS
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in _BINARY_KEYS and item is not None:
                out[key] = item if isinstance(item, str) and item.startswith("<") else _describe_binary(item)
            elif key in masks and isinstance(item, str):
                out[key] = masks[key](item)
            else:
                out[key] = redact(item, person=person or key in _PERSON_CONTAINERS)
        return out
    if isinstance(value, list | tuple):
        return [redact(item, person=person) for item in value]
    if isinstance(value, bytes | bytearray):
        return mask_bytes(bytes(value))
    return value


def _describe_binary(item: Any) -> str | None:
    if isinstance(item, bytes | bytearray):
        return mask_bytes(bytes(item))
    return "<redacted>"


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _error(err: HardwareError, lang: str) -> dict[str, Any]:
    return {
        "code": err.code,
        "message": err.message,
        "recommended_action": err.recommended_action.value,
        "remedy": remedy(err.recommended_action, lang),
    }


def check_device(
    spec: DeviceSpec,
    level: HealthLevel,
    *,
    clock: Clock | None = None,
    stats_dir: Path | None = None,
    lang: str = "zh",
    prompt: PromptCallback | None = None,
    guided: bool = False,
) -> dict[str, Any]:
    """Open, claim and enable the device, run its health check at ``level``, close it.

    With ``guided`` (interactive diagnostics) an ID-card reader also reads the
    placed card and reports it masked.  Returns a redacted, JSON-ready dict with
    ``result`` = ``pass`` / ``fail`` / ``unsupported``.
    """
    report: dict[str, Any] = {**spec.to_dict(), "level": level.name.lower(), "result": "fail"}
    try:
        device = open_device(spec.kind, spec.url, clock=clock, stats_dir=stats_dir, name=spec.name)
    except ConfigurationError as err:
        report.update(result="config_error", error=_error(err, lang))
        return _redacted(report)
    try:
        _run(device, level, report, lang=lang, prompt=prompt, guided=guided)
    finally:
        report["status"] = device.status().to_dict()
        report["info"] = device.info()
        report["capabilities"] = dict(device.capabilities)
        report["statistics"] = device.statistics.retrieve()
        try:
            device.close()
        except HardwareError as err:
            report.setdefault("error", _error(err, lang))
    return _redacted(_jsonable(report))


def _redacted(report: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = redact(report)
    return out


def _run(
    device: Device,
    level: HealthLevel,
    report: dict[str, Any],
    *,
    lang: str,
    prompt: PromptCallback | None,
    guided: bool,
) -> None:
    try:
        device.open()
        device.claim()
        device.enable()
        guided_card = guided and isinstance(device, IdCardReader)
        # A guided card read is the interactive test; the health part stays INTERNAL.
        health = device.check_health(HealthLevel.INTERNAL if guided_card else level, prompt=prompt)
    except UnsupportedOperation as err:
        report.update(result="unsupported", error=_error(err, lang))
        return
    except HardwareError as err:
        report["error"] = _error(err, lang)
        return
    report["health"] = health.to_dict()
    report["remedy"] = remedy(health.recommended_action, lang)
    ok = health.ok
    if ok and guided and isinstance(device, IdCardReader):
        try:
            card = device.read_card_guided(prompt or (lambda name: None))
        except HardwareError as err:
            report["error"] = _error(err, lang)
            report["remedy"] = remedy(err.recommended_action, lang)
            ok = False
        else:
            report["card"] = card.masked()
            report["card_valid"] = not card.validation_problems()
    report["result"] = "pass" if ok else "fail"
