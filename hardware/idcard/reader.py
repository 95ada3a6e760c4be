"""The ID-card reader device class: :class:`IdCardReader` (one ABC, many backends).

Shared semantics live here: the operation guard, validation, events, waiting for a
card with the injected clock and the health-check definitions (spec §4.3: INTERNAL
= SAM status + SAM ID; EXTERNAL = read a test card; INTERACTIVE = guided place-card
flow).  Backends implement ``_find_card``, ``_read_card`` and the SAM hooks.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from hardware.clock import Clock
from hardware.device import DataEvent, Device, HealthCheck, PromptCallback
from hardware.errors import UnsupportedOperation, UserActionRequired
from hardware.health import HealthLevel, HealthResult, RecommendedAction
from hardware.idcard.data import IdCardData, SamId
from hardware.idcard.errors import CardNotPresent, InvalidCardData
from hardware.idcard.photo import PhotoDecoder
from hardware.stats import Statistics

__all__ = ["IdCardReader"]


class IdCardReader(Device):
    """A second-generation ID-card reader.

    ``read_card`` reads the card in the field once; afterwards the card must leave
    the field before it can be read again (status detail ``media="already_read"``
    and :class:`~hardware.idcard.errors.CardAlreadyRead`).
    """

    kind: ClassVar[str] = "idcard"
    supported_health_levels: ClassVar[frozenset[HealthLevel]] = frozenset(HealthLevel)
    interactive_timeout: float = 30.0
    poll_interval: float = 0.5

    def __init__(
        self,
        *,
        name: str | None = None,
        clock: Clock | None = None,
        statistics: Statistics | None = None,
        photo_decoder: PhotoDecoder | None = None,
    ) -> None:
        super().__init__(name=name, clock=clock, statistics=statistics)
        self.photo_decoder = photo_decoder
        self._update_status(media="unknown", sam="unknown")

    # ---------------------------------------------------------------- public API

    def read_card(
        self, *, fingerprint: bool = False, appended_address: bool = False, validate: bool = False
    ) -> IdCardData:
        """Find, select and read the card in the field.

        ``fingerprint`` reads the fingerprint block too (30 10); ``appended_address``
        also reads the newest address (30 03); ``validate`` raises
        :class:`~hardware.idcard.errors.InvalidCardData` when the ID number fails
        GB 11643 or disagrees with the birth date / gender.
        """
        with self._operation("read_card"):
            card = self._read_card(fingerprint=fingerprint, appended_address=appended_address)
        self._emit(DataEvent(device=self.name, what="card_read"))
        if validate:
            problems = card.validation_problems()
            if problems:
                self.statistics.increment("read_card.invalid")
                raise InvalidCardData(
                    "card data failed validation: " + ", ".join(problems), problems=tuple(problems)
                )
        return card

    def read_card_guided(
        self, prompt: PromptCallback, *, timeout: float | None = None, fingerprint: bool = False
    ) -> IdCardData:
        """Prompt ``place_card``, wait for a card, read it, then prompt ``remove_card``.

        Raises :class:`~hardware.idcard.errors.CardNotPresent` when no card arrives
        within ``timeout`` (default :attr:`interactive_timeout`).
        """
        self._prompt(prompt, "place_card")
        if not self.wait_for_card(self.interactive_timeout if timeout is None else timeout):
            raise CardNotPresent("no card was placed in time", status=0x80)
        card = self.read_card(fingerprint=fingerprint)
        self._prompt(prompt, "remove_card")
        return card

    def card_present(self) -> bool:
        """Send one find-card command; True when a (not yet read) card answers."""
        with self._operation("find_card"):
            return self._find_card()

    def wait_for_card(self, timeout: float) -> bool:
        """Poll for a card every :attr:`poll_interval` seconds (injected clock) up to ``timeout``."""
        with self._operation("wait_for_card"):
            return self._poll_card(timeout)

    def sam_id(self) -> SamId:
        """The reader's SAM management info (its serial number)."""
        with self._operation("sam_id"):
            return self._sam_id()

    def sam_status(self) -> None:
        """Ask the SAM to check itself; raises SamFailure when it is broken."""
        with self._operation("sam_status"):
            self._sam_status()

    def reset_sam(self) -> None:
        """Reset the SAM module."""
        with self._operation("reset_sam"):
            self._reset_sam()

    def decode_photo(self, card: IdCardData) -> bytes:
        """Decode the card's WLT photo to BMP with the configured decoder."""
        if self.photo_decoder is None:
            raise UnsupportedOperation("no WLT photo decoder is configured (a licensed library is needed)")
        return self.photo_decoder.decode(card.photo_raw)

    # -------------------------------------------------------------------- health

    def _check_health(self, level: HealthLevel, prompt: PromptCallback) -> HealthResult:
        check = HealthCheck(level)
        check.run("sam_status", self._sam_status)
        check.run("sam_id", lambda: str(self._sam_id()))
        if level is HealthLevel.INTERNAL or not check.ok:
            return check.result()
        if level is HealthLevel.INTERACTIVE:
            self._prompt(prompt, "place_card")
            if not self._poll_card(self.interactive_timeout):
                check.fail("place_card", "no card placed", RecommendedAction.NONE)
                return check.result()
            check.run("place_card", lambda: "card detected")
        check.run("read_test_card", self._read_test_card)
        if level is HealthLevel.INTERACTIVE:
            self._prompt(prompt, "remove_card")
        return check.result()

    def _read_test_card(self) -> str:
        card = self._read_card(fingerprint=False, appended_address=False)
        problems = card.validation_problems()
        suffix = f", validation problems: {', '.join(problems)}" if problems else ""
        return f"read {card.card_type.value} card{suffix}"

    def _poll_card(self, timeout: float) -> bool:
        deadline = self.clock.monotonic() + timeout
        while True:
            try:
                if self._find_card():
                    return True
            except UserActionRequired:
                pass  # previous card still in the field
            if self.clock.monotonic() >= deadline:
                return False
            self._pause(self.poll_interval)

    def _capabilities(self) -> Mapping[str, Any]:
        return {
            "fingerprint_block": True,
            "appended_address": True,
            "photo_decoder": self.photo_decoder is not None,
            "card_types": ["resident", "gat", "foreign_2017", "foreign_2023"],
        }

    # ---------------------------------------------------------------- the hooks

    @abstractmethod
    def _find_card(self) -> bool:
        """Send find-card; True when a card answered, False when none (raise for faults)."""

    @abstractmethod
    def _read_card(self, *, fingerprint: bool, appended_address: bool) -> IdCardData:
        """Find, select and read; raise CardUserError subclasses for card conditions."""

    @abstractmethod
    def _sam_status(self) -> None:
        """Check the SAM; raise SamFailure or another fault."""

    @abstractmethod
    def _sam_id(self) -> SamId:
        """Read the SAM management info."""

    @abstractmethod
    def _reset_sam(self) -> None:
        """Reset the SAM."""
