"""The real ticket-printer backend over python-escpos: USB, serial or raw TCP (port 9100).

URLs (the query configures the slip style and timeouts)::

    escpos+usb://0x0416:0x5011?in_ep=0x82&out_ep=0x01
    escpos+serial:///dev/ttyUSB0?baud=9600
    escpos+tcp://192.168.1.50:9100?timeout=5&encoding=gb18030&qr=native&columns=48&cut=partial

python-escpos does the transport; this module maps its and the OS's errors onto the hardware
exception tree (absent device → ``NoHardware``, broken link → ``ConnectionLost``, no answer →
``DeviceTimeout``) and reads the DLE EOT answers. The printer simulator (``hardware.printer.sim``)
runs this same class against a loopback TCP server.
"""

from __future__ import annotations

import contextlib
import socket
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, Literal, cast

from escpos.escpos import Escpos
from escpos.exceptions import DeviceNotFoundError

from hardware.clock import Clock
from hardware.errors import ConfigurationError, ConnectionLost, DeviceTimeout, NoHardware
from hardware.printer import ticket
from hardware.printer.device import TicketPrinter
from hardware.printer.status import request
from hardware.stats import Statistics

__all__ = ["EscPosPrinter", "network_printer", "open_escpos_printer", "style_from_params"]

Transport = Literal["usb", "serial", "tcp"]


def style_from_params(params: Mapping[str, str]) -> ticket.TicketStyle:
    """Build the slip style from URL parameters (``encoding``, ``qr``, ``qr_size``, ``columns``, ``cut``, ``locale``)."""
    default = ticket.TicketStyle()
    encoding = params.get("encoding", default.encoding)
    try:
        "测试".encode(encoding)
    except LookupError as err:
        raise ConfigurationError(f"unknown printer encoding {encoding!r}") from err
    except UnicodeEncodeError:
        pass  # a non-CJK code page is allowed; Chinese then prints as '?'
    qr = params.get("qr", default.qr)
    cut = params.get("cut", default.cut)
    if qr not in ("native", "image"):
        raise ConfigurationError("qr must be 'native' or 'image'")
    if cut not in ("partial", "full", "none"):
        raise ConfigurationError("cut must be 'partial', 'full' or 'none'")
    try:
        columns = int(params.get("columns", default.columns))
        qr_size = int(params.get("qr_size", default.qr_size))
    except ValueError as err:
        raise ConfigurationError("columns and qr_size must be integers") from err
    if not 1 <= qr_size <= 16:
        raise ConfigurationError("qr_size must be 1..16")
    return ticket.TicketStyle(
        encoding=encoding,
        qr=cast(Literal["native", "image"], qr),
        qr_size=qr_size,
        columns=columns,
        cut=cast(Literal["partial", "full", "none"], cut),
        locale=params.get("locale", default.locale),
    )


