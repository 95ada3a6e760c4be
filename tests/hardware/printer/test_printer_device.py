"""The real ESC/POS driver against the TCP printer simulator: printing, status, faults, health."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from hardware import open_device
from hardware.clock import FakeClock
from hardware.device import Availability, DeviceEvent, DeviceState, StatusChanged
from hardware.errors import ConfigurationError, ConnectionLost, DeviceTimeout, NoHardware
from hardware.health import HealthLevel, RecommendedAction
from hardware.printer import preview, ticket
from hardware.printer.errors import CoverOpen, CutterError, PaperOut, PrinterOffline
from hardware.printer.escpos import EscPosPrinter, open_escpos_printer
from hardware.printer.sim import PrinterSimulator, SimPrinter
from hardware.printer.status import PaperState
from hardware.registry import parse_device_url
from hardware.stats import Statistics

TICKET = ticket.QueueTicket(
    office="静安寺街道",
    service="社会保障卡申领",
    number="A017",
    people_ahead=3,
    issued_at=datetime(2026, 11, 22, 9, 30),
    qr_content="https://office.example/q/A017",
)


@pytest.fixture(autouse=True)
def _no_simulator_threads_left() -> Iterator[None]:
    """Every test must stop the simulators it started."""
    yield
    assert not [t for t in threading.enumerate() if t.name == "printer-sim"]


def _open(url: str) -> SimPrinter:
    printer = open_device("printer", url, clock=FakeClock())
    assert isinstance(printer, SimPrinter)
    printer.open()
    printer.claim()
    printer.enable()
    return printer


def test_prints_a_ticket_byte_exact_and_writes_a_preview(tmp_path: Path) -> None:
    """The simulator receives exactly the layout's bytes and writes a PNG preview of the job."""
    printer = _open(f"sim://printer?preview_dir={tmp_path}")
    try:
        assert printer.print_ticket(TICKET) == 1
        job = printer.simulator.jobs[0]
        assert job.data == ticket.render_queue_ticket(TICKET)
        assert job.printed and job.preview is not None
        assert job.preview.read_bytes().startswith(b"\x89PNG")
        assert (tmp_path / "job-0001.bin").read_bytes() == job.data
        assert printer.statistics.get("tickets_printed") == 1
        assert printer.state is DeviceState.IDLE
    finally:
        printer.close()


def test_every_slip_kind_prints() -> None:
    """Notice and appointment slips print as separate jobs with increasing job numbers."""
    printer = _open("sim://printer?qr=image&encoding=gbk")
    try:
        notice = ticket.MaterialsNotice(
            "街道", "高龄津贴", ["身份证", "户口簿"], TICKET.issued_at, "5个工作日"
        )
        slip = ticket.AppointmentSlip(
            "街道", "居住证", TICKET.issued_at, TICKET.issued_at, "Q1", TICKET.issued_at, "https://x/a"
        )
        assert printer.print_materials_notice(notice) == 1
        assert printer.print_appointment(slip) == 2
        assert [j.data for j in printer.simulator.jobs] == [
            ticket.render_materials_notice(notice, printer.style),
            ticket.render_appointment(slip, printer.style),
        ]
        assert "户口簿".encode("gbk") in printer.simulator.jobs[0].data
    finally:
        printer.close()


def test_paper_runs_out_after_configured_jobs() -> None:
    """Paper goes near-end then out; the next job is refused with PaperOut and nothing is sent."""
    printer = _open("sim://printer?paper_jobs=3")
    events: list[DeviceEvent] = []
    printer.subscribe(events.append)
    try:
        printer.print_ticket(TICKET)
        assert printer.status().detail["paper"] == "near_end"
        printer.print_ticket(TICKET)
        printer.print_ticket(TICKET)
        assert printer.status().detail["paper"] == "out"
        with pytest.raises(PaperOut) as info:
            printer.print_ticket(TICKET)
        assert info.value.status == 0x72
        assert info.value.recommended_action is RecommendedAction.CLEAR_HW
        assert len(printer.simulator.jobs) == 3
        assert printer.state is DeviceState.ERROR
        assert printer.status().availability is Availability.USER_ERROR
        assert printer.statistics.get("paper_out_events") == 1
        papers = [e.detail["paper"] for e in events if isinstance(e, StatusChanged)]
        assert papers == ["ok", "near_end", "out"]
        printer.simulator.set_paper("ok")
        printer.print_ticket(TICKET)
        assert printer.status().state is DeviceState.IDLE
    finally:
        printer.close()


