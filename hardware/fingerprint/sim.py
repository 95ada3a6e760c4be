"""An R30x fingerprint module simulator that speaks the real protocol (spec §7.2).

:class:`FingerprintSimulatorCore` is pure (bytes in, replies out) and models a
sensor (finger present, identity, image quality), two character buffers, a
template library, system parameters, address and password checks, data-packet
transfers and the faults of §7.2.  :class:`SimFingerprintScanner` is the real
:class:`~hardware.fingerprint.driver.R30xFingerprintScanner` talking to it over a
real pseudo-terminal.

URL: ``sim://fingerprint?finger=resident-1&enrolled=resident-1@0&quality=good&fault=…``
``&latency=0.1&user=auto|none&packet_size=128&capacity=200`` (with ``user=auto`` the simulated resident follows
the prompts: places and lifts the configured finger).
"""

from __future__ import annotations

import hashlib
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Mapping

from hardware.clock import Clock
from hardware.errors import ConfigurationError, ProtocolError
from hardware.fingerprint.driver import R30xFingerprintScanner
from hardware.fingerprint.packets import DEFAULT_ADDRESS, Instruction, Packet, PacketDecoder, Pid, split_data
from hardware.fingerprint.params import PACKET_SIZES, SystemParameters
from hardware.pty import HANGUP, Hangup, PtyServedDevice, Reply, no_port
from hardware.stats import Statistics

__all__ = [
    "FAULTS",
    "QUALITY_CODES",
    "REALISTIC_LATENCY",
    "FingerprintSimulatorCore",
    "SimFingerprintScanner",
    "open_sim_fingerprint_scanner",
    "sim_template",
]

REALISTIC_LATENCY: dict[int, float] = {
    Instruction.GEN_IMG: 0.5,
    Instruction.IMG2TZ: 0.4,
    Instruction.MATCH: 0.3,
    Instruction.SEARCH: 0.3,
    Instruction.REG_MODEL: 0.3,
    Instruction.STORE: 0.1,
}
"""Per-instruction latency (libdriver host waits); other instructions take 50 ms."""

QUALITY_CODES: dict[str, int] = {"good": 0x00, "dry": 0x04, "wet": 0x05, "messy": 0x06, "few-features": 0x07}
"""Image quality → confirmation code of Img2Tz."""

FAULTS: dict[str, str] = {
    "unplugged": "the device disappears at the next command",
    "timeout": "the module never answers",
    "bad-checksum": "replies carry a wrong checksum",
    "wrong-baud": "replies arrive as line noise",
    "imaging-fault": "GenImg answers 0x03 (image capture failed)",
    "flash-error": "Store answers 0x18 (flash read/write error)",
    "library-full": "Store answers 0x1F (library full)",
    "delete-failed": "DeleteChar answers 0x10",
}
"""Injectable faults and what they do."""

TEMPLATE_SIZE = 512
IMAGE_SIZE = 256 * 288 // 2
_DEFAULT_LATENCY = 0.05


def sim_template(finger: str, variant: int = 0) -> bytes:
    """A 512-byte simulated template: identity digest of ``finger`` plus per-capture noise."""
    identity = hashlib.sha256(f"finger:{finger}".encode()).digest()[:16]
    noise = bytearray()
    while len(noise) < TEMPLATE_SIZE - 20:
        noise += hashlib.sha256(f"{finger}:{variant}:{len(noise)}".encode()).digest()
    return b"FPT1" + identity + bytes(noise[: TEMPLATE_SIZE - 20])


def _identity(template: bytes) -> bytes:
    return template[4:20]


def _score(a: bytes, b: bytes) -> int:
    if _identity(a) != _identity(b):
        return hashlib.sha256(a[:20] + b[:20]).digest()[0] % 30
    return 120 + hashlib.sha256(a[20:52] + b[20:52]).digest()[0] % 80


