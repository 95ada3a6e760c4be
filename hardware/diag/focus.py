"""Live focus meter for the document camera (``doorstep diag focus``).

Any device that implements :class:`FocusSource` works: ``measure_focus()``
returns a sharpness figure for the current frame (variance of the Laplacian,
higher is sharper) and ``focus_threshold`` (optional) the level below which a
capture is rejected as blurred.  A camera that instead offers ``analyze()``
returning an object with ``.quality.focus`` (``hardware.camera``'s document
camera) is adapted, with ``thresholds.min_focus`` as the threshold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from hardware.clock import Clock

__all__ = ["FocusReport", "FocusSource", "as_focus_source", "bar", "run_focus"]


@runtime_checkable
class FocusSource(Protocol):
    """A device that can measure the sharpness of its current frame."""

    def measure_focus(self) -> float:
        """Sharpness of the current frame (higher is sharper)."""
        ...


class _AnalyzeAdapter:
    """Reads focus from a camera whose ``analyze()`` result has ``.quality.focus``."""

    def __init__(self, device: object) -> None:
        self._device = device
        thresholds = getattr(device, "thresholds", None)
        minimum = getattr(thresholds, "min_focus", None)
        self.focus_threshold = float(minimum) if isinstance(minimum, int | float) else None

    def measure_focus(self) -> float:
        analysis = self._device.analyze()  # type: ignore[attr-defined]
        return float(analysis.quality.focus)


def as_focus_source(device: object) -> FocusSource | None:
    """The device itself if it measures focus, an adapter over ``analyze()``, or None."""
    if isinstance(device, FocusSource):
        return device
    if callable(getattr(device, "analyze", None)):
        return _AnalyzeAdapter(device)
    return None


@dataclass(slots=True)
class FocusReport:
    """Samples collected by :func:`run_focus`."""

    samples: list[float] = field(default_factory=list)
    threshold: float | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary."""
        return {
            "samples": [round(s, 2) for s in self.samples],
            "min": round(min(self.samples), 2) if self.samples else None,
            "max": round(max(self.samples), 2) if self.samples else None,
            "last": round(self.samples[-1], 2) if self.samples else None,
            "threshold": self.threshold,
            "sharp": bool(self.samples) and self.threshold is not None and self.samples[-1] >= self.threshold,
        }


def run_focus(
    source: FocusSource,
    *,
    seconds: float,
    interval: float,
    clock: Clock,
    on_sample: Callable[[float], None] = lambda value: None,
) -> FocusReport:
    """Sample ``source`` every ``interval`` seconds for ``seconds`` (bounded, clock-injected)."""
    threshold = getattr(source, "focus_threshold", None)
    report = FocusReport(threshold=float(threshold) if isinstance(threshold, int | float) else None)
    deadline = clock.monotonic() + seconds
    while True:
        value = source.measure_focus()
        report.samples.append(value)
        on_sample(value)
        if clock.monotonic() + interval > deadline:
            return report
        clock.sleep(interval)


def bar(value: float, scale: float, width: int = 30) -> str:
    """A text bar of ``value`` relative to ``scale`` (full at 2 × scale)."""
    filled = 0 if scale <= 0 else min(width, int(width * value / (2 * scale)))
    return "█" * filled + "░" * (width - filled)