@pytest.mark.parametrize(
    ("url", "error", "status"),
    [
        ("sim://printer?cover=open", CoverOpen, 0x16),
        ("sim://printer?offline=1", PrinterOffline, 0x1A),
        ("sim://printer?fault=cutter", CutterError, 0x1A),
        ("sim://printer?paper=out", PaperOut, 0x72),
    ],
)
def test_status_faults_refuse_the_job(url: str, error: type[Exception], status: int) -> None:
    """Cover open, offline, cutter error and paper out each raise their own error; nothing prints."""
    printer = _open(url)
    try:
        with pytest.raises(error) as info:
            printer.print_ticket(TICKET)
        assert getattr(info.value, "status") == status  # noqa: B009
        assert printer.simulator.jobs == []
    finally:
        printer.close()


def test_near_end_still_prints() -> None:
    """Paper near end is reported but does not stop printing."""
    printer = _open("sim://printer?paper=near_end")
    try:
        assert printer.query_status().paper is PaperState.NEAR_END
        printer.print_ticket(TICKET)
        assert printer.simulator.jobs[0].printed
    finally:
        printer.close()


def test_unplug_mid_session_raises_connection_lost() -> None:
    """Unplugging the printer makes the next job fail with ConnectionLost (technician action)."""
    printer = _open("sim://printer")
    try:
        printer.print_ticket(TICKET)
        printer.simulator.unplug()
        with pytest.raises(ConnectionLost) as info:
            printer.print_ticket(TICKET)
        assert info.value.recommended_action is RecommendedAction.MAINTENANCE
        assert printer.state is DeviceState.ERROR
    finally:
        printer.close()


def test_stalled_printer_times_out() -> None:
    """A printer that never answers DLE EOT raises DeviceTimeout after the configured timeout."""
    printer = _open("sim://printer?fault=stall&timeout=0.2")
    try:
        with pytest.raises(DeviceTimeout):
            printer.query_status()
    finally:
        printer.close()


def test_health_checks() -> None:
    """INTERNAL reads status; EXTERNAL prints a test slip; a paper-out printer fails with CLEAR_HW."""
    printer = _open("sim://printer")
    try:
        internal = printer.check_health(HealthLevel.INTERNAL)
        assert internal.ok and [s.name for s in internal.steps] == ["status", "ready"]
        external = printer.check_health(HealthLevel.EXTERNAL)
        assert external.ok and external.steps[-1].name == "test_page"
        assert b"\x1d(k" in printer.simulator.jobs[-1].data
        printer.simulator.set_paper("out")
        failed = printer.check_health(HealthLevel.INTERNAL)
        assert not failed.ok and failed.recommended_action is RecommendedAction.CLEAR_HW
        assert failed.steps[-1].detail == "paper_out"
        with pytest.raises(Exception, match="does not support"):
            printer.check_health(HealthLevel.INTERACTIVE)
    finally:
        printer.close()


def test_health_check_reports_a_dead_link() -> None:
    """A health check on an unplugged printer returns a failed result instead of raising."""
    printer = _open("sim://printer")
    try:
        printer.simulator.unplug()
        result = printer.check_health(HealthLevel.INTERNAL)
        assert not result.ok and result.recommended_action is RecommendedAction.MAINTENANCE
    finally:
        printer.close()


def test_stream_split_across_writes_is_reassembled() -> None:
    """A job sent in arbitrary pieces, with status requests between them, is one job."""
    sim = PrinterSimulator()
    port = sim.start()
    try:
        data = ticket.render_queue_ticket(TICKET, ticket.TicketStyle(qr="image"))
        with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
            conn.sendall(b"\x10\x04\x01")
            assert conn.recv(1) == b"\x12"
            for start in range(0, len(data), 97):
                conn.sendall(data[start : start + 97])
            conn.sendall(b"\x10\x04\x04")
            assert conn.recv(1) == b"\x12"
        assert [j.data for j in sim.jobs] == [data]
        assert preview.render(sim.jobs[0].data).height > 500
    finally:
        sim.stop()


