"""R30x / AS608 UART fingerprint module driver over a pyserial-like port (spec §2).

:class:`R30xFingerprintScanner` is given a port factory, a clock, the module
address and password.  One method, :meth:`R30xFingerprintScanner.command`, sends a
command packet and returns the acknowledgement; confirmation codes become
exceptions through :data:`~hardware.fingerprint.codes.CONFIRMATION_TABLE`.  The
flows follow spec §2.5 (enrol: capture, convert, lift, capture, convert, merge,
store).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from hardware.clock import Clock
from hardware.device import Availability, PromptCallback
from hardware.errors import (
    ConfigurationError,
    ConnectionLost,
    DeviceTimeout,
    LineNoise,
    NotOpen,
    ProtocolError,
)
from hardware.fingerprint.codes import NO_FINGER, NO_MATCH, NOT_FOUND, OK, error_for_code
from hardware.fingerprint.errors import FingerNotDetected, FingerNotLifted, FingerprintStatusError
from hardware.fingerprint.packets import DEFAULT_ADDRESS, Instruction, Packet, PacketDecoder, Pid, split_data
from hardware.fingerprint.params import MatchResult, SearchResult, SystemParameters
from hardware.fingerprint.scanner import FingerprintScanner
from hardware.serial_link import PortFactory, SerialLink, serial_port_factory
from hardware.stats import Statistics

__all__ = ["DEFAULT_TIMEOUTS", "R30xFingerprintScanner", "open_serial_fingerprint_scanner"]

DEFAULT_TIMEOUTS: dict[int, float] = {
    Instruction.GEN_IMG: 2.0,
    Instruction.IMG2TZ: 2.0,
    Instruction.MATCH: 2.0,
    Instruction.SEARCH: 3.0,
    Instruction.REG_MODEL: 2.0,
    Instruction.STORE: 2.0,
    Instruction.EMPTY: 3.0,
}
"""Per-instruction reply timeouts in seconds (others: 1 s); libdriver waits 0.3-1 s."""

TEMPLATE_SIZE = 512
IMAGE_SIZE = 256 * 288 // 2
POLL_INTERVAL = 0.1


class R30xFingerprintScanner(FingerprintScanner):
    """A GROW-protocol module (R305/R307/R503/AS608/ZFM-20) on a serial port."""

    def __init__(
        self,
        port_factory: PortFactory,
        *,
        name: str | None = None,
        clock: Clock | None = None,
        statistics: Statistics | None = None,
        address: int = DEFAULT_ADDRESS,
        password: int = 0,
        timeout_scale: float = 1.0,
        interface: str = "serial",
    ) -> None:
        super().__init__(name=name, clock=clock, statistics=statistics)
        self._port_factory = port_factory
        self._link: SerialLink | None = None
        self.address = address
        self._password = password
        self.timeout_scale = timeout_scale
        """Multiplier applied to every reply timeout."""
        self._interface = interface
        self._params: SystemParameters | None = None
        self.poll_interval = POLL_INTERVAL
        self._update_status(finger="unknown")

    # ------------------------------------------------------------- lifecycle hooks

    def _open(self) -> None:
        self._link = SerialLink(self._port_factory())
        self._update_status(availability=Availability.ONLINE)

    def _close(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            link.close()
        self._update_status(availability=Availability.UNKNOWN)

    def _enable(self) -> None:
        self._verify_password()
        self._params = self._read_system_parameters()

    # ------------------------------------------------------------------ transport

    def command(self, instruction: int, params: bytes = b"") -> tuple[int, bytes]:
        """Send one command; return ``(confirmation code, data)`` of the acknowledgement."""
        link = self._require_link()
        try:
            link.discard_input()
            link.write(bytes(Packet.command(instruction, params, self.address)))
            packet = self._read_packet(self._timeout(instruction), _name(instruction))
        except ProtocolError:
            self.statistics.increment("protocol_errors")
            raise
        except ConnectionLost:
            self._update_status(availability=Availability.NO_DEVICE)
            raise
        if packet.pid != Pid.ACK or not packet.payload:
            self.statistics.increment("protocol_errors")
            raise ProtocolError(f"{_name(instruction)}: expected an acknowledgement", reason="pid")
        if packet.address != self.address:
            self.statistics.increment("protocol_errors")
            raise ProtocolError(f"{_name(instruction)}: reply from another address", reason="address")
        self._update_status(availability=Availability.ONLINE)
        return packet.payload[0], packet.payload[1:]

    def _require_link(self) -> SerialLink:
        if self._link is None:
            raise NotOpen(f"{self.name} is not open")
        return self._link

    def _timeout(self, instruction: int) -> float:
        return DEFAULT_TIMEOUTS.get(instruction, 1.0) * self.timeout_scale

    def _read_packet(self, timeout: float, name: str) -> Packet:
        link = self._require_link()
        decoder = PacketDecoder()
        deadline = self.clock.monotonic() + timeout
        try:
            while (packet := decoder.next_packet()) is None:
                remaining = deadline - self.clock.monotonic()
                chunk = link.read(decoder.bytes_wanted(), remaining) if remaining > 0 else b""
                if not chunk:
                    if decoder.discarded and not decoder.buffered:
                        raise LineNoise(
                            f"{name}: {decoder.discarded} bytes of line noise, no packet (baud rate?)",
                            discarded=decoder.discarded,
                        )
                    raise DeviceTimeout(
                        f"{name}: no complete reply within {timeout:.2f} s",
                        timeout=timeout,
                        received=decoder.buffered,
                    )
                decoder.feed(chunk)
        except ConnectionLost:
            self._update_status(availability=Availability.NO_DEVICE)
            raise
        except DeviceTimeout:
            self.statistics.increment("timeouts")
            self._update_status(availability=Availability.OFFLINE)
            raise
        return packet

    def _expect(
        self, instruction: int, params: bytes = b"", ok: tuple[int, ...] = (OK,)
    ) -> tuple[int, bytes]:
        code, data = self.command(instruction, params)
        if code not in ok:
            self.statistics.increment(f"code.{code:02X}")
            raise error_for_code(code, _name(instruction))
        return code, data

    def _receive_data(self, name: str) -> bytes:
        """Collect data packets (PID 02…08) after an upload acknowledgement."""
        chunks: list[bytes] = []
        while True:
            packet = self._read_packet(self._timeout(Instruction.UP_CHAR), name)
            if packet.pid not in (Pid.DATA, Pid.END):
                raise ProtocolError(f"{name}: expected a data packet", reason="pid")
            chunks.append(packet.payload)
            if packet.pid == Pid.END:
                return b"".join(chunks)

    # ------------------------------------------------------------- capture flows

    def _capture(self, timeout: float, prompt: PromptCallback, prompt_name: str = "place_finger") -> None:
        """GenImg until a finger image is taken (02 = no finger yet), then Img2Tz needs it."""
        self._prompt(prompt, prompt_name)
        deadline = self.clock.monotonic() + timeout
        while True:
            code, _ = self._expect(Instruction.GEN_IMG, ok=(OK, NO_FINGER))
            if code == OK:
                self._update_status(finger="present")
                return
            self._update_status(finger="absent")
            if self.clock.monotonic() >= deadline:
                raise FingerNotDetected("no finger placed on the sensor in time", status=NO_FINGER)
            self._pause(self.poll_interval)

    def _wait_lift(self, timeout: float, prompt: PromptCallback) -> None:
        self._prompt(prompt, "lift_finger")
        deadline = self.clock.monotonic() + timeout
        while True:
            code, _ = self._expect(Instruction.GEN_IMG, ok=(OK, NO_FINGER))
            if code == NO_FINGER:
                self._update_status(finger="absent")
                return
            if self.clock.monotonic() >= deadline:
                raise FingerNotLifted("the finger stayed on the sensor")
            self._pause(self.poll_interval)

    def _to_buffer(self, buffer: int) -> None:
        self._expect(Instruction.IMG2TZ, bytes([buffer]))

    def _match(self) -> MatchResult:
        code, data = self._expect(Instruction.MATCH, ok=(OK, NO_MATCH))
        score = int.from_bytes(data[:2], "big") if len(data) >= 2 else 0
        return MatchResult(matched=code == OK, score=score)

    # -------------------------------------------------------------------- hooks

    def _enroll(self, slot: int | None, timeout: float, prompt: PromptCallback) -> int:
        target = self._first_free_slot() if slot is None else slot
        self._capture(timeout, prompt)
        self._to_buffer(1)
        self._wait_lift(timeout, prompt)
        self._capture(timeout, prompt, "place_finger_again")
        self._to_buffer(2)
        self._expect(Instruction.REG_MODEL)
        self._expect(Instruction.STORE, bytes([1]) + target.to_bytes(2, "big"))
        self._prompt(prompt, "lift_finger")
        return target

    def _verify(self, slot: int, timeout: float, prompt: PromptCallback) -> MatchResult:
        self._capture(timeout, prompt)
        self._to_buffer(1)
        self._expect(Instruction.LOAD_CHAR, bytes([2]) + slot.to_bytes(2, "big"))
        result = self._match()
        self._prompt(prompt, "lift_finger")
        return result

    def _verify_template(self, template: bytes, timeout: float, prompt: PromptCallback) -> MatchResult:
        if len(template) != TEMPLATE_SIZE:
            raise ConfigurationError(f"a template is {TEMPLATE_SIZE} bytes, got {len(template)}")
        self._capture(timeout, prompt)
        self._to_buffer(1)
        self._expect(Instruction.DOWN_CHAR, bytes([2]))
        link = self._require_link()
        for packet in split_data(template, self._packet_size(), self.address):
            link.write(bytes(packet))
        result = self._match()
        self._prompt(prompt, "lift_finger")
        return result

    def _search(self, start: int, count: int | None, timeout: float, prompt: PromptCallback) -> SearchResult:
        span = count if count is not None else self._capacity() - start
        self._capture(timeout, prompt)
        self._to_buffer(1)
        params = bytes([1]) + start.to_bytes(2, "big") + span.to_bytes(2, "big")
        code, data = self._expect(Instruction.SEARCH, params, ok=(OK, NOT_FOUND))
        self._prompt(prompt, "lift_finger")
        if code == NOT_FOUND or len(data) < 4:
            return SearchResult(slot=None, score=0)
        return SearchResult(slot=int.from_bytes(data[:2], "big"), score=int.from_bytes(data[2:4], "big"))

    def _delete(self, slot: int, count: int) -> None:
        self._expect(Instruction.DELETE_CHAR, slot.to_bytes(2, "big") + count.to_bytes(2, "big"))

    def _clear_library(self) -> None:
        self._expect(Instruction.EMPTY)

    def _count(self) -> int:
        _, data = self._expect(Instruction.TEMPLATE_NUM)
        if len(data) != 2:
            raise ProtocolError("template count reply is not 2 bytes", reason="length")
        return int.from_bytes(data, "big")

    def _read_system_parameters(self) -> SystemParameters:
        _, data = self._expect(Instruction.READ_SYS_PARA)
        params = SystemParameters.parse(data)
        self._params = params
        return params

    def _verify_password(self) -> None:
        self._expect(Instruction.VFY_PWD, self._password.to_bytes(4, "big"))

    def _set_password(self, password: int) -> None:
        self._expect(Instruction.SET_PWD, password.to_bytes(4, "big"))
        self._password = password

    def _download_template(self, slot: int) -> bytes:
        self._expect(Instruction.LOAD_CHAR, bytes([1]) + slot.to_bytes(2, "big"))
        self._expect(Instruction.UP_CHAR, bytes([1]))
        return self._receive_data("upload_template")

    def _capture_image(self, timeout: float, prompt: PromptCallback) -> bytes:
        self._capture(timeout, prompt)
        self._expect(Instruction.UP_IMAGE)
        image = self._receive_data("upload_image")
        self._prompt(prompt, "lift_finger")
        if len(image) != IMAGE_SIZE:
            raise ProtocolError(f"image is {len(image)} bytes, expected {IMAGE_SIZE}", reason="length")
        return image

    def _sensor_idle(self) -> str:
        code, _ = self._expect(Instruction.GEN_IMG, ok=(OK, NO_FINGER))
        if code == OK:
            raise FingerprintStatusError(
                "sensor reports a finger while nobody should touch it (dirty sensor?)",
                status=OK,
                meaning="unexpected image",
            )
        return "no finger, as expected"

    def _interactive_capture(self, prompt: PromptCallback) -> str:
        self._capture(self.capture_timeout, prompt)
        self._to_buffer(1)
        self._prompt(prompt, "lift_finger")
        return "finger captured and converted"

    # ------------------------------------------------------------------ helpers

    def _capacity(self) -> int:
        return (self._params or self._read_system_parameters()).capacity

    def _packet_size(self) -> int:
        return (self._params or self._read_system_parameters()).packet_size

    def _first_free_slot(self) -> int:
        capacity = self._capacity()
        for page in range(4):
            _, bitmap = self._expect(Instruction.READ_INDEX_TABLE, bytes([page]))
            for index, byte in enumerate(bitmap):
                for bit in range(8):
                    slot = page * 256 + index * 8 + bit
                    if slot < capacity and not byte >> bit & 1:
                        return slot
        raise error_for_code(0x1F, "enroll")

    def _capabilities(self) -> Mapping[str, Any]:
        return {**super()._capabilities(), "direct_io": ["grow_command"]}

    def _direct_io(self, command: str, data: bytes) -> bytes:
        """``grow_command``: ``data`` = instruction + parameters; returns code + ack data."""
        if command != "grow_command" or not data:
            return super()._direct_io(command, data)
        code, reply = self.command(data[0], data[1:])
        return bytes([code]) + reply

    def _info(self) -> Mapping[str, Any]:
        params = self._params.to_dict() if self._params else {}
        return {"interface": self._interface, **params}


def _name(instruction: int) -> str:
    try:
        return Instruction(instruction).name.lower()
    except ValueError:
        return f"instruction 0x{instruction:02X}"


def open_serial_fingerprint_scanner(
    url: urllib.parse.SplitResult,
    params: dict[str, str],
    *,
    clock: Clock,
    statistics: Statistics,
) -> R30xFingerprintScanner:
    """Registry factory for ``serial:///dev/ttyS1?baud=57600&address=0xFFFFFFFF&password=0``."""
    path = url.path or url.netloc
    if not path:
        raise ConfigurationError("serial fingerprint URL needs a device path, e.g. serial:///dev/ttyS1")
    try:
        baud = int(params.get("baud", "57600"))
        address = int(params.get("address", "0xFFFFFFFF"), 0)
        password = int(params.get("password", "0"), 0)
        scale = float(params.get("timeout_scale", "1"))
    except ValueError as err:
        raise ConfigurationError("baud, address, password and timeout_scale must be numbers") from err
    return R30xFingerprintScanner(
        serial_port_factory(path, baudrate=baud),
        clock=clock,
        statistics=statistics,
        address=address,
        password=password,
        timeout_scale=scale,
    )
