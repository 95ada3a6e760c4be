"""The device model shared by every device class (UnifiedPOS/XFS, spec §4.3).

A :class:`Device` has a lifecycle *phase* driven by a transition table::

    CLOSED --open--> OPEN --claim--> CLAIMED --enable--> ENABLED
      ^               |  <--release--  |  <--disable--     |
      +----close------+-------close----+-------close-------+

and a UPOS :class:`DeviceState` derived from it: CLOSED, IDLE, BUSY (an operation
is running) or ERROR (the last operation hit a :class:`~hardware.errors.DeviceFault`;
the next successful operation or passing health check clears it).

The public methods here enforce the phase, keep statistics and publish events; a
backend implements only the small protected hooks (``_open``, ``_close``,
``_check_health`` …).  Device operations are synchronous: the kiosk runs them in a
worker thread.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar, Self

from hardware.clock import Clock, RealClock
from hardware.errors import (
    Cancelled,
    DeviceFault,
    Disabled,
    HardwareError,
    IllegalTransition,
    NotClaimed,
    NotOpen,
    UnsupportedOperation,
    UserActionRequired,
)
from hardware.health import HealthLevel, HealthResult, HealthStep, RecommendedAction
from hardware.stats import Statistics

__all__ = [
    "DEVICE_KINDS",
    "Availability",
    "DataEvent",
    "Device",
    "DeviceEvent",
    "DevicePhase",
    "DeviceState",
    "DeviceStatus",
    "ErrorOccurred",
    "EventCallback",
    "HealthCheck",
    "PromptCallback",
    "StateChanged",
    "StatusChanged",
]

_log = logging.getLogger(__name__)

DEVICE_KINDS: tuple[str, ...] = ("idcard", "fingerprint", "document_camera", "face_camera", "printer")
"""Every device kind the registry knows."""


class DeviceState(enum.Enum):
    """UPOS device state (JPOS_S_*)."""

    CLOSED = "closed"
    IDLE = "idle"
    BUSY = "busy"
    ERROR = "error"


class DevicePhase(enum.Enum):
    """Where the device is in the open/claim/enable lifecycle."""

    CLOSED = "closed"
    OPEN = "open"
    CLAIMED = "claimed"
    ENABLED = "enabled"


class Availability(enum.Enum):
    """XFS-style device availability (fwDevice)."""

    UNKNOWN = "unknown"
    ONLINE = "online"
    OFFLINE = "offline"
    NO_DEVICE = "no_device"
    HW_ERROR = "hw_error"
    USER_ERROR = "user_error"


# (phase, event) -> (next phase, hooks to call in order).  Anything else is illegal.
_TRANSITIONS: dict[tuple[DevicePhase, str], tuple[DevicePhase, tuple[str, ...]]] = {
    (DevicePhase.CLOSED, "open"): (DevicePhase.OPEN, ("_open",)),
    (DevicePhase.CLOSED, "close"): (DevicePhase.CLOSED, ()),
    (DevicePhase.OPEN, "claim"): (DevicePhase.CLAIMED, ("_claim",)),
    (DevicePhase.OPEN, "release"): (DevicePhase.OPEN, ()),
    (DevicePhase.OPEN, "close"): (DevicePhase.CLOSED, ("_close",)),
    (DevicePhase.CLAIMED, "claim"): (DevicePhase.CLAIMED, ()),
    (DevicePhase.CLAIMED, "enable"): (DevicePhase.ENABLED, ("_enable",)),
    (DevicePhase.CLAIMED, "disable"): (DevicePhase.CLAIMED, ()),
    (DevicePhase.CLAIMED, "release"): (DevicePhase.OPEN, ("_release",)),
    (DevicePhase.CLAIMED, "close"): (DevicePhase.CLOSED, ("_release", "_close")),
    (DevicePhase.ENABLED, "claim"): (DevicePhase.ENABLED, ()),
    (DevicePhase.ENABLED, "enable"): (DevicePhase.ENABLED, ()),
    (DevicePhase.ENABLED, "disable"): (DevicePhase.CLAIMED, ("_disable",)),
    (DevicePhase.ENABLED, "release"): (DevicePhase.OPEN, ("_disable", "_release")),
    (DevicePhase.ENABLED, "close"): (DevicePhase.CLOSED, ("_disable", "_release", "_close")),
}

# Errors for operations attempted before the device reached ENABLED.
_NOT_READY: dict[DevicePhase, type[HardwareError]] = {
    DevicePhase.CLOSED: NotOpen,
    DevicePhase.OPEN: NotClaimed,
    DevicePhase.CLAIMED: Disabled,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceEvent:
    """Base of every event a device publishes; ``device`` is its logical name."""

    device: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StateChanged(DeviceEvent):
    """The UPOS state changed (e.g. IDLE → BUSY)."""

    old: DeviceState
    new: DeviceState


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusChanged(DeviceEvent):
    """The device-specific status detail changed (card present, paper low…)."""

    detail: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorOccurred(DeviceEvent):
    """An operation failed; carries the error code and recommended action, no personal data."""

    operation: str
    code: str
    message: str
    action: RecommendedAction


@dataclass(frozen=True, slots=True, kw_only=True)
class DataEvent(DeviceEvent):
    """An input operation completed (``what`` names it, e.g. ``"card_read"``)."""

    what: str


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """A snapshot of the device's state, availability and device-specific detail."""

    state: DeviceState
    phase: DevicePhase
    availability: Availability
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Serialise to a JSON-ready dict."""
        return {
            "state": self.state.value,
            "phase": self.phase.value,
            "availability": self.availability.value,
            "detail": dict(self.detail),
        }


class HealthCheck:
    """Builds a :class:`HealthResult` step by step for ``_check_health`` implementations.

    ``run(name, func)`` calls ``func``; a :class:`HardwareError` becomes a failed step
    and its recommended action becomes the result's (first failure wins).  A
    returned string becomes the step detail (it must not contain personal data).
    """

    def __init__(self, level: HealthLevel) -> None:
        self.level = level
        self.steps: list[HealthStep] = []
        self.action: RecommendedAction | None = None

    @property
    def ok(self) -> bool:
        """True while every step so far passed."""
        return all(step.ok for step in self.steps)

    def run(self, name: str, func: Callable[[], object]) -> bool:
        """Run one step; return whether it passed."""
        try:
            outcome = func()
        except HardwareError as err:
            self.fail(name, f"{err.code}: {err.message}", err.recommended_action)
            return False
        self.steps.append(HealthStep(name, True, outcome if isinstance(outcome, str) else ""))
        return True

    def fail(self, name: str, detail: str, action: RecommendedAction) -> None:
        """Record a failed step decided by the caller."""
        self.steps.append(HealthStep(name, False, detail))
        if self.action is None:
            self.action = action

    def result(self) -> HealthResult:
        """The finished result."""
        return HealthResult.from_steps(
            self.level, self.steps, failure_action=self.action or RecommendedAction.RESET
        )


EventCallback = Callable[[DeviceEvent], None]
PromptCallback = Callable[[str], None]
"""Called with a prompt name (``"place_card"``, ``"place_finger"``…) during interactive checks."""


class Device(ABC):
    """Abstract base of every device: lifecycle, state, status, health, statistics, events.

    Subclasses set :attr:`kind` and implement the protected hooks.  Operations in
    per-kind ABCs run inside :meth:`_operation`, which enforces the ENABLED phase,
    serialises calls, maintains BUSY/ERROR and counts successes and failures.
    """

    kind: ClassVar[str] = ""
    supported_health_levels: ClassVar[frozenset[HealthLevel]] = frozenset(
        {HealthLevel.INTERNAL, HealthLevel.EXTERNAL}
    )

    def __init__(
        self,
        *,
        name: str | None = None,
        clock: Clock | None = None,
        statistics: Statistics | None = None,
    ) -> None:
        self.name = name or self.kind or type(self).__name__
        self.clock: Clock = clock or RealClock()
        self.statistics = statistics if statistics is not None else Statistics()
        self._phase = DevicePhase.CLOSED
        self._busy = False
        self._error = False
        self._availability = Availability.UNKNOWN
        self._detail: dict[str, Any] = {}
        self._subscribers: list[EventCallback] = []
        self._frozen: list[DeviceEvent] | None = None
        self._lifecycle_lock = threading.RLock()
        self._op_lock = threading.RLock()
        self._cancel = threading.Event()
        self._last_state = DeviceState.CLOSED
        self.check_health_text = ""
        """Text of the last health check (UPOS CheckHealthText)."""

    # ----------------------------------------------------------------- lifecycle

    @property
    def phase(self) -> DevicePhase:
        """The current lifecycle phase."""
        return self._phase

    @property
    def state(self) -> DeviceState:
        """The UPOS state derived from phase, running operation and last fault."""
        if self._phase is DevicePhase.CLOSED:
            return DeviceState.CLOSED
        if self._busy:
            return DeviceState.BUSY
        if self._error:
            return DeviceState.ERROR
        return DeviceState.IDLE

    @property
    def claimed(self) -> bool:
        """True when claimed (or enabled)."""
        return self._phase in (DevicePhase.CLAIMED, DevicePhase.ENABLED)

    @property
    def enabled(self) -> bool:
        """True when enabled."""
        return self._phase is DevicePhase.ENABLED

    def open(self) -> None:
        """Bind the backend (open the port, start a simulator); the device is not yet owned."""
        self._transition("open")

    def claim(self, timeout: float = 0.0) -> None:
        """Get exclusive access; claiming twice is not an error (UPOS)."""
        del timeout  # exclusive access is per-process here; kept for the UPOS signature
        self._transition("claim")

    def enable(self) -> None:
        """Bring the device to an operational state."""
        self._transition("enable")

    def disable(self) -> None:
        """Stop operations; input is discarded and output refused until re-enabled."""
        self._transition("disable")

    def release(self) -> None:
        """Give up exclusive access, disabling first if needed."""
        self._transition("release")

    def close(self) -> None:
        """Disable and release as needed, then free the backend.  Safe to call twice."""
        try:
            self._transition("close")
        finally:
            self.statistics.flush()

    def _transition(self, event: str) -> None:
        with self._lifecycle_lock:
            row = _TRANSITIONS.get((self._phase, event))
            if row is None:
                not_ready = _NOT_READY.get(self._phase)
                if not_ready is not None and event != "open":
                    raise not_ready(f"cannot {event} {self.name}: device is {self._phase.value}")
                raise IllegalTransition(self._phase.value, event)
            new_phase, hooks = row
            try:
                for hook in hooks:
                    getattr(self, hook)()
            except BaseException:
                if event == "close":
                    # A failing close still leaves the device closed: resources are gone.
                    self._set_phase(DevicePhase.CLOSED)
                raise
            if event == "open":
                self._error = False
            self._set_phase(new_phase)

    def _set_phase(self, phase: DevicePhase) -> None:
        self._phase = phase
        if phase is DevicePhase.CLOSED:
            self._busy = False
            self._error = False
        self._publish_state()

    def __enter__(self) -> Self:
        """Open, claim and enable; :meth:`close` on exit."""
        self.open()
        try:
            self.claim()
            self.enable()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the device."""
        self.close()

    # ---------------------------------------------------------------- operations

    def require_enabled(self) -> None:
        """Raise NotOpen / NotClaimed / Disabled unless the device is enabled."""
        not_ready = _NOT_READY.get(self._phase)
        if not_ready is not None:
            raise not_ready(f"{self.name} is {self._phase.value}; enable it first")

    @contextlib.contextmanager
    def _operation(self, name: str) -> Iterator[None]:
        """Run one device operation: check phase, mark BUSY, count, map faults to ERROR."""
        self.require_enabled()
        with self._op_lock:
            self._cancel.clear()
            self._busy = True
            self._publish_state()
            try:
                yield
            except DeviceFault as err:
                self._busy = False
                self._error = True
                self.statistics.increment(f"{name}.failed")
                self.statistics.record_error(err.code, err.message)
                self._publish_state()
                self._emit(
                    ErrorOccurred(
                        device=self.name,
                        operation=name,
                        code=err.code,
                        message=err.message,
                        action=err.recommended_action,
                    )
                )
                raise
            except (UserActionRequired, Cancelled) as err:
                self._busy = False
                outcome = "cancelled" if isinstance(err, Cancelled) else "needs_user"
                self.statistics.increment(f"{name}.{outcome}")
                self._publish_state()
                raise
            except BaseException:
                self._busy = False
                self._publish_state()
                raise
            self._busy = False
            self._error = False
            self.statistics.increment(f"{name}.ok")
            self._publish_state()

    def cancel(self) -> None:
        """Ask the running operation to stop waiting (for a card, a finger…); thread-safe.

        The operation raises :class:`~hardware.errors.Cancelled` at its next poll.
        Has no effect on an operation started later.
        """
        self._cancel.set()

    def _pause(self, seconds: float) -> None:
        """Poll wait for backends: raises Cancelled if cancel() was called, else sleeps on the clock."""
        if self._cancel.is_set():
            raise Cancelled(f"{self.name}: operation cancelled")
        self.clock.sleep(seconds)
        if self._cancel.is_set():
            raise Cancelled(f"{self.name}: operation cancelled")

    def recover(self) -> None:
        """Close and re-open the device, restoring the phase it was in (after an unplug).

        Raises the same errors as ``open()``/``enable()`` when the device is still gone.
        """
        with self._lifecycle_lock:
            target = self._phase
            self.close()
            steps = {
                DevicePhase.CLOSED: (),
                DevicePhase.OPEN: (self.open,),
                DevicePhase.CLAIMED: (self.open, self.claim),
                DevicePhase.ENABLED: (self.open, self.claim, self.enable),
            }[target]
            for step in steps:
                step()
        self.statistics.increment("recoveries")

    def direct_io(self, command: str, data: bytes = b"") -> bytes:
        """Vendor escape hatch (UPOS directIO): send a raw, backend-specific request.

        Backends list their commands in ``capabilities["direct_io"]``; others raise
        :class:`~hardware.errors.UnsupportedOperation`.
        """
        with self._operation("direct_io"):
            return self._direct_io(command, data)

    # -------------------------------------------------------------------- health

    def check_health(
        self,
        level: HealthLevel = HealthLevel.INTERNAL,
        *,
        prompt: PromptCallback | None = None,
    ) -> HealthResult:
        """Run a health check at ``level`` and return a structured result.

        Faults found by the check are reported in the result (``ok=False`` with a
        recommended action), not raised.  Unsupported levels raise
        :class:`~hardware.errors.UnsupportedOperation`; ``prompt`` receives prompt
        names during interactive checks.
        """
        if level not in self.supported_health_levels:
            raise UnsupportedOperation(f"{self.name} does not support {level.name} health checks")
        self.require_enabled()
        with self._op_lock:
            self._cancel.clear()
            self._busy = True
            self._publish_state()
            try:
                result = self._check_health(level, prompt or _no_prompt)
            except HardwareError as err:
                step = HealthStep(name=level.name.lower(), ok=False, detail=f"{err.code}: {err.message}")
                result = HealthResult(
                    ok=False,
                    text=f"failed: {err.code}",
                    level=level,
                    steps=(step,),
                    recommended_action=err.recommended_action,
                )
            finally:
                self._busy = False
            self._error = not result.ok
            self.check_health_text = result.text
            self.statistics.increment(f"health.{level.name.lower()}.{'ok' if result.ok else 'failed'}")
            self._publish_state()
            return result

    # -------------------------------------------------------------------- status

    def status(self) -> DeviceStatus:
        """The current state, availability and device-specific detail (cheap; no I/O)."""
        return DeviceStatus(
            state=self.state,
            phase=self._phase,
            availability=self._availability,
            detail=dict(self._detail),
        )

    @property
    def capabilities(self) -> Mapping[str, Any]:
        """Static capability descriptor of this backend (UPOS Cap* / XFS CAPABILITIES)."""
        return dict(self._capabilities())

    def info(self) -> dict[str, Any]:
        """Identity fields for diagnostics (model, serial, firmware, interface); no personal data."""
        return {"kind": self.kind, "name": self.name, **self._info()}

    def _update_status(self, *, availability: Availability | None = None, **detail: Any) -> None:
        """Backends call this when they observe a change; publishes only on change."""
        changed = False
        if availability is not None and availability is not self._availability:
            self._availability = availability
            changed = True
        for key, value in detail.items():
            if self._detail.get(key, _MISSING) != value:
                self._detail[key] = value
                changed = True
        if changed:
            snapshot = {"availability": self._availability.value, **self._detail}
            self._emit(StatusChanged(device=self.name, detail=snapshot))

    # -------------------------------------------------------------------- events

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        """Call ``callback`` for every event; returns a function that unsubscribes."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    @property
    def freeze_events(self) -> bool:
        """While True, events are queued instead of delivered (UPOS FreezeEvents)."""
        return self._frozen is not None

    @freeze_events.setter
    def freeze_events(self, frozen: bool) -> None:
        if frozen and self._frozen is None:
            self._frozen = []
        elif not frozen and self._frozen is not None:
            queued, self._frozen = self._frozen, None
            for event in queued:
                self._deliver(event)

    def _emit(self, event: DeviceEvent) -> None:
        if self._frozen is not None:
            self._frozen.append(event)
            return
        self._deliver(event)

    def _deliver(self, event: DeviceEvent) -> None:
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:
                # A broken subscriber must not break the device; it is a bug to fix there.
                _log.exception("event subscriber failed for %s", self.name)

    def _publish_state(self) -> None:
        state = self.state
        if state is not self._last_state:
            old, self._last_state = self._last_state, state
            self._emit(StateChanged(device=self.name, old=old, new=state))

    def prompt_user(self, name: str) -> None:
        """The application asked the person at the device to act (``place_card``) on its own screen:
        a simulator acts for them as it does for the driver's own prompts; a real device does nothing."""
        self._simulate_user(name)

    def _prompt(self, prompt: PromptCallback, name: str) -> None:
        """Ask the person at the device to act; simulators act themselves in ``_simulate_user``."""
        prompt(name)
        self._simulate_user(name)

    # ---------------------------------------------------------------- the hooks

    @abstractmethod
    def _open(self) -> None:
        """Open the port / start the simulator.  Raise NoHardware when absent."""

    @abstractmethod
    def _close(self) -> None:
        """Free everything ``_open`` acquired.  Must not raise for an already-dead port."""

    def _claim(self) -> None:  # noqa: B027 - optional hook
        """Take exclusive access (default: nothing to do)."""

    def _release(self) -> None:  # noqa: B027 - optional hook
        """Give up exclusive access (default: nothing to do)."""

    def _enable(self) -> None:  # noqa: B027 - optional hook
        """Bring the device to an operational state (default: nothing to do)."""

    def _disable(self) -> None:  # noqa: B027 - optional hook
        """Stop operations (default: nothing to do)."""

    @abstractmethod
    def _check_health(self, level: HealthLevel, prompt: PromptCallback) -> HealthResult:
        """Run the check for ``level`` (already validated)."""

    def _capabilities(self) -> Mapping[str, Any]:
        """Return the capability descriptor (default: none)."""
        return {}

    def _info(self) -> Mapping[str, Any]:
        """Return identity fields (default: none)."""
        return {}

    def _direct_io(self, command: str, data: bytes) -> bytes:
        """Backends override this to support raw vendor requests."""
        raise UnsupportedOperation(f"{self.name} has no direct I/O command {command!r}")

    def _simulate_user(self, prompt: str) -> None:  # noqa: B027 - optional hook
        """Simulators override this to perform the prompted action themselves."""


_MISSING = object()


def _no_prompt(name: str) -> None:
    """Default prompt callback: nobody to ask."""
