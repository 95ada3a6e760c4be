"""Errors specific to SAM ID-card readers, added to the tree in ``hardware.errors``.

::

    DeviceStatusError
    └── IdCardStatusError          reader or SAM reported a failure status word (SW3)
        └── SamFailure             SAM self-test failed / not authorised (technician needed)
    UserActionRequired
    └── CardUserError              the resident must do something with the card
        ├── CardNotPresent         no card in the field (SW3 0x80/0x81)   prompt place_card
        ├── CardAlreadyRead        card read already; remove and re-place prompt remove_card
        ├── CardReadInterrupted    card moved away during the read (0x41)  prompt replace_card
        ├── CardNotSupported       unrecognised card type (0x40)          prompt card_not_supported
        ├── CardRejected           card/SAM mutual authentication failed  prompt card_rejected
        └── InvalidCardData        read OK but the data fails validation  prompt card_invalid
"""

from __future__ import annotations

from hardware.errors import DeviceStatusError, UserActionRequired
from hardware.health import RecommendedAction

__all__ = [
    "CardAlreadyRead",
    "CardNotPresent",
    "CardNotSupported",
    "CardReadInterrupted",
    "CardRejected",
    "CardUserError",
    "IdCardStatusError",
    "InvalidCardData",
    "SamFailure",
]


class IdCardStatusError(DeviceStatusError):
    """The reader answered with a failure SW3 that points at the reader, SAM or link."""


class SamFailure(IdCardStatusError):
    """The security module is broken or not authorised; a technician must act."""

    recommended_action = RecommendedAction.MAINTENANCE


class CardUserError(UserActionRequired):
    """A card condition the resident can fix; ``status`` is the SW3 (0 when none)."""

    default_prompt = "place_card"

    def __init__(self, message: str, *, status: int = 0, prompt: str | None = None) -> None:
        super().__init__(message, prompt=prompt or self.default_prompt)
        self.status = status


class CardNotPresent(CardUserError):
    """No card answered the find/select command."""

    default_prompt = "place_card"


class CardAlreadyRead(CardUserError):
    """The card was read already; it must leave the field before it can be read again."""

    default_prompt = "remove_card"


class CardReadInterrupted(CardUserError):
    """The card left the field during the read."""

    default_prompt = "replace_card"


class CardNotSupported(CardUserError):
    """The reader does not recognise the card type."""

    default_prompt = "card_not_supported"


class CardRejected(CardUserError):
    """Card and SAM failed to authenticate each other (damaged or non-genuine card)."""

    default_prompt = "card_rejected"


class InvalidCardData(CardUserError):
    """The card was read but its data fails validation; ``problems`` names the checks."""

    default_prompt = "card_invalid"

    def __init__(self, message: str, *, problems: tuple[str, ...]) -> None:
        super().__init__(message)
        self.problems = problems
