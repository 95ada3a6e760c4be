"""fprintd (libfprint over D-Bus) fingerprint backend, spec §2.7.

For USB sensors that libfprint supports.  Slots map to finger names
(:data:`FINGERS`: slot 0 is the right index finger…); templates stay inside
fprintd, so template download, image capture and 1:1 against a caller's
template are not available, and 1:N search is not offered (fprintd's ``any``
verify does not say which finger matched).

URL: ``fprintd://system?user=kiosk`` (system bus), ``fprintd://session?user=…`` or
``fprintd://?bus=<D-Bus address>&user=…`` (tests run a private bus).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from jeepney import DBusAddress, MatchRule, Message, new_method_call  # type: ignore[import-untyped]
from jeepney.bus_messages import message_bus  # type: ignore[import-untyped]
from jeepney.io.blocking import DBusConnection, open_dbus_connection  # type: ignore[import-untyped]
from jeepney.wrappers import DBusErrorResponse, unwrap_msg  # type: ignore[import-untyped]

from hardware.clock import Clock
from hardware.device import Availability, HealthCheck, PromptCallback
from hardware.errors import (
    Cancelled,
    ConfigurationError,
    ConnectionLost,
    DeviceTimeout,
    HardwareError,
    NoHardware,
    NotOpen,
    UnsupportedOperation,
)
from hardware.fingerprint.errors import (
    EnrollMismatch,
    FingerNotDetected,
    FingerprintStatusError,
    PoorImage,
    WrongPassword,
)
from hardware.fingerprint.params import MatchResult, SearchResult, SystemParameters
from hardware.fingerprint.scanner import FingerprintScanner
from hardware.health import HealthLevel, HealthResult
from hardware.stats import Statistics

__all__ = ["BUS_NAME", "FINGERS", "FprintdFingerprintScanner", "open_fprintd_scanner"]

BUS_NAME = "net.reactivated.Fprint"
MANAGER_PATH = "/net/reactivated/Fprint/Manager"
DEVICE_INTERFACE = "net.reactivated.Fprint.Device"
FINGERS: tuple[str, ...] = (
    "right-index-finger",
    "left-index-finger",
    "right-thumb",
    "left-thumb",
    "right-middle-finger",
    "left-middle-finger",
    "right-ring-finger",
    "left-ring-finger",
    "right-little-finger",
    "left-little-finger",
)
"""Slot number → fprintd finger name."""

_RETRY = {
    "verify-retry-scan",
    "verify-swipe-too-short",
    "verify-finger-not-centered",
    "verify-remove-and-retry",
    "enroll-retry-scan",
    "enroll-swipe-too-short",
    "enroll-finger-not-centered",
    "enroll-remove-and-retry",
}

# fprintd D-Bus error name → (exception type, message).  Anything else is a status error.
_ERRORS: dict[str, tuple[type[HardwareError], str]] = {
    "net.reactivated.Fprint.Error.NoSuchDevice": (NoHardware, "fprintd has no fingerprint reader"),
    "net.reactivated.Fprint.Error.PermissionDenied": (WrongPassword, "polkit denied the fprintd action"),
    "net.reactivated.Fprint.Error.AlreadyInUse": (FingerprintStatusError, "the reader is claimed elsewhere"),
    "net.reactivated.Fprint.Error.ClaimDevice": (FingerprintStatusError, "the reader is not claimed"),
    "net.reactivated.Fprint.Error.Internal": (FingerprintStatusError, "fprintd internal error"),
    "org.freedesktop.DBus.Error.ServiceUnknown": (NoHardware, "fprintd is not running"),
    "org.freedesktop.DBus.Error.NoReply": (DeviceTimeout, "fprintd did not answer"),
}

ConnectionFactory = Callable[[], DBusConnection]
_SLICE = 0.1
"""Seconds between cancellation checks while waiting for fprintd status signals."""


class FprintdFingerprintScanner(FingerprintScanner):
    """A libfprint reader driven through fprintd's D-Bus API on behalf of ``username``."""

    def __init__(
        self,
        connection_factory: ConnectionFactory,
        *,
        username: str,
        name: str | None = None,
        clock: Clock | None = None,
        statistics: Statistics | None = None,
        call_timeout: float = 5.0,
    ) -> None:
        super().__init__(name=name, clock=clock, statistics=statistics)
        self._factory = connection_factory
        self._conn: DBusConnection | None = None
        self._device: DBusAddress | None = None
        self.username = username
        self.call_timeout = call_timeout

    # ------------------------------------------------------------------ plumbing

    def _call(
        self, address: DBusAddress, member: str, signature: str | None = None, *body: Any
    ) -> tuple[Any, ...]:
        conn = self._conn
        if conn is None:
            raise NotOpen(f"{self.name} is not open")
        return self._send(new_method_call(address, member, signature, tuple(body)), member)

    def _send(self, message: Message, member: str) -> tuple[Any, ...]:
        conn = self._conn
        if conn is None:
            raise NotOpen(f"{self.name} is not open")
        try:
            reply: Message = conn.send_and_get_reply(message, timeout=self.call_timeout)
            body: tuple[Any, ...] = unwrap_msg(reply)
        except DBusErrorResponse as err:
            raise _map_error(err, member) from err
        except TimeoutError as err:
            raise DeviceTimeout(f"{member}: fprintd did not answer", timeout=self.call_timeout) from err
        except OSError as err:
            self._update_status(availability=Availability.NO_DEVICE)
            raise ConnectionLost(f"{member}: D-Bus connection failed: {type(err).__name__}") from err
        return body

    def _dev(self) -> DBusAddress:
        if self._device is None:
            raise NotOpen(f"{self.name} is not open")
        return self._device

    # ------------------------------------------------------------- lifecycle hooks

    def _open(self) -> None:
        try:
            self._conn = self._factory()
        except OSError as err:
            raise NoHardware(f"cannot connect to the D-Bus bus: {type(err).__name__}") from err
        manager = DBusAddress(MANAGER_PATH, bus_name=BUS_NAME, interface="net.reactivated.Fprint.Manager")
        try:
            (path,) = self._call(manager, "GetDefaultDevice")
        except BaseException:
            self._close()
            raise
        self._device = DBusAddress(path, bus_name=BUS_NAME, interface=DEVICE_INTERFACE)
        self._update_status(availability=Availability.ONLINE)

    def _close(self) -> None:
        conn, self._conn, self._device = self._conn, None, None
        if conn is not None:
            conn.close()
        self._update_status(availability=Availability.UNKNOWN)

    def _claim(self) -> None:
        self._call(self._dev(), "Claim", "s", self.username)

    def _release(self) -> None:
        self._call(self._dev(), "Release")

    # ------------------------------------------------------------ status signals

    def _run_until_done(
        self, start: str, finger: str, stop: str, timeout: float, prompt: PromptCallback
    ) -> list[str]:
        """Start an enrol/verify, collect status results until ``done``; always stop it."""
        conn = self._conn
        if conn is None:
            raise NotOpen(f"{self.name} is not open")
        signal = "EnrollStatus" if start == "EnrollStart" else "VerifyStatus"
        rule = MatchRule(
            type="signal", interface=DEVICE_INTERFACE, member=signal, path=self._dev().object_path
        )
        self._send(message_bus.AddMatch(rule), "AddMatch")
        results: list[str] = []
        with conn.filter(rule) as queue:
            self._prompt(prompt, "place_finger")
            self._call(self._dev(), start, "s", finger)
            try:
                waited = 0.0
                while True:
                    if self._cancel.is_set():
                        raise Cancelled(f"{self.name}: operation cancelled")
                    step = min(_SLICE, max(timeout - waited, 0.0))
                    try:
                        message = conn.recv_until_filtered(queue, timeout=step)
                    except TimeoutError as err:
                        waited += step
                        if waited >= timeout:
                            raise FingerNotDetected("no finger scanned in time", status=0x02) from err
                        continue
                    result, done = message.body
                    results.append(result)
                    if result == "enroll-stage-passed":
                        self._prompt(prompt, "lift_finger")
                        self._prompt(prompt, "place_finger_again")
                    elif result in _RETRY:
                        self._prompt(prompt, "retry_finger")
                    if done:
                        return results
            finally:
                try:
                    self._call(self._dev(), stop)
                finally:
                    self._prompt(prompt, "lift_finger")

    # -------------------------------------------------------------------- hooks

    def _finger(self, slot: int) -> str:
        if not 0 <= slot < len(FINGERS):
            raise ConfigurationError(f"fprintd slots are 0-{len(FINGERS) - 1} (finger names)")
        return FINGERS[slot]

    def _enrolled(self) -> list[str]:
        try:
            (fingers,) = self._call(self._dev(), "ListEnrolledFingers", "s", self.username)
        except FingerprintStatusError as err:
            if err.meaning == "NoEnrolledPrints":
                return []
            raise
        return list(fingers)

    def _enroll(self, slot: int | None, timeout: float, prompt: PromptCallback) -> int:
        if slot is None:
            taken = set(self._enrolled())
            free = [i for i, finger in enumerate(FINGERS) if finger not in taken]
            if not free:
                raise FingerprintStatusError("every finger is enrolled", status=0x1F, meaning="library full")
            slot = free[0]
        final = self._run_until_done("EnrollStart", self._finger(slot), "EnrollStop", timeout, prompt)[-1]
        if final == "enroll-completed":
            return slot
        if final == "enroll-data-full":
            raise FingerprintStatusError("fprintd storage is full", status=0x1F, meaning=final)
        if final == "enroll-failed":
            raise EnrollMismatch("fprintd could not build a template from the scans", status=0x0A)
        raise _result_error(final)

    def _verify(self, slot: int, timeout: float, prompt: PromptCallback) -> MatchResult:
        final = self._run_until_done("VerifyStart", self._finger(slot), "VerifyStop", timeout, prompt)[-1]
        if final == "verify-match":
            return MatchResult(matched=True, score=100)
        if final == "verify-no-match":
            return MatchResult(matched=False, score=0)
        raise _result_error(final)

    def _verify_template(self, template: bytes, timeout: float, prompt: PromptCallback) -> MatchResult:
        raise UnsupportedOperation("fprintd keeps templates to itself; verify against a slot instead")

    def _search(self, start: int, count: int | None, timeout: float, prompt: PromptCallback) -> SearchResult:
        raise UnsupportedOperation("fprintd does not report which finger matched; use verify(slot)")

    def _delete(self, slot: int, count: int) -> None:
        for index in range(slot, slot + count):
            self._call(self._dev(), "DeleteEnrolledFinger", "s", self._finger(index))

    def _clear_library(self) -> None:
        self._call(self._dev(), "DeleteEnrolledFingers2")

    def _count(self) -> int:
        return len(self._enrolled())

    def _read_system_parameters(self) -> SystemParameters:
        raise UnsupportedOperation("fprintd exposes no module parameters")

    def _verify_password(self) -> None:
        raise UnsupportedOperation("fprintd has no module password (polkit decides)")

    def _set_password(self, password: int) -> None:
        raise UnsupportedOperation("fprintd has no module password (polkit decides)")

    def _download_template(self, slot: int) -> bytes:
        raise UnsupportedOperation("fprintd does not export templates")

    def _capture_image(self, timeout: float, prompt: PromptCallback) -> bytes:
        raise UnsupportedOperation("fprintd does not export images")

    def _sensor_idle(self) -> str:
        return "not checked by fprintd"

    def _interactive_capture(self, prompt: PromptCallback) -> str:
        results = self._run_until_done("VerifyStart", "any", "VerifyStop", self.capture_timeout, prompt)
        if results[-1] not in ("verify-match", "verify-no-match"):
            raise _result_error(results[-1])
        return "finger scanned"

    def _check_health(self, level: HealthLevel, prompt: PromptCallback) -> HealthResult:
        check = HealthCheck(level)
        if check.run("enrolled_fingers", lambda: f"{self._count()} fingers enrolled") and (
            level is HealthLevel.INTERACTIVE
        ):
            check.run("capture", lambda: self._interactive_capture(prompt))
        return check.result()

    def _capabilities(self) -> Mapping[str, Any]:
        return {"verify_1_1": True, "search_1_n": False, "template_download": False, "slots": len(FINGERS)}

    def _info(self) -> Mapping[str, Any]:
        return {
            "interface": "fprintd",
            "device_path": None if self._device is None else self._device.object_path,
        }


