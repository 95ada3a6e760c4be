"""The fingerprint scanner device class: :class:`FingerprintScanner`.

Public methods enforce the lifecycle, count statistics and publish events; a
backend implements the ``_enroll``/``_verify``/… hooks.  Health checks (spec §4.3):
INTERNAL = verify password + read system parameters + template count; EXTERNAL =
capture with no finger expecting "no finger"; INTERACTIVE = guided capture.
Templates are personal data: they stay on the kiosk and never appear in logs.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from hardware.device import DataEvent, Device, HealthCheck, PromptCallback
from hardware.fingerprint.params import MatchResult, SearchResult, SystemParameters
from hardware.health import HealthLevel, HealthResult

__all__ = ["FingerprintScanner"]


class FingerprintScanner(Device):
    """A fingerprint scanner with an on-module template library (slots 0…capacity-1)."""

    kind: ClassVar[str] = "fingerprint"
    supported_health_levels: ClassVar[frozenset[HealthLevel]] = frozenset(HealthLevel)
    capture_timeout: float = 10.0
    """Seconds to wait for a finger in interactive flows."""

    def enroll(
        self, slot: int | None = None, *, timeout: float | None = None, prompt: PromptCallback | None = None
    ) -> int:
        """Capture the finger twice, merge the captures and store the template; returns the slot.

        ``slot=None`` picks the first free slot.  ``prompt`` receives ``place_finger``,
        ``lift_finger`` and ``place_finger_again``.
        """
        with self._operation("enroll"):
            stored = self._enroll(slot, timeout or self.capture_timeout, prompt or _silent)
        self._emit(DataEvent(device=self.name, what="enrolled"))
        return stored

    def verify(
        self, slot: int, *, timeout: float | None = None, prompt: PromptCallback | None = None
    ) -> MatchResult:
        """Capture a finger and compare it 1:1 with the template stored in ``slot``."""
        with self._operation("verify"):
            result = self._verify(slot, timeout or self.capture_timeout, prompt or _silent)
        self.statistics.increment("verify.matched" if result.matched else "verify.no_match")
        self._emit(DataEvent(device=self.name, what="verified"))
        return result

    def verify_template(
        self, template: bytes, *, timeout: float | None = None, prompt: PromptCallback | None = None
    ) -> MatchResult:
        """Capture a finger and compare it 1:1 with a template held by the caller."""
        with self._operation("verify_template"):
            result = self._verify_template(template, timeout or self.capture_timeout, prompt or _silent)
        self.statistics.increment("verify.matched" if result.matched else "verify.no_match")
        return result

    def search(
        self,
        *,
        start: int = 0,
        count: int | None = None,
        timeout: float | None = None,
        prompt: PromptCallback | None = None,
    ) -> SearchResult:
        """Capture a finger and search the library 1:N (``count=None`` means all slots)."""
        with self._operation("search"):
            return self._search(start, count, timeout or self.capture_timeout, prompt or _silent)

    def delete(self, slot: int, count: int = 1) -> None:
        """Delete ``count`` templates starting at ``slot``."""
        with self._operation("delete"):
            self._delete(slot, count)

    def clear_library(self) -> None:
        """Delete every stored template."""
        with self._operation("clear_library"):
            self._clear_library()

    def count(self) -> int:
        """Number of stored templates."""
        with self._operation("count"):
            return self._count()

    def read_system_parameters(self) -> SystemParameters:
        """The module's system parameters (capacity, security level, packet size, baud)."""
        with self._operation("read_system_parameters"):
            return self._read_system_parameters()

    def set_password(self, password: int) -> None:
        """Change the module password (the driver keeps using the new one)."""
        with self._operation("set_password"):
            self._set_password(password)

    def capture_image(self, *, timeout: float | None = None, prompt: PromptCallback | None = None) -> bytes:
        """Capture a finger and upload the raw image (256×288, 4 bits per pixel, 36 864 bytes).

        The image is personal data: keep it on the kiosk.
        """
        with self._operation("capture_image"):
            return self._capture_image(timeout or self.capture_timeout, prompt or _silent)

    def download_template(self, slot: int) -> bytes:
        """Fetch the template stored in ``slot`` (personal data: keep it on the kiosk)."""
        with self._operation("download_template"):
            return self._download_template(slot)

    # -------------------------------------------------------------------- health

    def _check_health(self, level: HealthLevel, prompt: PromptCallback) -> HealthResult:
        check = HealthCheck(level)
        internal: list[tuple[str, Callable[[], object]]] = [
            ("password", self._verify_password),
            ("system_parameters", lambda: _describe(self._read_system_parameters())),
            ("template_count", lambda: f"{self._count()} templates"),
        ]
        for name, step in internal:
            if not check.run(name, step):
                break
        if check.ok and level is HealthLevel.EXTERNAL:
            check.run("sensor_idle", self._sensor_idle)
        elif check.ok and level is HealthLevel.INTERACTIVE:
            check.run("capture", lambda: self._interactive_capture(prompt))
        return check.result()

    def _capabilities(self) -> Mapping[str, Any]:
        return {"verify_1_1": True, "search_1_n": True, "template_download": True}

    # ---------------------------------------------------------------- the hooks

    @abstractmethod
    def _enroll(self, slot: int | None, timeout: float, prompt: PromptCallback) -> int: ...

    @abstractmethod
    def _verify(self, slot: int, timeout: float, prompt: PromptCallback) -> MatchResult: ...

    @abstractmethod
    def _verify_template(self, template: bytes, timeout: float, prompt: PromptCallback) -> MatchResult: ...

    @abstractmethod
    def _search(
        self, start: int, count: int | None, timeout: float, prompt: PromptCallback
    ) -> SearchResult: ...

    @abstractmethod
    def _delete(self, slot: int, count: int) -> None: ...

    @abstractmethod
    def _clear_library(self) -> None: ...

    @abstractmethod
    def _count(self) -> int: ...

    @abstractmethod
    def _read_system_parameters(self) -> SystemParameters: ...

    @abstractmethod
    def _verify_password(self) -> None: ...

    @abstractmethod
    def _set_password(self, password: int) -> None: ...

    @abstractmethod
    def _download_template(self, slot: int) -> bytes: ...

    @abstractmethod
    def _capture_image(self, timeout: float, prompt: PromptCallback) -> bytes: ...

    @abstractmethod
    def _sensor_idle(self) -> str:
        """EXTERNAL check: capture with nobody at the sensor; expect 'no finger'."""

    @abstractmethod
    def _interactive_capture(self, prompt: PromptCallback) -> str:
        """INTERACTIVE check: guide a capture and report the image quality (no biometric data)."""


def _describe(params: SystemParameters) -> str:
    return f"capacity {params.capacity}, security level {params.security_level}, {params.baud_rate} baud"


def _silent(name: str) -> None:
    """Default prompt callback: nobody to tell."""
