"""Text-block layouts, code tables, GB 11643 checks, payload parsing and masking (spec §1.5-§1.9)."""

from __future__ import annotations

import datetime as dt

import pytest

from hardware.errors import ProtocolError
from hardware.idcard import gb11643
from hardware.idcard.codes import ETHNICITY, GENDER, SW3_TABLE, error_for_sw3
from hardware.idcard.data import CardType, SamId
from hardware.idcard.errors import (
    CardNotPresent,
    CardNotSupported,
    CardReadInterrupted,
    CardRejected,
    IdCardStatusError,
    SamFailure,
)
from hardware.idcard.fixtures import CARD_FIXTURES
from hardware.idcard.payload import (
    build_read_payload,
    parse_appended_address,
    parse_read_payload,
    parse_sam_id,
)
from hardware.idcard.photo import FakeWltDecoder, fake_wlt_blob
from hardware.idcard.text import decode_text_block, encode_text_block


def _utf16(text: str, size: int) -> bytes:
    raw = text.encode("utf-16-le")
    return raw + " ".encode("utf-16-le") * ((size - len(raw)) // 2)


def test_resident_block_hand_built_from_spec_offsets() -> None:
    """A resident block assembled byte by byte from the §1.6 table decodes field by field."""
    block = (
        _utf16("张示例", 30)
        + _utf16("1", 2)
        + _utf16("01", 4)
        + _utf16("19800101", 16)
        + _utf16("上海市黄浦区示例路1号101室", 70)
        + _utf16("310101198001010018", 36)
        + _utf16("上海市公安局黄浦分局", 30)
        + _utf16("20200101", 16)
        + _utf16("20400101", 16)
        + _utf16("", 36)
    )
    assert len(block) == 256
    card = decode_text_block(block)
    assert card.card_type is CardType.RESIDENT
    assert (card.name, card.gender, card.ethnicity) == ("张示例", "male", "汉")
    assert card.birth_date == dt.date(1980, 1, 1)
    assert card.address == "上海市黄浦区示例路1号101室"
    assert card.id_number == "310101198001010018"
    assert card.issuer == "上海市公安局黄浦分局"
    assert (card.valid_from, card.valid_until) == (dt.date(2020, 1, 1), dt.date(2040, 1, 1))
    assert block == CARD_FIXTURES["resident-male"].text_block()


def test_long_term_expiry_and_x_check_character() -> None:
    """The female fixture has 长期 expiry (valid_until None) and an 'X' check character."""
    card = decode_text_block(CARD_FIXTURES["resident-female"].text_block())
    assert card.long_term and card.valid_until is None
    assert card.id_number.endswith("X")
    assert card.gender == "female"
    assert card.validation_problems() == []


def test_gat_layout_reads_pass_number_and_issue_count() -> None:
    """Flag 'J' selects the HK/Macau/Taiwan layout with pass number and issue count."""
    card = decode_text_block(CARD_FIXTURES["gat"].text_block())
    assert card.card_type is CardType.GAT
    assert (card.pass_number, card.issue_count) == ("H01234567", "01")
    assert card.ethnicity_code == ""
    assert card.validation_problems() == []


def test_foreign_2017_layout() -> None:
    """Flag 'I' selects the 2017 foreigner layout (English name first, birth at 220)."""
    card = decode_text_block(CARD_FIXTURES["foreigner-2017"].text_block())
    assert card.card_type is CardType.FOREIGN_2017
    assert card.english_name == "EXAMPLE, JOHN QUINCY"
    assert card.name == "约翰"
    assert card.id_number == "CAN310080010101"
    assert card.nationality == "CAN"
    assert card.birth_date == dt.date(1980, 1, 1)
    assert (card.card_version, card.issuer) == ("01", "3100")
    assert card.validation_problems() == []


def test_foreign_2023_layout_joins_split_english_name() -> None:
    """Flag 'Y' selects the 2023 layout; the English name split at char 35 keeps its space."""
    card = decode_text_block(CARD_FIXTURES["foreigner-2023"].text_block())
    assert card.card_type is CardType.FOREIGN_2023
    assert card.english_name == "EXAMPLEFAMILYNAME, ALEXANDRA MARIA JOHANNA"
    assert (card.nationality, card.renewal_count) == ("USA", "00")
    assert card.validation_problems() == []


def test_text_block_flag_at_offset_248() -> None:
    """The card type flag sits at byte 248 of the block."""
    for name, flag in [("gat", "J"), ("foreigner-2017", "I"), ("foreigner-2023", "Y")]:
        assert CARD_FIXTURES[name].text_block()[248:250] == flag.encode("utf-16-le")


@pytest.mark.parametrize("name", sorted(CARD_FIXTURES))
def test_every_fixture_round_trips(name: str) -> None:
    """Each fixture encodes to 256 bytes and decodes to a card of its type."""
    fixture = CARD_FIXTURES[name]
    card = decode_text_block(fixture.text_block())
    assert card.card_type is fixture.card_type
    assert card.id_number == fixture.values["id_number"]


def test_bad_checksum_fixture_fails_validation() -> None:
    """The bad-checksum card decodes but fails the GB 11643 check."""
    card = decode_text_block(CARD_FIXTURES["bad-checksum"].text_block())
    assert card.validation_problems() == ["checksum"]


def test_unknown_gender_code_is_a_protocol_error() -> None:
    """A gender code outside 0/1/2/9 is rejected, not treated as female."""
    block = encode_text_block(CardType.RESIDENT, {**CARD_FIXTURES["resident-male"].values, "gender": "3"})
    with pytest.raises(ProtocolError):
        decode_text_block(block)


def test_bad_date_is_a_protocol_error() -> None:
    """A birth date that is not YYYYMMDD is rejected."""
    block = encode_text_block(
        CardType.RESIDENT, {**CARD_FIXTURES["resident-male"].values, "birth": "19801301"}
    )
    with pytest.raises(ProtocolError):
        decode_text_block(block)


def test_wrong_block_size_is_rejected() -> None:
    """Only 256-byte blocks are accepted."""
    with pytest.raises(ProtocolError):
        decode_text_block(bytes(255))


def test_encode_refuses_overlong_field() -> None:
    """Encoding a name longer than 15 characters is a programming error."""
    with pytest.raises(ValueError, match="name"):
        encode_text_block(CardType.RESIDENT, {"name": "名" * 16})


def test_gender_table() -> None:
    """Gender codes follow GB/T 2261.1: 0 unknown, 1 male, 2 female, 9 unspecified."""
    assert GENDER == {"0": "unknown", "1": "male", "2": "female", "9": "unspecified"}


def test_ethnicity_table() -> None:
    """All 56 ethnicities plus 97/98 are present, with 德昂 spelled correctly."""
    assert len(ETHNICITY) == 58
    assert (ETHNICITY["01"], ETHNICITY["46"], ETHNICITY["56"]) == ("汉", "德昂", "基诺")
    assert ETHNICITY["98"] == "外国血统中国籍人士"


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("11010519491231002X", True),
        ("360426199101010071", True),
        ("120103198806018241", True),
        ("360426199101010072", False),
        ("11010519491231002x", True),
        ("1101051949123100", False),
        ("11010519491231002Y", False),
        ("1101051949123100２X", False),
    ],
)
def test_gb11643_vectors(number: str, valid: bool) -> None:
    """The standard's vectors validate and corrupted ones do not."""
    assert gb11643.is_valid(number) is valid


