"""Per-device statistics (UPOS retrieve/update/resetStatistics), persisted as JSON.

Counters are plain ``name -> int``; the last error is stored as its code and a
non-personal message.  With a path the file is rewritten atomically (temp file +
rename): at once for errors and resets, and for plain counter increments at most
once per ``flush_interval_s`` (a camera counts every frame; one disk write per
frame would be the device's hottest path), plus on :meth:`flush` — which the
device calls on close.  With ``path=None`` they live in memory only.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["Statistics"]


class Statistics:
    """Thread-safe counters plus the last error, optionally persisted to ``path``."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        now: Callable[[], dt.datetime] | None = None,
        flush_interval_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = path
        self._now = now or (lambda: dt.datetime.now(dt.UTC))
        self._flush_interval_s = flush_interval_s
        self._monotonic = monotonic
        self._last_save = monotonic()
        self._dirty = False
        self._lock = threading.Lock()
        self._counters: dict[str, int] = {}
        self._last_error: dict[str, Any] | None = None
        if path is not None and path.exists():
            self._load(path)

    @property
    def path(self) -> Path | None:
        """Where the statistics are persisted, or None when in memory."""
        return self._path

    def _load(self, path: Path) -> None:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return  # a corrupt statistics file must never stop a device from opening
        if not isinstance(raw, dict):
            return
        counters = raw.get("counters", {})
        if isinstance(counters, dict):
            self._counters = {str(k): int(v) for k, v in counters.items() if isinstance(v, int)}
        last = raw.get("last_error")
        if isinstance(last, dict):
            self._last_error = {str(k): v for k, v in last.items()}

    def increment(self, name: str, amount: int = 1) -> None:
        """Add ``amount`` to counter ``name``; persisted when the flush interval has passed."""
        with self._lock:
            self._counters[name] = self._counters.get(name, 0) + amount
            self._dirty = True
            if self._monotonic() - self._last_save >= self._flush_interval_s:
                self._save()

    def flush(self) -> None:
        """Persist pending counter changes now."""
        with self._lock:
            if self._dirty:
                self._save()

    def record_error(self, code: str, message: str) -> None:
        """Count an error under ``errors.<code>`` and remember it as the last error.

        The time is stored as an ISO-8601 UTC string (wall time, so it stays
        meaningful across restarts).  ``message`` must not contain personal data
        (exception messages in this package never do).
        """
        at = self._now().isoformat(timespec="seconds")
        with self._lock:
            key = f"errors.{code}"
            self._counters[key] = self._counters.get(key, 0) + 1
            self._last_error = {"code": code, "message": message, "at": at}
            self._save()

    def get(self, name: str) -> int:
        """Return counter ``name`` (0 when never incremented)."""
        with self._lock:
            return self._counters.get(name, 0)

    @property
    def last_error(self) -> dict[str, Any] | None:
        """The last recorded error as ``{"code", "message", "at"}``, or None."""
        with self._lock:
            return None if self._last_error is None else dict(self._last_error)

    def retrieve(self) -> dict[str, Any]:
        """A snapshot: ``{"counters": {...}, "last_error": {...} | None}``."""
        with self._lock:
            return {
                "counters": dict(sorted(self._counters.items())),
                "last_error": None if self._last_error is None else dict(self._last_error),
            }

    def reset(self) -> None:
        """Zero every counter and forget the last error."""
        with self._lock:
            self._counters.clear()
            self._last_error = None
            self._save()

    def _save(self) -> None:
        self._dirty = False
        self._last_save = self._monotonic()
        if self._path is None:
            return
        data = {"counters": self._counters, "last_error": self._last_error}
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".stats-", dir=self._path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, sort_keys=True)
            os.replace(tmp, self._path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
