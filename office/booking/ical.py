"""iCalendar (RFC 5545) for a booking confirmation: one VEVENT with a one-hour VALARM.

Lines end in CRLF and are folded at 75 octets without splitting a UTF-8 character; text values are
escaped. Only non-personal data goes in: service, office, times and the booking code.
"""

from __future__ import annotations

from datetime import UTC, datetime

from office.booking.views import BookingView

__all__ = ["booking_ics", "escape_text", "fold"]


def escape_text(value: str) -> str:
    """Escape a TEXT value (backslash, semicolon, comma, newline)."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def fold(line: str) -> str:
    """Fold one content line into ≤75-octet physical lines joined by CRLF + space."""
    out: list[str] = []
    current = ""
    size = 0
    limit = 75
    for ch in line:
        n = len(ch.encode())
        if size + n > limit:
            out.append(current)
            current, size, limit = ch, n, 74  # continuation lines start with one space
        else:
            current += ch
            size += n
    out.append(current)
    return "\r\n ".join(out)


def _utc(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def booking_ics(view: BookingView, *, now: datetime, host: str = "doorstep") -> bytes:
    """The ``text/calendar`` body for ``view``."""
    summary = f"{view.service_name} 预约办理"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//doorstep//booking//ZH",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{view.code}-{view.id}@{host}",
        f"DTSTAMP:{_utc(now)}",
        f"DTSTART:{_utc(view.starts_at)}",
        f"DTEND:{_utc(view.ends_at)}",
        f"SUMMARY:{escape_text(summary)}",
        f"LOCATION:{escape_text(view.office_name)}",
        f"DESCRIPTION:{escape_text(f'预约码 Code: {view.code}; 请提前到服务站签到')}",
        "STATUS:CONFIRMED" if view.state != "cancelled" else "STATUS:CANCELLED",
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        f"DESCRIPTION:{escape_text(summary)}",
        "TRIGGER:-PT1H",
        "END:VALARM",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return ("\r\n".join(fold(line) for line in lines) + "\r\n").encode()