def _map_error(err: DBusErrorResponse, member: str) -> HardwareError:
    name = str(err.name)
    kind, text = _ERRORS.get(name, (FingerprintStatusError, "fprintd error"))
    message = f"{member}: {text}"
    if issubclass(kind, FingerprintStatusError):
        return kind(message, status=0x19, meaning=name.rsplit(".", 1)[-1])
    if issubclass(kind, DeviceTimeout):
        return kind(message, timeout=0.0)
    return kind(message)


def _result_error(result: str) -> HardwareError:
    if result.endswith("-disconnected"):
        return ConnectionLost(f"fprintd reports the reader disconnected ({result})")
    if result in _RETRY:
        return PoorImage(f"fprintd asked for another scan ({result})", status=0x03)
    return FingerprintStatusError(f"fprintd reported {result}", status=0x19, meaning=result)


def open_fprintd_scanner(
    url: urllib.parse.SplitResult,
    params: dict[str, str],
    *,
    clock: Clock,
    statistics: Statistics,
) -> FprintdFingerprintScanner:
    """Registry factory for ``fprintd://system?user=kiosk`` / ``fprintd://?bus=<address>&user=…``."""
    bus = params.get("bus") or (url.netloc or "system").upper()
    if bus in ("system", "session"):
        bus = bus.upper()
    username = params.get("user", "")
    if not username:
        raise ConfigurationError("fprintd URL needs user=<account whose fingers are enrolled>")
    try:
        timeout = float(params.get("timeout", "5"))
    except ValueError as err:
        raise ConfigurationError("timeout must be a number") from err

    def connect() -> DBusConnection:
        return open_dbus_connection(bus)

    return FprintdFingerprintScanner(
        connect, username=username, clock=clock, statistics=statistics, call_timeout=timeout
    )
