"""ESC/POS layouts for the kiosk's slips: queue ticket, one-time materials notice, appointment.

Pure: each ``render_*`` function builds its bytes on python-escpos's ``Dummy`` printer and returns
them; nothing is sent anywhere. Text is encoded with the configured encoding (GB18030 by default,
hardware-protocols §5.1: python-escpos only switches to GB18030 when a string holds a CJK
ideograph, which would send full-width punctuation through a code page instead, so the layouts
encode every string themselves). The QR code is either the printer's native ``GS ( k`` symbol or
a raster image (``GS v 0``) rendered with ``qrcode`` for printers without native QR.

Labels are zh-CN by default with English available (``TicketStyle.locale``). Slips never carry
personal data: the queue number and a link, never a name or an ID number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import qrcode
import qrcode.constants
from escpos.printer import Dummy

__all__ = [
    "AppointmentSlip",
    "MaterialsNotice",
    "QueueTicket",
    "TicketStyle",
    "render_appointment",
    "render_materials_notice",
    "render_queue_ticket",
    "render_test_page",
]

ESC = b"\x1b"
GS = b"\x1d"
FS = b"\x1c"

_CJK_ENCODINGS = frozenset({"gb18030", "gbk", "gb2312", "big5"})

_LABELS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "number": "您的号码",
        "ahead": "前面还有 {n} 人等候",
        "ahead_none": "您是下一位",
        "wait": "预计等待 {lo}–{hi} 分钟",
        "scan": "扫码查看叫号进度",
        "issued": "取号时间",
        "keep": "请留意叫号，过号需重新取号",
        "materials": "一次性告知：请准备以下材料",
        "missing": "补正告知：请补齐以下材料后再来办理",
        "reference": "办件编号",
        "time_limit": "办理时限",
        "appointment": "预约成功",
        "slot": "预约时段",
        "code": "预约码",
        "checkin": "请提前10分钟到服务站签到",
        "test": "打印机自检",
        "printed": "打印时间",
    },
    "en": {
        "number": "Your number",
        "ahead": "{n} people ahead of you",
        "ahead_none": "You are next",
        "wait": "Estimated wait {lo}-{hi} min",
        "scan": "Scan to follow the queue",
        "issued": "Issued",
        "keep": "Please listen for your number",
        "materials": "Please bring the following",
        "missing": "Still needed: please bring the following",
        "reference": "Case",
        "time_limit": "Time limit",
        "appointment": "Appointment booked",
        "slot": "Time slot",
        "code": "Booking code",
        "checkin": "Please check in 10 minutes early",
        "test": "Printer self-test",
        "printed": "Printed",
    },
}


@dataclass(frozen=True, slots=True)
class TicketStyle:
    """Per-printer layout settings (from the kiosk's printer config)."""

    encoding: str = "gb18030"
    qr: Literal["native", "image"] = "native"
    qr_size: int = 6
    columns: int = 48
    """Characters per line in font A: 48 on 80 mm paper, 32 on 58 mm."""
    cut: Literal["partial", "full", "none"] = "partial"
    locale: str = "zh-CN"

    def label(self, key: str, **values: object) -> str:
        """A label in this style's locale (zh-CN unless the locale is English)."""
        table = _LABELS["en"] if self.locale.startswith("en") else _LABELS["zh-CN"]
        return table[key].format(**values)


@dataclass(frozen=True, slots=True)
class QueueTicket:
    """A queue number slip (排队取号)."""

    office: str
    service: str
    number: str
    people_ahead: int
    issued_at: datetime
    qr_content: str = ""
    wait_minutes: tuple[int, int] | None = None
    station: str = ""


@dataclass(frozen=True, slots=True)
class MaterialsNotice:
    """The one-time notice (一次性告知) of every material a service needs, or (``missing``) of every
    material a case still lacks (补正告知), with the case's number as ``reference``."""

    office: str
    service: str
    materials: Sequence[str]
    issued_at: datetime
    time_limit: str = ""
    qr_content: str = ""
    missing: bool = False
    reference: str = ""


@dataclass(frozen=True, slots=True)
class AppointmentSlip:
    """Confirmation of a booked appointment (预约办理)."""

    office: str
    service: str
    starts_at: datetime
    ends_at: datetime
    code: str
    issued_at: datetime
    qr_content: str = ""
    notes: Sequence[str] = field(default=())


class _Builder:
    """A thin layer over ``Dummy`` that encodes text itself and knows the slip's building blocks."""

    def __init__(self, style: TicketStyle) -> None:
        self.style = style
        self.printer = Dummy()
        self.printer.hw("INIT")
        if style.encoding.lower().replace("-", "") in _CJK_ENCODINGS:
            self.printer._raw(FS + b"&")  # Chinese character mode on

    def text(self, line: str) -> None:
        self.printer._raw(line.encode(self.style.encoding, errors="replace") + b"\n")

    def style_text(self, *, align: str = "left", bold: bool = False, size: int = 1) -> None:
        if size == 1:
            self.printer.set(align=align, bold=bold, normal_textsize=True)
        else:
            self.printer.set(align=align, bold=bold, custom_size=True, width=size, height=size)

    def rule(self) -> None:
        self.style_text(align="left")
        self.printer._raw(b"-" * self.style.columns + b"\n")

    def qr(self, content: str) -> None:
        if not content:
            return
        self.style_text(align="center")
        if self.style.qr == "native":
            self.printer.qr(content, size=self.style.qr_size, native=True)
            self.printer._raw(b"\n")
        else:
            self.printer._raw(raster_qr(content, module=self.style.qr_size))

    def finish(self) -> bytes:
        self.style_text(align="left")
        if self.style.cut == "none":
            self.printer.print_and_feed(4)
        else:
            self.printer.cut(mode="PART" if self.style.cut == "partial" else "FULL")
        return bytes(self.printer.output)


def raster_qr(content: str, *, module: int = 6) -> bytes:
    """A QR code as a ``GS v 0`` raster image (for printers without native QR), then a line feed."""
    code = qrcode.QRCode(border=2, box_size=1, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(content.encode("utf-8"))
    code.make(fit=True)
    matrix = code.get_matrix()
    size = len(matrix) * module
    width_bytes = (size + 7) // 8
    rows = bytearray()
    for row in matrix:
        bits = bytearray(width_bytes)
        for x, dark in enumerate(row):
            if not dark:
                continue
            for dx in range(module):
                px = x * module + dx
                bits[px // 8] |= 0x80 >> (px % 8)
        rows += bytes(bits) * module
    header = GS + b"v0\x00" + width_bytes.to_bytes(2, "little") + size.to_bytes(2, "little")
    return header + bytes(rows) + b"\n"


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


def _header(b: _Builder, office: str, service: str) -> None:
    b.style_text(align="center", bold=True, size=2)
    b.text(office)
    b.style_text(align="center", bold=True)
    b.text(service)
    b.rule()


def render_queue_ticket(ticket: QueueTicket, style: TicketStyle | None = None) -> bytes:
    """Queue slip: office, service, the number in large type, people ahead, wait, QR, time."""
    s = style or TicketStyle()
    b = _Builder(s)
    _header(b, ticket.office, ticket.service)
    b.style_text(align="center")
    b.text(s.label("number"))
    b.style_text(align="center", bold=True, size=4)
    b.text(ticket.number)
    b.style_text(align="center")
    if ticket.people_ahead > 0:
        b.text(s.label("ahead", n=ticket.people_ahead))
    else:
        b.text(s.label("ahead_none"))
    if ticket.wait_minutes is not None:
        lo, hi = ticket.wait_minutes
        b.text(s.label("wait", lo=lo, hi=hi))
    if ticket.qr_content:
        b.qr(ticket.qr_content)
        b.style_text(align="center")
        b.text(s.label("scan"))
    b.rule()
    b.style_text(align="left")
    b.text(f"{s.label('issued')}: {_time(ticket.issued_at)}")
    if ticket.station:
        b.text(ticket.station)
    b.text(s.label("keep"))
    return b.finish()


def render_materials_notice(notice: MaterialsNotice, style: TicketStyle | None = None) -> bytes:
    """One-time notice: every required material, numbered, plus the legal time limit."""
    s = style or TicketStyle()
    b = _Builder(s)
    _header(b, notice.office, notice.service)
    b.style_text(align="left", bold=True)
    b.text(s.label("missing" if notice.missing else "materials"))
    b.style_text(align="left")
    if notice.reference:
        b.text(f"{s.label('reference')}: {notice.reference}")
    for index, item in enumerate(notice.materials, start=1):
        b.text(f"{index}. {item}")
    if notice.time_limit:
        b.rule()
        b.text(f"{s.label('time_limit')}: {notice.time_limit}")
    b.qr(notice.qr_content)
    b.style_text(align="left")
    b.text(f"{s.label('printed')}: {_time(notice.issued_at)}")
    return b.finish()


def render_appointment(slip: AppointmentSlip, style: TicketStyle | None = None) -> bytes:
    """Appointment confirmation: service, time slot, booking code, QR for check-in."""
    s = style or TicketStyle()
    b = _Builder(s)
    _header(b, slip.office, slip.service)
    b.style_text(align="center", bold=True, size=2)
    b.text(s.label("appointment"))
    b.style_text(align="center")
    b.text(f"{s.label('slot')}: {_time(slip.starts_at)}-{slip.ends_at.strftime('%H:%M')}")
    b.style_text(align="center", bold=True, size=2)
    b.text(f"{s.label('code')} {slip.code}")
    b.qr(slip.qr_content)
    b.style_text(align="left")
    for note in slip.notes:
        b.text(note)
    b.text(s.label("checkin"))
    b.text(f"{s.label('printed')}: {_time(slip.issued_at)}")
    return b.finish()


def render_test_page(printed_at: datetime, style: TicketStyle | None = None) -> bytes:
    """The EXTERNAL health-check slip: title, a character ruler, sizes and a QR code."""
    s = style or TicketStyle()
    b = _Builder(s)
    b.style_text(align="center", bold=True, size=2)
    b.text(s.label("test"))
    b.style_text(align="left")
    b.text("".join(str(i % 10) for i in range(s.columns)))
    b.text(
        "中文 GB18030：二维码、排队号" if s.encoding.lower().replace("-", "") in _CJK_ENCODINGS else "ASCII"
    )
    b.qr("doorstep:printer-test")
    b.style_text(align="left")
    b.text(f"{s.label('printed')}: {_time(printed_at)}")
    return b.finish()
