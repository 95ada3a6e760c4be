"""Simulated ID cards: obviously fictional people, valid per GB 11643 (except ``bad-checksum``).

Every layout is covered: resident (male; female with an 'X' check character, a
long-term expiry and an appended address; with 1024/512-byte fingerprint blocks),
Hong Kong/Macau/Taiwan permit, foreign permanent resident 2017 and 2023, and a
resident card whose check character is wrong.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from hardware.idcard.data import CardType
from hardware.idcard.photo import fake_wlt_blob
from hardware.idcard.text import encode_text_block

__all__ = ["CARD_FIXTURES", "CardFixture", "fixture"]


def _fake_fingerprint(seed: str, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        data += hashlib.sha256(f"fp:{seed}:{len(data)}".encode()).digest()
    return bytes(data[:size])


@dataclass(frozen=True, slots=True)
class CardFixture:
    """A card the simulator can put in its RF field."""

    name: str
    card_type: CardType
    values: dict[str, str]
    fingerprint_size: int = 0
    appended_address: str | None = None
    photo: bytes = field(default=b"")

    def text_block(self) -> bytes:
        """The 256-byte text block."""
        return encode_text_block(self.card_type, self.values)

    def photo_blob(self) -> bytes:
        """The 1024-byte fake WLT photo."""
        return self.photo or fake_wlt_blob(self.name)

    def fingerprint_block(self) -> bytes:
        """The fingerprint block (empty when the card holds none)."""
        return _fake_fingerprint(self.name, self.fingerprint_size)


_RESIDENT_MALE = {
    "name": "张示例",
    "gender": "1",
    "ethnicity": "01",
    "birth": "19800101",
    "address": "上海市黄浦区示例路1号101室",
    "id_number": "310101198001010018",
    "issuer": "上海市公安局黄浦分局",
    "valid_from": "20200101",
    "valid_until": "20400101",
}

_FIXTURES = [
    CardFixture("resident-male", CardType.RESIDENT, _RESIDENT_MALE),
    CardFixture(
        "resident-female",
        CardType.RESIDENT,
        {
            "name": "欧阳测试样本",
            "gender": "2",
            "ethnicity": "03",
            "birth": "19650312",
            "address": "上海市徐汇区测试大道二百号示例小区三十五号楼八百零八室",
            "id_number": "31010419650312068X",
            "issuer": "上海市公安局徐汇分局",
            "valid_from": "20150312",
            "valid_until": "长期",
        },
        appended_address="上海市徐汇区新址示例路8号",
    ),
    CardFixture(
        "resident-with-fingerprint",
        CardType.RESIDENT,
        {
            "name": "赵样本",
            "gender": "2",
            "ethnicity": "02",
            "birth": "19920228",
            "address": "上海市浦东新区样本路2号",
            "id_number": "310101199202280043",
            "issuer": "上海市公安局浦东分局",
            "valid_from": "20120228",
            "valid_until": "20220228",
        },
        fingerprint_size=1024,
    ),
    CardFixture(
        "resident-fingerprint-512",
        CardType.RESIDENT,
        {**_RESIDENT_MALE, "name": "钱半指"},
        fingerprint_size=512,
    ),
    CardFixture(
        "gat",
        CardType.GAT,
        {
            "name": "陈例证",
            "gender": "1",
            "birth": "19900315",
            "address": "上海市静安区示例路3号",
            "id_number": "810000199003150031",
            "issuer": "上海市公安局静安分局",
            "valid_from": "20190101",
            "valid_until": "20240101",
            "pass_number": "H01234567",
            "issue_count": "01",
        },
    ),
    CardFixture(
        "foreigner-2017",
        CardType.FOREIGN_2017,
        {
            "english_name": "EXAMPLE, JOHN QUINCY",
            "gender": "1",
            "id_number": "CAN310080010101",
            "nationality": "CAN",
            "name": "约翰",
            "valid_from": "20170101",
            "valid_until": "20270101",
            "birth": "19800101",
            "card_version": "01",
            "issuer": "3100",
        },
    ),
    CardFixture(
        "foreigner-2023",
        CardType.FOREIGN_2023,
        {
            "name": "玛丽亚",
            "gender": "2",
            "renewal_count": "00",
            "birth": "19850615",
            # 46 characters at most, split over two fields at character 35.
            "english_name": "EXAMPLEFAMILYNAME, ALEXANDRA MARIA ",
            "english_name_2": "JOHANNA",
            "id_number": "93184019850615012X",
            "valid_from": "20230601",
            "valid_until": "20330601",
            "nationality": "USA",
        },
    ),
    CardFixture("bad-checksum", CardType.RESIDENT, {**_RESIDENT_MALE, "id_number": "310101198001010019"}),
]

CARD_FIXTURES: dict[str, CardFixture] = {card.name: card for card in _FIXTURES}
"""Every simulated card by name (``sim://idcard?card=<name>``)."""


def fixture(name: str) -> CardFixture:
    """Look up a card fixture; KeyError lists the known names."""
    try:
        return CARD_FIXTURES[name]
    except KeyError:
        raise KeyError(f"unknown card {name!r}; known: {', '.join(CARD_FIXTURES)}") from None