def test_garbage_is_discarded_and_counted() -> None:
    """Bytes that are not ESC/POS are dropped and counted, and the printer keeps answering."""
    sim = PrinterSimulator()
    port = sim.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
            conn.sendall(b"\x01\x02")
            conn.sendall(b"\x10\x04\x01")
            assert conn.recv(1) == b"\x12"
        assert sim.parse_errors == 2 and sim.jobs == []
    finally:
        sim.stop()


def test_tcp_backend_reports_missing_printer_as_no_hardware() -> None:
    """escpos+tcp to a port where nothing listens raises NoHardware on open."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    parts, params = parse_device_url(f"escpos+tcp://127.0.0.1:{port}?timeout=1")
    printer = open_escpos_printer(parts, params, clock=FakeClock(), statistics=Statistics())
    assert isinstance(printer, EscPosPrinter)
    with pytest.raises(NoHardware):
        printer.open()
    assert printer.info()["interface"] == "tcp"


@pytest.mark.parametrize("url", ["escpos+usb://0x0416:0x5011", "escpos+serial:///dev/ttyDOORSTEP-NONE"])
def test_absent_usb_and_serial_printers_are_no_hardware(url: str) -> None:
    """A USB printer that is not attached and a serial port that does not exist raise NoHardware."""
    parts, params = parse_device_url(url)
    printer = open_escpos_printer(parts, params, clock=FakeClock(), statistics=Statistics())
    with pytest.raises(NoHardware):
        printer.open()
    assert printer.state is DeviceState.CLOSED


@pytest.mark.parametrize(
    "url",
    [
        "escpos+usb://nonsense",
        "escpos+serial://",
        "escpos+tcp://:9100",
        "escpos+tcp://host:9100?encoding=klingon",
        "escpos+tcp://host:9100?qr=laser",
        "escpos+tcp://host:9100?cut=sideways",
        "escpos+tcp://host:9100?qr_size=40",
    ],
)
def test_bad_urls_are_configuration_errors(url: str) -> None:
    """Malformed printer URLs and parameters raise ConfigurationError at construction."""
    parts, params = parse_device_url(url)
    with pytest.raises(ConfigurationError):
        open_escpos_printer(parts, params, clock=FakeClock(), statistics=Statistics())


def test_backend_urls_build_the_right_transport() -> None:
    """USB and serial URLs build printers with their interface and address (without opening)."""
    for url, interface, address in [
        ("escpos+usb://0x0416:0x5011", "usb", "0416:5011"),
        ("escpos+serial:///dev/ttyUSB0?baud=19200", "serial", "/dev/ttyUSB0"),
    ]:
        parts, params = parse_device_url(url)
        printer = open_escpos_printer(parts, params, clock=FakeClock(), statistics=Statistics())
        assert printer.info() == {
            "kind": "printer",
            "name": "printer",
            "interface": interface,
            "address": address,
        }


@pytest.mark.parametrize(
    "url", ["sim://printer?paper=wet", "sim://printer?fault=fire", "sim://printer?timeout=x"]
)
def test_bad_sim_urls(url: str) -> None:
    """Unknown simulator parameters are configuration errors."""
    with pytest.raises(ConfigurationError):
        open_device("printer", url)


@pytest.mark.hardware
@pytest.mark.skipif(os.environ.get("DOORSTEP_REAL_HARDWARE") != "1", reason="needs DOORSTEP_REAL_HARDWARE=1")
def test_real_printer_status_and_test_slip() -> None:
    """A real printer (DOORSTEP_PRINTER_URL) answers DLE EOT and prints the EXTERNAL test slip."""
    url = os.environ.get("DOORSTEP_PRINTER_URL")
    if not url:
        pytest.fail("DOORSTEP_PRINTER_URL must name the printer (e.g. escpos+usb://0x0416:0x5011)")
    with open_device("printer", url) as printer:
        assert printer.check_health(HealthLevel.INTERNAL).ok
        assert printer.check_health(HealthLevel.EXTERNAL).ok