class EscPosPrinter(TicketPrinter):
    """A printer driven through a python-escpos device object built by ``connect``."""

    def __init__(
        self,
        connect: Callable[[], Escpos],
        *,
        transport: Transport,
        address: str,
        style: ticket.TicketStyle | None = None,
        name: str | None = None,
        clock: Clock | None = None,
        statistics: Statistics | None = None,
    ) -> None:
        super().__init__(style=style, name=name, clock=clock, statistics=statistics)
        self._connect = connect
        self._transport: Transport = transport
        self._address = address
        self._device: Escpos | None = None

    def _open(self) -> None:
        try:
            device = self._connect()
            device.open()
        except RuntimeError as err:  # python-escpos: transport library (pyusb/pyserial) missing
            raise ConfigurationError(f"printer transport {self._transport} is not usable here") from err
        except (DeviceNotFoundError, OSError, ValueError) as err:  # ValueError: pyusb without libusb
            raise NoHardware(f"printer at {self._address} not found ({type(err).__name__})") from err
        self._device = device

    def _close(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            with contextlib.suppress(OSError):  # already gone
                device.close()

    def _require(self) -> Escpos:
        if self._device is None:
            raise ConnectionLost("printer connection is closed")
        return self._device

    def _send(self, data: bytes) -> None:
        device = self._require()
        try:
            device._raw(data)
        except TimeoutError as err:
            raise DeviceTimeout("printer did not accept data in time", timeout=self._timeout()) from err
        except OSError as err:
            raise ConnectionLost(f"printer link failed while sending ({type(err).__name__})") from err

    def _query(self, n: int) -> int:
        device = self._require()
        try:
            device._raw(request(n))
            answer = device._read()
        except TimeoutError as err:
            raise DeviceTimeout(f"no answer to DLE EOT {n}", timeout=self._timeout()) from err
        except OSError as err:
            raise ConnectionLost(f"printer link failed during DLE EOT {n} ({type(err).__name__})") from err
        if not answer:
            if self._transport == "tcp":
                raise ConnectionLost("printer closed the connection")
            raise DeviceTimeout(f"no answer to DLE EOT {n}", timeout=self._timeout())
        return int(answer[-1])

    def _timeout(self) -> float:
        return float(getattr(self._device, "timeout", 0) or 0)

    def _info(self) -> Mapping[str, Any]:
        return {"interface": self._transport, "address": self._address}


def network_printer(host: str, port: int, timeout: float) -> Escpos:
    """python-escpos ``Network`` whose ``open`` closes its socket when the connection fails.

    (python-escpos 3.1 drops the half-made socket without closing it, which leaks a file
    descriptor per failed attempt on a kiosk that retries forever.)
    """
    from escpos.printer import Network

    class _Network(Network):  # type: ignore[misc]
        def open(self, raise_not_found: bool = True) -> None:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            except OSError as err:
                raise DeviceNotFoundError(f"could not connect to {self.host}:{self.port}") from err
            # Status requests are 3 bytes: without NODELAY, Nagle + delayed ACK add ~40 ms each.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.device = sock

    return cast(Escpos, _Network(host, port=port, timeout=timeout))


def _usb_ids(netloc: str) -> tuple[int, int]:
    try:
        vendor, product = netloc.split(":")
        return int(vendor, 16), int(product, 16)
    except ValueError as err:
        raise ConfigurationError("USB printer URL must be escpos+usb://0xVID:0xPID") from err


def open_escpos_printer(
    url: urllib.parse.SplitResult,
    params: dict[str, str],
    *,
    clock: Clock,
    statistics: Statistics,
) -> EscPosPrinter:
    """Registry factory for ``escpos+usb://``, ``escpos+serial://`` and ``escpos+tcp://`` URLs."""
    style = style_from_params(params)
    try:
        timeout = float(params.get("timeout", "5"))
    except ValueError as err:
        raise ConfigurationError("timeout must be a number") from err
    transport = url.scheme.removeprefix("escpos+")
    connect: Callable[[], Escpos]
    if transport == "tcp":
        host = url.hostname or ""
        try:
            port = url.port or 9100
        except ValueError as err:
            raise ConfigurationError("bad TCP port in printer URL") from err
        if not host:
            raise ConfigurationError("TCP printer URL needs a host: escpos+tcp://HOST:9100")

        def connect() -> Escpos:
            return network_printer(host, port, timeout)

        address = f"{host}:{port}"
    elif transport == "serial":
        path = url.path
        if not path:
            raise ConfigurationError("serial printer URL needs a device path: escpos+serial:///dev/ttyUSB0")
        try:
            baud = int(params.get("baud", "9600"))
        except ValueError as err:
            raise ConfigurationError("baud must be an integer") from err
        from escpos.printer import Serial

        def connect() -> Escpos:
            return cast(Escpos, Serial(devfile=path, baudrate=baud, timeout=timeout))

        address = path
    elif transport == "usb":
        vendor, product = _usb_ids(url.netloc)
        in_ep = int(params.get("in_ep", "0x82"), 16)
        out_ep = int(params.get("out_ep", "0x01"), 16)
        from escpos.printer import Usb

        def connect() -> Escpos:
            return cast(Escpos, Usb(vendor, product, timeout=int(timeout * 1000), in_ep=in_ep, out_ep=out_ep))

        address = f"{vendor:04x}:{product:04x}"
    else:
        raise ConfigurationError(f"unknown printer transport {url.scheme!r}")
    return EscPosPrinter(
        connect,
        transport=cast(Transport, transport),
        address=address,
        style=style,
        clock=clock,
        statistics=statistics,
    )
