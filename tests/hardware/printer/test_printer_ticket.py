"""Ticket layouts: byte-exact ESC/POS for text in GB18030, QR (native and raster), sizes and cut."""

from __future__ import annotations

from datetime import datetime

import pytest

from hardware.printer import ticket
from hardware.printer.ticket import QueueTicket, TicketStyle

TICKET = QueueTicket(
    office="静安寺街道",
    service="社会保障卡申领",
    number="A017",
    people_ahead=5,
    issued_at=datetime(2026, 11, 22, 9, 30),
    qr_content="https://office.example/q/A017",
    wait_minutes=(10, 20),
    station="愚园路家门口服务站",
)


def test_queue_ticket_golden_bytes() -> None:
    """The queue ticket starts with init + Chinese mode and holds each line in GB18030, in order."""
    data = ticket.render_queue_ticket(TICKET)
    assert data.startswith(b"\x1b@\x1c&")
    expected_lines = [
        "静安寺街道",
        "社会保障卡申领",
        "您的号码",
        "A017",
        "前面还有 5 人等候",
        "预计等待 10–20 分钟",
        "扫码查看叫号进度",
        "取号时间: 2026-11-22 09:30",
        "愚园路家门口服务站",
        "请留意叫号，过号需重新取号",
    ]
    pos = 0
    for line in expected_lines:
        encoded = line.encode("gb18030") + b"\n"
        found = data.find(encoded, pos)
        assert found >= 0, f"{line!r} missing or out of order"
        pos = found + len(encoded)
    # Office in double size, number in 4x size, both bold and centred.
    assert b"\x1d!\x11\x1bE\x01\x1ba\x01" + "静安寺街道".encode("gb18030") in data
    assert b"\x1d!\x33\x1bE\x01\x1ba\x01A017\n" in data
    # Partial cut after feeding six lines.
    assert data.endswith(b"\x1bd\x06\x1dV\x01")


def test_native_qr_uses_gs_paren_k() -> None:
    """Native QR: model 2, dot size, EC level L, store (UTF-8, little-endian length) and print."""
    data = ticket.render_queue_ticket(TICKET)
    content = TICKET.qr_content.encode("utf-8")
    store = b"\x1d(k" + (len(content) + 3).to_bytes(2, "little") + b"1P0" + content
    assert b"\x1d(k\x04\x001A2\x00" in data
    assert b"\x1d(k\x03\x001C\x06" in data
    assert b"\x1d(k\x03\x001E0" in data
    assert store in data
    assert b"\x1d(k\x03\x001Q0" in data


def test_image_qr_uses_raster_bit_image() -> None:
    """Image QR: a GS v 0 raster whose size matches its header, and no GS ( k."""
    data = ticket.render_queue_ticket(TICKET, TicketStyle(qr="image", qr_size=4))
    assert b"\x1d(k" not in data
    start = data.index(b"\x1dv0\x00")
    width_bytes = int.from_bytes(data[start + 4 : start + 6], "little")
    height = int.from_bytes(data[start + 6 : start + 8], "little")
    assert height % 4 == 0 and width_bytes == (height + 7) // 8
    assert data[start + 8 + width_bytes * height : start + 9 + width_bytes * height] == b"\n"


def test_encoding_is_configurable() -> None:
    """GBK and UTF-8 printers get their own encoding; non-CJK encodings skip Chinese mode."""
    gbk = ticket.render_queue_ticket(TICKET, TicketStyle(encoding="gbk"))
    assert "社会保障卡申领".encode("gbk") in gbk and gbk.startswith(b"\x1b@\x1c&")
    utf8 = ticket.render_queue_ticket(TICKET, TicketStyle(encoding="utf-8"))
    assert "社会保障卡申领".encode() in utf8 and not utf8.startswith(b"\x1b@\x1c&")
    ascii_only = ticket.render_queue_ticket(TICKET, TicketStyle(encoding="cp437", locale="en"))
    assert b"5 people ahead of you\n" in ascii_only


def test_english_labels_and_no_wait_estimate() -> None:
    """English labels are used on request; a ticket with nobody ahead says so and omits the wait."""
    first = QueueTicket(
        office="Office", service="Service", number="B001", people_ahead=0, issued_at=TICKET.issued_at
    )
    data = ticket.render_queue_ticket(first, TicketStyle(locale="en"))
    assert b"You are next\n" in data
    assert b"wait" not in data and b"\x1d(k" not in data


@pytest.mark.parametrize(("cut", "tail"), [("full", b"\x1bd\x06\x1dV\x00"), ("none", b"\x1bd\x04")])
def test_cut_modes(cut: str, tail: bytes) -> None:
    """Full cut and no cut end the job with their own bytes."""
    style = TicketStyle(cut=cut)  # type: ignore[arg-type]
    assert ticket.render_queue_ticket(TICKET, style).endswith(tail)


def test_materials_notice_lists_every_item() -> None:
    """The one-time notice numbers every material and prints the time limit."""
    notice = ticket.MaterialsNotice(
        office="静安寺街道",
        service="高龄津贴申请",
        materials=["居民身份证原件", "户口簿", "本人银行卡"],
        issued_at=TICKET.issued_at,
        time_limit="5个工作日",
    )
    data = ticket.render_materials_notice(notice)
    for index, item in enumerate(notice.materials, start=1):
        assert f"{index}. {item}\n".encode("gb18030") in data
    assert "办理时限: 5个工作日\n".encode("gb18030") in data
    assert "一次性告知：请准备以下材料\n".encode("gb18030") in data


def test_appointment_slip() -> None:
    """The appointment slip shows the slot and booking code and carries a QR code."""
    slip = ticket.AppointmentSlip(
        office="静安寺街道",
        service="居住证办理",
        starts_at=datetime(2026, 11, 23, 14, 0),
        ends_at=datetime(2026, 11, 23, 14, 30),
        code="Y7K2Q",
        issued_at=TICKET.issued_at,
        qr_content="https://office.example/a/Y7K2Q",
        notes=["请携带居民身份证"],
    )
    data = ticket.render_appointment(slip)
    assert "预约时段: 2026-11-23 14:00-14:30\n".encode("gb18030") in data
    assert "预约码 Y7K2Q\n".encode("gb18030") in data
    assert b"\x1d(k" in data and "请携带居民身份证\n".encode("gb18030") in data


def test_test_page_has_ruler_and_qr() -> None:
    """The self-test slip has a full-width digit ruler, Chinese text and a QR code."""
    data = ticket.render_test_page(TICKET.issued_at, TicketStyle(columns=32))
    assert b"01234567890123456789012345678901\n" in data
    assert b"\x1d(k" in data