def test_gb11643_weights() -> None:
    """Weights are 2^(17-i) mod 11."""
    assert gb11643.WEIGHTS == (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def test_gb11643_consistency_checks() -> None:
    """Birth date and gender must agree with digits 7-14 and the parity of digit 17."""
    number = "310101198001010018"
    assert gb11643.consistency_problems(number, birth_date=dt.date(1980, 1, 1), gender_code="1") == []
    assert gb11643.consistency_problems(number, birth_date=dt.date(1980, 1, 2), gender_code="2") == [
        "birth_date",
        "gender",
    ]


@pytest.mark.parametrize(
    ("sw3", "error"),
    [
        (0x80, CardNotPresent),
        (0x81, CardNotPresent),
        (0x41, CardReadInterrupted),
        (0x40, CardNotSupported),
        (0x31, CardRejected),
        (0x32, CardRejected),
        (0x33, CardRejected),
        (0x60, SamFailure),
        (0x66, SamFailure),
        (0x47, SamFailure),
        (0x10, IdCardStatusError),
        (0x11, IdCardStatusError),
        (0x21, IdCardStatusError),
        (0x23, IdCardStatusError),
        (0x24, IdCardStatusError),
        (0x55, IdCardStatusError),
    ],
)
def test_sw3_table_maps_to_errors(sw3: int, error: type[Exception]) -> None:
    """Failure status words map to the tabled exception type, unknown ones to the generic one."""
    err = error_for_sw3(sw3, "read")
    assert type(err) is error
    assert getattr(err, "status", None) == sw3


def test_sw3_success_codes_have_no_error() -> None:
    """0x90, 0x9F and 0x91 are not failures."""
    assert all(SW3_TABLE[code].error is None for code in (0x90, 0x9F, 0x91))


def test_read_payload_round_trip_with_and_without_fingerprint() -> None:
    """Text/photo/fingerprint parts split by the length header, fingerprint length 0 allowed."""
    text, photo = bytes(range(256)), fake_wlt_blob("x")
    for fingerprint in (b"", bytes(512), bytes(1024)):
        parts = parse_read_payload(build_read_payload(text, photo, fingerprint), with_fingerprint=True)
        assert (parts.text, parts.photo, parts.fingerprint) == (text, photo, fingerprint)
    parts = parse_read_payload(build_read_payload(text, photo, None), with_fingerprint=False)
    assert parts.fingerprint == b""
    assert "bytes" not in repr(parts) and "256B" in repr(parts)


def test_read_payload_length_mismatch_twin_raises() -> None:
    """A read payload one byte short of its header's lengths is rejected."""
    data = build_read_payload(bytes(256), bytes(1024), None)
    with pytest.raises(ProtocolError):
        parse_read_payload(data[:-1], with_fingerprint=False)


def test_appended_address_and_sam_id() -> None:
    """The appended address is 70 bytes UTF-16LE; the SAM ID is 16 raw bytes."""
    assert parse_appended_address(_utf16("上海市新址路8号", 70)) == "上海市新址路8号"
    with pytest.raises(ProtocolError):
        parse_appended_address(bytes(69))
    sam = parse_sam_id(bytes([5, 0, 1, 0]) + (7).to_bytes(4, "little") + bytes(8))
    assert str(sam) == "05.01-7-000000000-000000000"
    with pytest.raises(ProtocolError):
        parse_sam_id(bytes(15))
    assert str(SamId(b"\x01")) == "01"


def test_fake_photo_decoder_produces_real_size_bmp() -> None:
    """The simulator's decoder yields a 102x126 24-bit BMP of 38862 bytes; junk raises."""
    bmp = FakeWltDecoder().decode(fake_wlt_blob("card"))
    assert bmp[:2] == b"BM" and len(bmp) == 38862
    with pytest.raises(ProtocolError):
        FakeWltDecoder().decode(bytes(1024))


def test_masked_card_hides_personal_data() -> None:
    """masked() and repr() never contain the name, full ID number, address or photo bytes."""
    fixture = CARD_FIXTURES["resident-female"]
    card = decode_text_block(fixture.text_block())
    masked = card.masked()
    text = repr(masked) + repr(card)
    assert fixture.values["id_number"] not in text
    assert fixture.values["name"] not in text
    assert fixture.values["address"] not in text
    assert masked["id_number"] == "3101**********068X"
    assert masked["birth_date"] == "1965-**-**"
