"""Second-generation resident ID-card readers (SAM serial protocol, spec §1).

Public surface: the :class:`IdCardReader` device class, :class:`IdCardData`, the
card-condition errors, the SAM driver and the simulator.  The frame codec lives in
``hardware.idcard.frames``, text layouts in ``hardware.idcard.text``.
"""

from hardware.idcard.data import CardType, IdCardData, SamId
from hardware.idcard.errors import (
    CardAlreadyRead,
    CardNotPresent,
    CardNotSupported,
    CardReadInterrupted,
    CardRejected,
    CardUserError,
    IdCardStatusError,
    InvalidCardData,
    SamFailure,
)
from hardware.idcard.photo import FakeWltDecoder, PhotoDecoder
from hardware.idcard.reader import IdCardReader

__all__ = [
    "CardAlreadyRead",
    "CardNotPresent",
    "CardNotSupported",
    "CardReadInterrupted",
    "CardRejected",
    "CardType",
    "CardUserError",
    "FakeWltDecoder",
    "IdCardData",
    "IdCardReader",
    "IdCardStatusError",
    "InvalidCardData",
    "PhotoDecoder",
    "SamFailure",
    "SamId",
]
