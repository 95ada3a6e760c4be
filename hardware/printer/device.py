"""The ticket-printer device class: :class:`TicketPrinter` (one ABC, ESC/POS backends).

Shared semantics live here: before every job the printer's real-time status is read (DLE EOT 1
and 4, plus 2 and 3 when it reports itself offline) and mapped through a table to a typed error
(:class:`~hardware.printer.errors.PaperOut`, ``CoverOpen`` …) so a job is never sent to a printer
that cannot print it; after the job the status is read again so "paper ran out on this slip" is
seen at once. Status changes are published as ``StatusChanged`` only when they change.

Health checks (hardware-protocols §4.3): INTERNAL = DLE EOT status; EXTERNAL = status plus a test
slip. Backends implement ``_query(n) -> status byte`` and ``_send(data)``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from hardware.clock import Clock
from hardware.device import Availability, DataEvent, Device, PromptCallback
from hardware.errors import DeviceStatusError, HardwareError
from hardware.health import HealthLevel, HealthResult, HealthStep, RecommendedAction
from hardware.printer import ticket
from hardware.printer.errors import CoverOpen, CutterError, PaperOut, PrinterOffline
from hardware.printer.status import PaperState, PrinterStatus
from hardware.stats import Statistics

__all__ = ["TicketPrinter"]

# Checked in order; the first matching condition decides the error (cover before paper: an open
# cover also trips the paper-end stop on many mechanisms).
_STATUS_ERRORS: tuple[
    tuple[Callable[[PrinterStatus], bool], int, Callable[[int], DeviceStatusError]], ...
] = (
    (lambda s: s.cover_open, 2, CoverOpen),
    (lambda s: s.paper is PaperState.OUT, 4, PaperOut),
    (lambda s: s.cutter_error or s.unrecoverable_error, 3, CutterError),
    (lambda s: not s.online, 1, PrinterOffline),
)


def _availability(status: PrinterStatus) -> Availability:
    if status.can_print:
        return Availability.ONLINE
    if status.cover_open or status.paper is PaperState.OUT:
        return Availability.USER_ERROR
    if status.cutter_error or status.unrecoverable_error:
        return Availability.HW_ERROR
    return Availability.OFFLINE


class TicketPrinter(Device):
    """An ESC/POS receipt printer that prints the kiosk's slips."""

    kind: ClassVar[str] = "printer"

    def __init__(
        self,
        *,
        style: ticket.TicketStyle | None = None,
        name: str | None = None,
        clock: Clock | None = None,
        statistics: Statistics | None = None,
    ) -> None:
        super().__init__(name=name, clock=clock, statistics=statistics)
        self.style = style or ticket.TicketStyle()
        self._jobs = 0

    # ---------------------------------------------------------------- public API

    def print_ticket(self, slip: ticket.QueueTicket) -> int:
        """Print a queue ticket; returns the job number."""
        return self.print_job(ticket.render_queue_ticket(slip, self.style), what="queue_ticket")

    def print_materials_notice(self, notice: ticket.MaterialsNotice) -> int:
        """Print the one-time materials notice; returns the job number."""
        return self.print_job(ticket.render_materials_notice(notice, self.style), what="materials_notice")

    def print_appointment(self, slip: ticket.AppointmentSlip) -> int:
        """Print an appointment confirmation; returns the job number."""
        return self.print_job(ticket.render_appointment(slip, self.style), what="appointment")

    def print_job(self, data: bytes, *, what: str = "job") -> int:
        """Check status, send raw ESC/POS ``data``, check status again; returns the job number.

        Raises a :class:`~hardware.errors.DeviceStatusError` subclass when the printer cannot
        print (nothing is sent) and ``ConnectionLost`` / ``DeviceTimeout`` when the link fails.
        """
        with self._operation("print"):
            self._raise_for(self._read_status())
            self._send(data)
            self._jobs += 1
            after = self._read_status()
            self.statistics.increment("tickets_printed")
            if after.paper is PaperState.OUT:
                self.statistics.increment("paper_out_events")
        self._emit(DataEvent(device=self.name, what=f"printed:{what}"))
        return self._jobs

    def query_status(self) -> PrinterStatus:
        """Read the real-time status (DLE EOT) without printing."""
        with self._operation("query_status"):
            return self._read_status()

    # ------------------------------------------------------------------ internals

    def _read_status(self) -> PrinterStatus:
        answers = {1: self._query(1), 4: self._query(4)}
        if answers[1] & 0x08:  # offline: ask why
            answers[2] = self._query(2)
            answers[3] = self._query(3)
        status = PrinterStatus.from_bytes(answers)
        self._update_status(availability=_availability(status), **status.to_dict())
        return status

    def _raise_for(self, status: PrinterStatus) -> None:
        raw = dict(status.raw)
        for applies, n, error in _STATUS_ERRORS:
            if applies(status):
                raise error(raw.get(n, 0))

    def _check_health(self, level: HealthLevel, prompt: PromptCallback) -> HealthResult:
        steps: list[HealthStep] = []
        action = RecommendedAction.RESET
        try:
            status = self._read_status()
        except HardwareError as err:
            steps.append(HealthStep("status", False, f"{err.code}: {err.message}"))
            return HealthResult.from_steps(level, steps, failure_action=err.recommended_action)
        detail = ", ".join(f"{k}={v}" for k, v in status.to_dict().items())
        steps.append(HealthStep("status", True, detail))
        try:
            self._raise_for(status)
            steps.append(HealthStep("ready", True, "can print"))
        except DeviceStatusError as err:
            steps.append(HealthStep("ready", False, err.meaning))
            return HealthResult.from_steps(level, steps, failure_action=err.recommended_action)
        if level is HealthLevel.EXTERNAL:
            try:
                self._send(ticket.render_test_page(datetime.now(UTC), self.style))
                self._raise_for(self._read_status())
                steps.append(HealthStep("test_page", True, "printed"))
                self.statistics.increment("tickets_printed")
            except HardwareError as err:
                action = err.recommended_action
                steps.append(HealthStep("test_page", False, f"{err.code}: {err.message}"))
        return HealthResult.from_steps(level, steps, failure_action=action)

    def _capabilities(self) -> Mapping[str, Any]:
        return {
            "native_qr": self.style.qr == "native",
            "encoding": self.style.encoding,
            "columns": self.style.columns,
            "cut": self.style.cut,
            "status": "dle_eot",
        }

    # ---------------------------------------------------------------- the hooks

    @abstractmethod
    def _query(self, n: int) -> int:
        """Send ``DLE EOT n`` and return the status byte (raise DeviceTimeout / ConnectionLost)."""

    @abstractmethod
    def _send(self, data: bytes) -> None:
        """Write raw bytes to the printer (raise ConnectionLost / DeviceTimeout)."""