class FingerprintSimulatorCore:
    """The module's behaviour, with no I/O.  Control methods are thread-safe."""

    def __init__(
        self,
        *,
        capacity: int = 200,
        address: int = DEFAULT_ADDRESS,
        password: int = 0,
        packet_size_code: int = 2,
        baud: int = 57600,
        latency: float | Mapping[int, float] | None = None,
        faults: Iterable[str] = (),
        library: Mapping[int, bytes] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._decoder = PacketDecoder()
        self.capacity = capacity
        self.address = address
        self.password = password
        self._verified = password == 0
        self.params = SystemParameters(0, 0, capacity, 3, address, packet_size_code, baud // 9600)
        self.baud = baud
        self._wire = latency is None
        self._latency: Mapping[int, float]
        if latency is None:
            self._latency = REALISTIC_LATENCY
            self._default_latency = _DEFAULT_LATENCY
        elif isinstance(latency, Mapping):
            self._latency, self._default_latency = dict(latency), _DEFAULT_LATENCY
        else:
            self._latency, self._default_latency = {}, float(latency)
        self.finger: str | None = None
        self.quality = "good"
        self._captures = 0
        self._image: str | None = None
        self._buffers: dict[int, bytes | None] = {1: None, 2: None}
        self.library: dict[int, bytes] = dict(library or {})
        self._faults: dict[str, bool] = {}
        for name in faults:
            self.set_fault(name)
        self._download: tuple[int, bytearray] | None = None
        self.instructions: list[int] = []
        """Every well-formed command instruction received (for tests)."""

    # ------------------------------------------------------------------ control

    def place_finger(self, finger: str, quality: str = "good") -> None:
        """Put ``finger`` on the sensor with image ``quality`` (see :data:`QUALITY_CODES`)."""
        if quality not in QUALITY_CODES:
            raise ConfigurationError(f"unknown quality {quality!r}; known: {', '.join(QUALITY_CODES)}")
        with self._lock:
            self.finger, self.quality = finger, quality

    def lift_finger(self) -> None:
        """Take the finger off the sensor."""
        with self._lock:
            self.finger = None

    def set_fault(self, name: str, *, once: bool = False) -> None:
        """Inject fault ``name`` (see :data:`FAULTS`); ``once`` clears it after one use."""
        if name not in FAULTS:
            raise ConfigurationError(f"unknown fingerprint fault {name!r}; known: {', '.join(FAULTS)}")
        with self._lock:
            self._faults[name] = once

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        with self._lock:
            self._faults.clear()

    def expected_latency(self, instruction: int, reply_size: int) -> float:
        """Configured device latency for ``instruction``, with wire time when the profile has it."""
        delay = self._latency.get(instruction, self._default_latency)
        return delay + (reply_size * 10 / self.baud if self._wire else 0.0)

    # ----------------------------------------------------------------- protocol

    def receive(self, data: bytes) -> list[Reply | Hangup]:
        """Consume host bytes; return the replies to send."""
        with self._lock:
            self._decoder.feed(data)
            out: list[Reply | Hangup] = []
            while True:
                try:
                    packet = self._decoder.next_packet()
                except ProtocolError:
                    out.extend(self._send(0, [Packet.ack(0x01, address=self.address)]))
                    continue
                if packet is None:
                    return out
                out.extend(self._handle(packet))

    def _take(self, name: str) -> bool:
        if name not in self._faults:
            return False
        if self._faults[name]:
            del self._faults[name]
        return True

    def _handle(self, packet: Packet) -> list[Reply | Hangup]:
        if packet.pid in (Pid.DATA, Pid.END):
            return self._download_chunk(packet)
        if packet.pid != Pid.COMMAND or not packet.payload:
            return self._send(0, [Packet.ack(0x01, address=self.address)])
        instruction, params = packet.payload[0], packet.payload[1:]
        self.instructions.append(instruction)
        if self._take("unplugged"):
            return [HANGUP]
        if self._take("timeout"):
            return []
        if packet.address != self.address:
            return self._send(instruction, [Packet.ack(0x20, address=packet.address)])
        if not self._verified and instruction != Instruction.VFY_PWD:
            return self._send(instruction, [Packet.ack(0x21, address=self.address)])
        code, data, extra = self._execute(instruction, params)
        packets = [Packet.ack(code, data, self.address), *extra]
        return self._send(instruction, packets)

    def _send(self, instruction: int, packets: list[Packet]) -> list[Reply | Hangup]:
        wire = b"".join(bytes(p) for p in packets)
        if self._take("bad-checksum"):
            first = bytes(packets[0])
            wire = first[:-1] + bytes([first[-1] ^ 0xFF]) + wire[len(first) :]
        if self._take("wrong-baud"):
            wire = bytes(0x3C if i % 2 else 0xC3 for i in range(len(wire)))
        return [Reply(wire, delay=self.expected_latency(instruction, len(wire)))]

    def _execute(self, instruction: int, params: bytes) -> tuple[int, bytes, list[Packet]]:
        handler = _HANDLERS.get(instruction)
        if handler is None:
            return 0x01, b"", []
        try:
            return handler(self, params)
        except (IndexError, ValueError):
            return 0x01, b"", []

    # -------------------------------------------------------------- instructions

    def _gen_img(self, params: bytes) -> tuple[int, bytes, list[Packet]]:
        if self._take("imaging-fault"):
            return 0x03, b"", []
        if self.finger is None:
            return 0x02, b"", []
        self._image = self.finger
        return 0x00, b"", []

    def _img2tz(self, params: bytes) -> tuple[int, bytes, list[Packet]]:
        buffer = params[0]
        if buffer not in self._buffers:
            return 0x01, b"", []
        if self._image is None:
            return 0x15, b"", []
        code = QUALITY_CODES[self.quality]
        if code:
            return code, b"", []
        self._captures += 1
        self._buffers[buffer] = sim_template(self._image, self._captures)
        return 0x00, b"", []

    def _match(self, params: bytes) -> tuple[int, bytes, list[Packet]]:
        a, b = self._buffers[1], self._buffers[2]
        if a is None or b is None:
            return 0x0C, b"", []
        score = _score(a, b)
        return (0x00 if _identity(a) == _identity(b) else 0x08), score.to_bytes(2, "big"), []

    def _search(self, params: bytes) -> tuple[int, bytes, list[Packet]]:
        probe = self._buffers.get(params[0])
        start, count = int.from_bytes(params[1:3], "big"), int.from_bytes(params[3:5], "big")
        if probe is None:
            return 0x0C, b"", []
        for slot in sorted(self.library):
            if start <= slot < start + count and _identity(self.library[slot]) == _identity(probe):
                return (
                    0x00,
                    slot.to_bytes(2, "big") + _score(probe, self.library[slot]).to_bytes(2, "big"),
                    [],
                )
        return 0x09, bytes(4), []

    def _reg_model(self, params: bytes) -> tuple[int, bytes, list[Packet]]:
        a, b = self._buffers[1], self._buffers[2]
        if a is None or b is None or _identity(a) != _identity(b):
            return 0x0A, b"", []
        self._buffers[1] = self._buffers[2] = a
        return 0x00, b"", []

    def _store(self, params: bytes) -> tuple[int, bytes, list[Packet]]:
        template, slot = self._buffers.get(params[0]), int.from_bytes(params[1:3], "big")
        if slot >= self.capacity:
            return 0x0B, b"", []
        if self._take("flash-error"):
            return 0x18, b"", []
        if self._take("library-full"):
            return 0x1F, b"", []
        if template is None:
            return 0x0C, b"", []
        self.library[slot] = template
        return 0x00, b"", []

    def _load_char(self, params: bytes) -> tuple[int, bytes, list[Packet]]:
        buffer, slot = params[0], int.from_bytes(params[1:3], "big")
        if slot >= self.capacity or buffer not in self._buffers:
            return 0x0B, b"", []
        if slot not in self.library:
            return 0x0C, b"", []
        self._buffers[buffer] = self.library[slot]
        return 0x00, b"", []

    def _up_char(self, params: bytes) -> tuple[int, bytes, list[Packet]]:
        template = self._buffers.get(params[0])
        if template is None:
            return 0x0D, b"", []
        return 0x00, b"", split_data(template, self.params.packet_size, self.address)

    def _down_char(self, params: bytes) -> tuple[int, bytes, list[Packet]]:
        if params[0] not in self._buffers:
            return 0x0E, b"", []
        self._download = (params[0], bytearray())
        return 0x00, b"", []

    def _download_chunk(self, packet: Packet) -> list[Reply | Hangup]:
        if self._download is None:
            return []  # stray data packet: real modules ignore it
        buffer, data = self._download
        data += packet.payload
        if packet.pid == Pid.END:
            self._buffers[buffer] = bytes(data) if len(data) == TEMPLATE_SIZE else None
            self._download = None
        return []

    def _up_image(self, params: bytes) -> tuple[int, bytes, list[Packet]]:
        if self._image is None:
            return 0x0F, b"", []
        pixels = hashlib.sha256(self._image.encode()).digest() * (IMAGE_SIZE // 32)
        return 0x00, b"", split_data(pixels, self.params.packet_size, self.address)

    def _delete_char(self, params: bytes) -> tuple[int, bytes, list[Packet]]:
        slot, count = int.from_bytes(params[0:2], "big"), int.from_bytes(params[2:4], "big")
        if slot + count > self.capacity:
            return 0x0B, b"", []
        if self._take("delete-failed"):
            return 0x10, b"", []
        for page in range(slot, slot + count):
            self.library.pop(page, None)
        return 0x00, b"", []

    def _empty(self, params: bytes) -> tuple[int, bytes, list[Packet]]:
        self.library.clear()
        return 0x00, b"", []

    def _read_sys_para(self, params: bytes) -> tuple[int, bytes, list[Packet]]:
        return 0x00, bytes(self.params), []

    def _set_pwd(self, params: bytes) -> tuple[int, bytes, list[Packet]]:
        self.password = int.from_bytes(params[:4], "big")
        return 0x00, b"", []

    def _vfy_pwd(self, params: bytes) -> tuple[int, bytes, list[Packet]]:
        if int.from_bytes(params[:4], "big") != self.password:
            return 0x13, b"", []
        self._verified = True
        return 0x00, b"", []

    def _template_num(self, params: bytes) -> tuple[int, bytes, list[Packet]]:
        return 0x00, len(self.library).to_bytes(2, "big"), []

    def _read_index_table(self, params: bytes) -> tuple[int, bytes, list[Packet]]:
        page = params[0]
        bitmap = bytearray(32)
        for slot in self.library:
            if page * 256 <= slot < (page + 1) * 256:
                offset = slot - page * 256
                bitmap[offset // 8] |= 1 << (offset % 8)
        return 0x00, bytes(bitmap), []


_Handler = Callable[[FingerprintSimulatorCore, bytes], tuple[int, bytes, list[Packet]]]

_HANDLERS: dict[int, _Handler] = {
    Instruction.GEN_IMG: FingerprintSimulatorCore._gen_img,
    Instruction.IMG2TZ: FingerprintSimulatorCore._img2tz,
    Instruction.MATCH: FingerprintSimulatorCore._match,
    Instruction.SEARCH: FingerprintSimulatorCore._search,
    Instruction.REG_MODEL: FingerprintSimulatorCore._reg_model,
    Instruction.STORE: FingerprintSimulatorCore._store,
    Instruction.LOAD_CHAR: FingerprintSimulatorCore._load_char,
    Instruction.UP_CHAR: FingerprintSimulatorCore._up_char,
    Instruction.DOWN_CHAR: FingerprintSimulatorCore._down_char,
    Instruction.UP_IMAGE: FingerprintSimulatorCore._up_image,
    Instruction.DELETE_CHAR: FingerprintSimulatorCore._delete_char,
    Instruction.EMPTY: FingerprintSimulatorCore._empty,
    Instruction.READ_SYS_PARA: FingerprintSimulatorCore._read_sys_para,
    Instruction.SET_PWD: FingerprintSimulatorCore._set_pwd,
    Instruction.VFY_PWD: FingerprintSimulatorCore._vfy_pwd,
    Instruction.TEMPLATE_NUM: FingerprintSimulatorCore._template_num,
    Instruction.READ_INDEX_TABLE: FingerprintSimulatorCore._read_index_table,
}
"""Instruction → handler; anything else answers 0x01."""


class SimFingerprintScanner(PtyServedDevice, R30xFingerprintScanner):
    """The real R30x driver wired to a :class:`FingerprintSimulatorCore` over a real pty."""

    core: FingerprintSimulatorCore

    def __init__(
        self,
        core: FingerprintSimulatorCore,
        *,
        name: str | None = None,
        clock: Clock | None = None,
        statistics: Statistics | None = None,
        timeout_scale: float = 1.0,
        finger: str = "resident-1",
        quality: str = "good",
        auto_user: bool = True,
        password: int = 0,
    ) -> None:
        super().__init__(
            no_port,
            name=name,
            clock=clock,
            statistics=statistics,
            address=core.address,
            password=password,
            timeout_scale=timeout_scale,
            interface="sim",
        )
        self.core = core
        self.finger = finger
        self.quality = quality
        self.auto_user = auto_user

    def _simulate_user(self, prompt: str) -> None:
        if not self.auto_user:
            return
        if prompt in ("place_finger", "place_finger_again"):
            self.core.place_finger(self.finger, self.quality)
        elif prompt == "lift_finger":
            self.core.lift_finger()


def _parse_library(spec: str) -> dict[int, bytes]:
    library: dict[int, bytes] = {}
    for item in filter(None, spec.split(",")):
        finger, _, slot = item.partition("@")
        if not finger or not slot.isdigit():
            raise ConfigurationError("enrolled= takes finger@slot items, e.g. resident-1@0")
        library[int(slot)] = sim_template(finger, -1 - int(slot))
    return library


def open_sim_fingerprint_scanner(
    url: urllib.parse.SplitResult,
    params: dict[str, str],
    *,
    clock: Clock,
    statistics: Statistics,
) -> SimFingerprintScanner:
    """Registry factory for ``sim://fingerprint?finger=…&enrolled=…&quality=…&fault=…&latency=…``."""
    faults = [name for name in params.get("fault", "").split(",") if name]
    quality = params.get("quality", "good")
    if quality not in QUALITY_CODES:
        raise ConfigurationError(f"unknown quality {quality!r}; known: {', '.join(QUALITY_CODES)}")
    user = params.get("user", "auto")
    if user not in ("auto", "none"):
        raise ConfigurationError("user= is auto or none")
    try:
        latency = float(params["latency"]) if "latency" in params else None
        scale = float(params.get("timeout_scale", "1"))
        capacity = int(params.get("capacity", "200"))
        packet_size = int(params.get("packet_size", "128"))
        password = int(params.get("password", "0"), 0)
        module_password = int(params.get("module_password", params.get("password", "0")), 0)
    except ValueError as err:
        raise ConfigurationError("latency, timeout_scale, capacity and passwords must be numbers") from err
    size_codes = {size: code for code, size in PACKET_SIZES.items()}
    if packet_size not in size_codes:
        raise ConfigurationError("packet_size is 32, 64, 128 or 256")
    core = FingerprintSimulatorCore(
        capacity=capacity,
        packet_size_code=size_codes[packet_size],
        password=module_password,
        latency=latency,
        faults=faults,
        library=_parse_library(params.get("enrolled", "")),
    )
    return SimFingerprintScanner(
        core,
        clock=clock,
        statistics=statistics,
        timeout_scale=scale,
        finger=params.get("finger", "resident-1"),
        quality=quality,
        auto_user=user == "auto",
        password=password,
    )
