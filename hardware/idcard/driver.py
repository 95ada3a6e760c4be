"""SAM serial ID-card reader driver over a pyserial-like port (spec §1).

:class:`SamIdCardReader` is given a port factory and a clock; one method,
:meth:`SamIdCardReader.transact`, sends a command and reassembles the reply with
:class:`~hardware.idcard.frames.FrameDecoder`.  Status words become exceptions
through :data:`~hardware.idcard.codes.SW3_TABLE`.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from hardware.clock import Clock
from hardware.device import Availability
from hardware.errors import (
    ConfigurationError,
    ConnectionLost,
    DeviceTimeout,
    LineNoise,
    NotOpen,
    ProtocolError,
)
from hardware.idcard.codes import SW3_FOUND, SW3_NO_CONTENT, SW3_OK, error_for_sw3
from hardware.idcard.data import IdCardData, SamId
from hardware.idcard.errors import CardAlreadyRead, CardNotPresent
from hardware.idcard.frames import (
    CMD_FIND,
    CMD_READ_APPENDED_ADDRESS,
    CMD_READ_TEXT_PHOTO,
    CMD_READ_TEXT_PHOTO_FINGERPRINT,
    CMD_RESET_SAM,
    CMD_SAM_ID,
    CMD_SAM_STATUS,
    CMD_SELECT,
    Command,
    FrameDecoder,
    Response,
)
from hardware.idcard.payload import parse_appended_address, parse_read_payload, parse_sam_id
from hardware.idcard.photo import PhotoDecoder
from hardware.idcard.reader import IdCardReader
from hardware.idcard.text import decode_text_block
from hardware.serial_link import PortFactory, SerialLink, serial_port_factory
from hardware.stats import Statistics

__all__ = ["DEFAULT_TIMEOUTS", "SamIdCardReader", "open_serial_idcard_reader"]

DEFAULT_TIMEOUTS: dict[tuple[int, int], float] = {
    CMD_RESET_SAM.key: 1.0,
    CMD_SAM_STATUS.key: 1.0,
    CMD_SAM_ID.key: 1.0,
    CMD_FIND.key: 1.0,
    CMD_SELECT.key: 1.0,
    CMD_READ_TEXT_PHOTO.key: 3.5,
    CMD_READ_TEXT_PHOTO_FINGERPRINT.key: 3.5,
    CMD_READ_APPENDED_ADDRESS.key: 1.5,
}
"""Per-command reply timeouts in seconds; must survive a slow (1.1 s) read (spec §7.1)."""

_NAMES = {
    CMD_RESET_SAM.key: "reset_sam",
    CMD_SAM_STATUS.key: "sam_status",
    CMD_SAM_ID.key: "sam_id",
    CMD_FIND.key: "find_card",
    CMD_SELECT.key: "select_card",
    CMD_READ_TEXT_PHOTO.key: "read_text_photo",
    CMD_READ_TEXT_PHOTO_FINGERPRINT.key: "read_text_photo_fingerprint",
    CMD_READ_APPENDED_ADDRESS.key: "read_appended_address",
}


class SamIdCardReader(IdCardReader):
    """A SAM ("GA 467") serial reader.  ``timeout_scale`` multiplies every timeout."""

    def __init__(
        self,
        port_factory: PortFactory,
        *,
        name: str | None = None,
        clock: Clock | None = None,
        statistics: Statistics | None = None,
        photo_decoder: PhotoDecoder | None = None,
        timeout_scale: float = 1.0,
        interface: str = "serial",
    ) -> None:
        super().__init__(name=name, clock=clock, statistics=statistics, photo_decoder=photo_decoder)
        self._port_factory = port_factory
        self._link: SerialLink | None = None
        self.timeouts = {key: value * timeout_scale for key, value in DEFAULT_TIMEOUTS.items()}
        self._interface = interface
        self._sam_serial: str | None = None

    # ------------------------------------------------------------- lifecycle hooks

    def _open(self) -> None:
        self._link = SerialLink(self._port_factory())
        self._update_status(availability=Availability.ONLINE)

    def _close(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            link.close()
        self._update_status(availability=Availability.UNKNOWN)

    # ------------------------------------------------------------------ transport

    def transact(self, command: Command) -> Response:
        """Send ``command`` and return the reply frame (any status word).

        Raises DeviceTimeout when no complete frame arrives in time, LineNoise when
        only unframed bytes arrived, ProtocolError for a corrupt frame and
        ConnectionLost when the port fails.
        """
        link = self._link
        if link is None:
            raise NotOpen(f"{self.name} is not open")
        timeout = self.timeouts.get(command.key, 1.0)
        name = _NAMES.get(command.key, f"command {command.cmd:02X} {command.para:02X}")
        try:
            link.discard_input()
            link.write(bytes(command))
            decoder = FrameDecoder()
            deadline = self.clock.monotonic() + timeout
            while (frame := decoder.next_frame()) is None:
                remaining = deadline - self.clock.monotonic()
                chunk = link.read(decoder.bytes_wanted(), remaining) if remaining > 0 else b""
                if not chunk:
                    if decoder.discarded and not decoder.buffered:
                        raise LineNoise(
                            f"{name}: {decoder.discarded} bytes of line noise, no frame (baud rate?)",
                            discarded=decoder.discarded,
                        )
                    raise DeviceTimeout(
                        f"{name}: no complete reply within {timeout:.2f} s",
                        timeout=timeout,
                        received=decoder.buffered,
                    )
                decoder.feed(chunk)
            response = Response.parse(frame)
        except ProtocolError:
            self.statistics.increment("protocol_errors")
            raise
        except ConnectionLost:
            self._update_status(availability=Availability.NO_DEVICE)
            raise
        except DeviceTimeout:
            self.statistics.increment("timeouts")
            self._update_status(availability=Availability.OFFLINE)
            raise
        if response.sw1 or response.sw2:
            self.statistics.increment("protocol_errors")
            raise ProtocolError(f"{name}: SW1/SW2 not zero", reason="status")
        self._update_status(availability=Availability.ONLINE)
        return response

    def _expect(self, command: Command, *ok: int) -> Response:
        response = self.transact(command)
        if response.sw3 not in ok:
            self.statistics.increment(f"sw3.{response.sw3:02X}")
            raise error_for_sw3(response.sw3, _NAMES.get(command.key, "command"))
        return response

    # -------------------------------------------------------------------- hooks

    def _sam_status(self) -> None:
        try:
            self._expect(CMD_SAM_STATUS, SW3_OK)
        except Exception:
            self._update_status(sam="failed")
            raise
        self._update_status(sam="ok")

    def _sam_id(self) -> SamId:
        sam = parse_sam_id(self._expect(CMD_SAM_ID, SW3_OK).data)
        self._sam_serial = str(sam)
        return sam

    def _reset_sam(self) -> None:
        self._expect(CMD_RESET_SAM, SW3_OK)

    def _find_card(self) -> bool:
        response = self.transact(CMD_FIND)
        if response.sw3 == SW3_FOUND:
            self._update_status(media="present")
            return True
        if response.sw3 == 0x80:
            if self._detail.get("media") != "already_read":
                self._update_status(media="absent")
            return False
        raise error_for_sw3(response.sw3, "find_card")

    def _read_card(self, *, fingerprint: bool, appended_address: bool) -> IdCardData:
        if not self._find_card():
            if self._detail.get("media") == "already_read":
                raise CardAlreadyRead("the card was read already; remove it and place it again", status=0x80)
            raise CardNotPresent("no card in the reader's field", status=0x80)
        self._expect(CMD_SELECT, SW3_OK)
        command = CMD_READ_TEXT_PHOTO_FINGERPRINT if fingerprint else CMD_READ_TEXT_PHOTO
        try:
            response = self._expect(command, SW3_OK)
        except Exception:
            self._update_status(media="unknown")
            raise
        payload = parse_read_payload(response.data, with_fingerprint=fingerprint)
        card = decode_text_block(payload.text)
        address: str | None = None
        if appended_address:
            extra = self._expect(CMD_READ_APPENDED_ADDRESS, SW3_OK, SW3_NO_CONTENT)
            address = parse_appended_address(extra.data) if extra.sw3 == SW3_OK else None
        self._update_status(media="already_read")
        self.statistics.increment(f"cards.{card.card_type.value}")
        return _with_binary(card, payload.photo, payload.fingerprint, address)

    def _info(self) -> Mapping[str, Any]:
        return {"interface": self._interface, "serial_number": self._sam_serial}

    def _capabilities(self) -> Mapping[str, Any]:
        return {**super()._capabilities(), "direct_io": ["sam_frame"]}

    def _direct_io(self, command: str, data: bytes) -> bytes:
        """``sam_frame``: send a raw command frame (whole wire bytes) and return the reply frame."""
        if command != "sam_frame":
            return super()._direct_io(command, data)
        return bytes(self.transact(Command.parse(data)))


def _with_binary(card: IdCardData, photo: bytes, fingerprint: bytes, address: str | None) -> IdCardData:
    return replace(card, photo_raw=photo, fingerprint_raw=fingerprint, appended_address=address)


def open_serial_idcard_reader(
    url: urllib.parse.SplitResult,
    params: dict[str, str],
    *,
    clock: Clock,
    statistics: Statistics,
) -> SamIdCardReader:
    """Registry factory for ``serial:///dev/ttyUSB0?baud=115200&timeout_scale=1``."""
    path = url.path or url.netloc
    if not path:
        raise ConfigurationError("serial ID-card URL needs a device path, e.g. serial:///dev/ttyUSB0")
    try:
        baud = int(params.get("baud", "115200"))
        scale = float(params.get("timeout_scale", "1"))
    except ValueError as err:
        raise ConfigurationError("baud and timeout_scale must be numbers") from err
    return SamIdCardReader(
        serial_port_factory(path, baudrate=baud),
        clock=clock,
        statistics=statistics,
        timeout_scale=scale,
    )
