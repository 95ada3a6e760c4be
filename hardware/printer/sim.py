"""A protocol-faithful ticket-printer simulator: raw TCP "port 9100" on 127.0.0.1.

:class:`PrinterSimulator` listens on an ephemeral loopback port and behaves like a network
receipt printer (hardware-protocols §7.4): it parses the incoming ESC/POS stream with
:func:`hardware.printer.preview.parse`, answers every ``DLE EOT n`` at once with the status byte
its state dictates (0x12 online / paper OK, 0x1E near end, 0x72 paper out, 0x1A offline …),
treats each cut as the end of a job, keeps the jobs and, when a preview directory is set, writes
``job-NNNN.bin`` and ``job-NNNN.png`` for each. Faults: paper near end / out (also after a set
number of jobs), cover open, offline, cutter error, ``unplug`` (drops the connection and refuses
new ones) and ``stall`` (never answers).

:func:`open_sim_printer` is the registry factory for ``sim://printer?…``: it returns the real
:class:`~hardware.printer.escpos.EscPosPrinter` wired to a simulator it starts on ``open()`` and
stops on ``close()``, so tests exercise the real driver over a real socket.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from escpos.escpos import Escpos

from hardware.clock import Clock
from hardware.errors import ConfigurationError
from hardware.printer.errors import EscPosParseError
from hardware.printer.escpos import EscPosPrinter, network_printer, style_from_params
from hardware.printer.preview import parse, render_png
from hardware.printer.status import status_byte
from hardware.stats import Statistics

__all__ = ["PrinterSimulator", "SimJob", "SimPrinter", "open_sim_printer"]

_PAPER = ("ok", "near_end", "out")


@dataclass(frozen=True, slots=True)
class SimJob:
    """One job the simulator received (everything up to and including a cut)."""

    data: bytes
    printed: bool
    preview: Path | None = None


@dataclass
class _State:
    paper: str = "ok"
    cover_open: bool = False
    offline: bool = False
    cutter_error: bool = False
    stall: bool = False
    paper_jobs: int | None = None
    jobs: list[SimJob] = field(default_factory=list)
    parse_errors: int = 0


class PrinterSimulator:
    """The TCP printer. Thread-safe setters change its state while a driver is connected."""

    def __init__(
        self, *, preview_dir: Path | None = None, encoding: str = "gb18030", width: int = 576
    ) -> None:
        self.preview_dir = preview_dir
        self.encoding = encoding
        self.width = width
        self._state = _State()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._clients: list[socket.socket] = []
        self._buffers: dict[int, bytearray] = {}
        self._unplugged = False
        self._dropped = threading.Event()
        self.port = 0

    # ------------------------------------------------------------------ control

    def start(self) -> int:
        """Listen on 127.0.0.1 (ephemeral port) and serve in a thread; returns the port."""
        listener = socket.create_server(("127.0.0.1", 0))
        listener.setblocking(False)
        self._listener = listener
        self.port = int(listener.getsockname()[1])
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, name="printer-sim", daemon=True)
        self._thread.start()
        return self.port

    def stop(self) -> None:
        """Stop serving and close every socket; joins the thread."""
        if self._thread is None:
            return
        assert self._wake_w is not None
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        self._thread.join()
        self._thread = None
        for sock in (self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._wake_r = self._wake_w = None

    def set_paper(self, paper: str, *, after_jobs: int | None = None) -> None:
        """Set the paper sensor (``ok``, ``near_end``, ``out``); ``after_jobs`` runs out later."""
        if paper not in _PAPER:
            raise ValueError(f"paper must be one of {_PAPER}")
        with self._lock:
            self._state.paper = paper
            self._state.paper_jobs = after_jobs

    def set_cover_open(self, value: bool) -> None:
        """Open or close the cover."""
        with self._lock:
            self._state.cover_open = value

    def set_offline(self, value: bool) -> None:
        """Take the printer offline (no specific cause) or back online."""
        with self._lock:
            self._state.offline = value

    def set_cutter_error(self, value: bool) -> None:
        """Jam the auto-cutter."""
        with self._lock:
            self._state.cutter_error = value

    def set_stall(self, value: bool) -> None:
        """Stop answering anything (a hung printer)."""
        with self._lock:
            self._state.stall = value

    def unplug(self) -> None:
        """Drop every connection and refuse new ones until :meth:`replug`.

        Returns once the serving thread has dropped the connections, so the caller's next
        operation is guaranteed to see a dead link.
        """
        with self._lock:
            self._unplugged = True
            self._dropped.clear()
        if self._wake_w is not None and self._thread is not None:
            with contextlib.suppress(OSError):
                self._wake_w.send(b"u")
            self._dropped.wait(timeout=5.0)

    def replug(self) -> None:
        """Accept connections again."""
        with self._lock:
            self._unplugged = False

    @property
    def jobs(self) -> list[SimJob]:
        """Jobs received so far (printed or refused)."""
        with self._lock:
            return list(self._state.jobs)

    @property
    def parse_errors(self) -> int:
        """How many unparseable streams were discarded."""
        with self._lock:
            return self._state.parse_errors

    # ------------------------------------------------------------------ status

    def status_for(self, n: int) -> int:
        """The byte this printer answers to ``DLE EOT n`` in its current state."""
        with self._lock:
            s = self._state
            out = s.paper == "out"
            offline = s.offline or s.cover_open or out or s.cutter_error
            flags: dict[int, dict[str, bool]] = {
                1: {"offline": offline},
                2: {"cover_open": s.cover_open, "paper_end_stop": out, "error": s.cutter_error},
                3: {"cutter_error": s.cutter_error},
                4: {"paper_near_end": s.paper == "near_end", "paper_out": out},
            }
        return status_byte(n, **flags.get(n, {}))

    # ------------------------------------------------------------------ serving

    def _serve(self) -> None:
        assert self._listener is not None and self._wake_r is not None
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ, "accept")
        selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        try:
            while True:
                for key, _ in selector.select():
                    if key.data == "wake":
                        signal = self._wake_r.recv(64)
                        if b"x" in signal:
                            return
                        self._drop_clients(selector)
                        self._dropped.set()
                    elif key.data == "accept":
                        self._accept(selector)
                    else:
                        self._receive(selector, key.fileobj)  # type: ignore[arg-type]
        finally:
            self._drop_clients(selector)
            selector.close()
            self._listener.close()
            self._listener = None

    def _accept(self, selector: selectors.BaseSelector) -> None:
        assert self._listener is not None
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        with self._lock:
            unplugged = self._unplugged
        if unplugged:
            client.close()
            return
        client.setblocking(True)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._clients.append(client)
        self._buffers[client.fileno()] = bytearray()
        selector.register(client, selectors.EVENT_READ, "client")

    def _drop_clients(self, selector: selectors.BaseSelector) -> None:
        for client in self._clients:
            with contextlib.suppress(KeyError, ValueError):
                selector.unregister(client)
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            client.close()
        self._clients.clear()
        self._buffers.clear()

    def _receive(self, selector: selectors.BaseSelector, client: socket.socket) -> None:
        try:
            chunk = client.recv(65536)
        except OSError:
            chunk = b""
        if not chunk:
            self._finish_job(bytes(self._buffers.get(client.fileno(), b"")))
            selector.unregister(client)
            self._clients.remove(client)
            self._buffers.pop(client.fileno(), None)
            client.close()
            return
        buffer = self._buffers[client.fileno()]
        buffer += chunk
        self._process(client, buffer)

    def _process(self, client: socket.socket, buffer: bytearray) -> None:
        """Answer status requests, cut jobs at each cut, skip garbage, keep any unfinished tail."""
        data = bytes(buffer)
        pos = 0
        job = bytearray()
        while True:
            error: EscPosParseError | None = None
            try:
                commands = parse(data[pos:])
                limit = len(data)
            except EscPosParseError as err:
                error, limit = err, pos + err.offset
                commands = parse(data[pos:limit])
            for index, command in enumerate(commands):
                end = pos + commands[index + 1].offset if index + 1 < len(commands) else limit
                if command.name == "status_request":
                    self._answer(client, command.args[0])
                    continue
                job += data[pos + command.offset : end]
                if command.name == "cut":
                    self._finish_job(bytes(job))
                    job.clear()
            if error is None:
                buffer[:] = job
                return
            if error.reason == "truncated":
                buffer[:] = bytes(job) + data[limit:]
                return
            with self._lock:
                self._state.parse_errors += 1
            job.clear()
            pos = limit + 1

    def _answer(self, client: socket.socket, n: int) -> None:
        with self._lock:
            stalled = self._state.stall
        if not stalled:
            with contextlib.suppress(OSError):
                client.sendall(bytes((self.status_for(n),)))

    def _finish_job(self, data: bytes) -> None:
        if not data.strip(b"\x00"):
            return
        with self._lock:
            s = self._state
            printable = not (s.offline or s.cover_open or s.cutter_error or s.paper == "out")
            number = len(s.jobs) + 1
        preview: Path | None = None
        if printable and self.preview_dir is not None:
            self.preview_dir.mkdir(parents=True, exist_ok=True)
            stem = self.preview_dir / f"job-{number:04d}"
            stem.with_suffix(".bin").write_bytes(data)
            try:
                stem.with_suffix(".png").write_bytes(
                    render_png(data, width=self.width, encoding=self.encoding)
                )
                preview = stem.with_suffix(".png")
            except EscPosParseError:
                preview = None
        with self._lock:
            s.jobs.append(SimJob(data=data, printed=printable, preview=preview))
            if printable and s.paper_jobs is not None:
                s.paper_jobs -= 1
                if s.paper_jobs <= 0:
                    s.paper, s.paper_jobs = "out", None
                elif s.paper_jobs <= 2:
                    s.paper = "near_end"


class SimPrinter(EscPosPrinter):
    """The real ESC/POS driver, connected over TCP to a :class:`PrinterSimulator` it owns."""

    def __init__(self, simulator: PrinterSimulator, *, timeout: float, **kwargs: Any) -> None:
        self.simulator = simulator
        self._sim_timeout = timeout
        super().__init__(self._network, transport="tcp", address="sim", **kwargs)

    def _network(self) -> Escpos:
        return network_printer("127.0.0.1", self.simulator.port, self._sim_timeout)

    def _open(self) -> None:
        self.simulator.start()
        try:
            super()._open()
        except BaseException:
            self.simulator.stop()
            raise

    def _close(self) -> None:
        try:
            super()._close()
        finally:
            self.simulator.stop()

    def _simulate_user(self, prompt: str) -> None:
        if prompt == "load_paper":
            self.simulator.set_paper("ok")
        elif prompt == "close_cover":
            self.simulator.set_cover_open(False)


def open_sim_printer(
    url: urllib.parse.SplitResult,
    params: dict[str, str],
    *,
    clock: Clock,
    statistics: Statistics,
) -> SimPrinter:
    """Registry factory for ``sim://printer?paper=ok|near_end|out&cover=open&offline=1&fault=stall|cutter&…``.

    Also: ``paper_jobs=N`` (paper runs out after N jobs), ``preview_dir=/path`` (PNG per job),
    ``timeout`` (seconds, default 2) and the slip style parameters of
    :func:`~hardware.printer.escpos.style_from_params`.
    """
    style = style_from_params(params)
    preview = params.get("preview_dir")
    try:
        timeout = float(params.get("timeout", "2"))
        paper_jobs = int(params["paper_jobs"]) if "paper_jobs" in params else None
        width = int(params.get("width", "576"))
    except ValueError as err:
        raise ConfigurationError("timeout, paper_jobs and width must be numbers") from err
    simulator = PrinterSimulator(
        preview_dir=Path(preview) if preview else None, encoding=style.encoding, width=width
    )
    paper = params.get("paper", "ok")
    if paper not in _PAPER:
        raise ConfigurationError(f"paper must be one of {', '.join(_PAPER)}")
    simulator.set_paper(paper, after_jobs=paper_jobs)
    simulator.set_cover_open(params.get("cover") == "open")
    simulator.set_offline(params.get("offline") in ("1", "true", "yes"))
    faults = {f for f in params.get("fault", "").split(",") if f}
    unknown = faults - {"stall", "cutter", "unplug"}
    if unknown:
        raise ConfigurationError(f"unknown printer faults: {', '.join(sorted(unknown))}")
    simulator.set_stall("stall" in faults)
    simulator.set_cutter_error("cutter" in faults)
    if "unplug" in faults:
        simulator.unplug()
    return SimPrinter(simulator, timeout=timeout, style=style, clock=clock, statistics=statistics)
