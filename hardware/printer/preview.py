"""Render ESC/POS bytes to a PNG preview of the printed slip.

Two pure steps. :func:`parse` turns a byte stream into commands, driven by a table of the subset
of ESC/POS our layouts emit (and a few common neighbours): text, line feeds, print modes and
character size, bold, alignment, native QR (``GS ( k``), raster images (``GS v 0``), feeds,
cuts, Chinese character mode and real-time status requests. Anything else, or a command cut
short, raises :class:`~hardware.printer.errors.EscPosParseError`. :func:`render` lays the
commands out on a paper-wide canvas with Pillow, using a CJK font when one is installed
(``fonts-noto-cjk``) and Pillow's own font otherwise.

The printer simulator writes a preview per job; technicians and tests read it.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import qrcode
import qrcode.constants
from PIL import Image, ImageChops, ImageDraw, ImageFont

from hardware.printer.errors import EscPosParseError

__all__ = ["Command", "parse", "render", "render_png"]

_FONT_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)
_BASE_HEIGHT = 24  # font A is 12×24 dots; CJK characters 24×24
_LINE_GAP = 6
_MAX_CANVAS = 20_000  # dots; a preview longer than this is cut off


@dataclass(frozen=True, slots=True)
class Command:
    """One parsed ESC/POS element: ``name`` plus its arguments or payload."""

    name: str
    args: tuple[int, ...] = ()
    data: bytes = b""
    offset: int = 0


# Fixed-length commands: prefix -> (name, number of argument bytes).
_FIXED: dict[bytes, tuple[str, int]] = {
    b"\x1b@": ("init", 0),
    b"\x1b!": ("print_mode", 1),
    b"\x1bE": ("bold", 1),
    b"\x1bG": ("double_strike", 1),
    b"\x1b-": ("underline", 1),
    b"\x1ba": ("align", 1),
    b"\x1bM": ("font", 1),
    b"\x1b{": ("upside_down", 1),
    b"\x1bd": ("feed_lines", 1),
    b"\x1bJ": ("feed_dots", 1),
    b"\x1b2": ("line_spacing_default", 0),
    b"\x1b3": ("line_spacing", 1),
    b"\x1bt": ("code_page", 1),
    b"\x1br": ("colour", 1),
    b"\x1b ": ("char_spacing", 1),
    b"\x1bV": ("rotate", 1),
    b"\x1b=": ("select_peripheral", 1),
    b"\x1bp": ("drawer_kick", 3),
    b"\x1d!": ("char_size", 1),
    b"\x1dB": ("invert", 1),
    b"\x1db": ("smoothing", 1),
    b"\x1d|": ("density", 1),
    b"\x1dH": ("hri_position", 1),
    b"\x1df": ("hri_font", 1),
    b"\x1dh": ("barcode_height", 1),
    b"\x1dw": ("barcode_width", 1),
    b"\x1dL": ("left_margin", 2),
    b"\x1dW": ("print_width", 2),
    b"\x1c&": ("kanji_on", 0),
    b"\x1c.": ("kanji_off", 0),
    b"\x1c!": ("kanji_mode", 1),
    b"\x1c-": ("kanji_underline", 1),
    b"\x10\x04": ("status_request", 1),
    b"\x10\x05": ("realtime_request", 1),
}

_IGNORED_CONTROLS = frozenset({0x00, 0x07, 0x0C, 0x0D, 0x18})


def _parse_cut(data: bytes, pos: int) -> tuple[Command, int]:
    _need(data, pos, 3)
    mode = data[pos + 2]
    if mode in (0, 1, 48, 49):
        return Command("cut", (mode % 48, 0), offset=pos), pos + 3
    if mode in (65, 66):
        _need(data, pos, 4)
        return Command("cut", (mode - 65, data[pos + 3]), offset=pos), pos + 4
    raise EscPosParseError(f"unknown cut mode {mode}", reason="bad_argument", offset=pos)


def _parse_raster(data: bytes, pos: int) -> tuple[Command, int]:
    _need(data, pos, 8)
    if data[pos + 2] != 0x30:
        raise EscPosParseError("GS v must be followed by '0'", reason="unknown_command", offset=pos)
    mode, xl, xh, yl, yh = data[pos + 3 : pos + 8]
    width_bytes, height = xl + 256 * xh, yl + 256 * yh
    size = width_bytes * height
    _need(data, pos, 8 + size)
    payload = bytes(data[pos + 8 : pos + 8 + size])
    return Command("raster", (mode, width_bytes, height), payload, offset=pos), pos + 8 + size


def _parse_block(name: str) -> Callable[[bytes, int], tuple[Command, int]]:
    """``GS ( k`` / ``GS ( L``: pL pH then that many bytes (cn, fn, parameters)."""

    def parse_block(data: bytes, pos: int) -> tuple[Command, int]:
        _need(data, pos, 5)
        length = data[pos + 3] + 256 * data[pos + 4]
        _need(data, pos, 5 + length)
        body = bytes(data[pos + 5 : pos + 5 + length])
        if length < 2:
            raise EscPosParseError(f"{name} block too short", reason="length", offset=pos)
        return Command(name, (body[0], body[1]), body[2:], offset=pos), pos + 5 + length

    return parse_block


def _parse_column_image(data: bytes, pos: int) -> tuple[Command, int]:
    _need(data, pos, 5)
    mode, nl, nh = data[pos + 2 : pos + 5]
    if mode not in (0, 1, 32, 33):
        raise EscPosParseError(f"unknown bit-image mode {mode}", reason="bad_argument", offset=pos)
    columns = nl + 256 * nh
    size = columns * (3 if mode >= 32 else 1)
    _need(data, pos, 5 + size)
    return Command(
        "column_image", (mode, columns), bytes(data[pos + 5 : pos + 5 + size]), offset=pos
    ), pos + 5 + size


_VARIABLE: dict[bytes, Callable[[bytes, int], tuple[Command, int]]] = {
    b"\x1dV": _parse_cut,
    b"\x1dv": _parse_raster,
    b"\x1d(": lambda data, pos: _parse_paren(data, pos),
    b"\x1b*": _parse_column_image,
}


def _parse_paren(data: bytes, pos: int) -> tuple[Command, int]:
    _need(data, pos, 3)
    kind = data[pos + 2]
    if kind == ord("k"):
        return _parse_block("2d_code")(data, pos)
    if kind == ord("L"):
        return _parse_block("graphics")(data, pos)
    raise EscPosParseError(f"unsupported GS ( {kind:#04x}", reason="unknown_command", offset=pos)


def _need(data: bytes, pos: int, count: int) -> None:
    if pos + count > len(data):
        raise EscPosParseError("command truncated", reason="truncated", offset=pos)


def _iter_commands(data: bytes) -> Iterator[Command]:
    pos = 0
    n = len(data)
    while pos < n:
        byte = data[pos]
        if byte >= 0x20 or byte == 0x09:
            end = pos
            while end < n and (data[end] >= 0x20 or data[end] == 0x09):
                end += 1
            yield Command("text", data=bytes(data[pos:end]), offset=pos)
            pos = end
            continue
        if byte == 0x0A:
            yield Command("newline", offset=pos)
            pos += 1
            continue
        if byte in _IGNORED_CONTROLS:
            pos += 1
            continue
        if byte not in (0x1B, 0x1D, 0x1C, 0x10):
            raise EscPosParseError(
                f"unexpected control byte 0x{byte:02X}", reason="unknown_command", offset=pos
            )
        _need(data, pos, 2)
        prefix = bytes(data[pos : pos + 2])
        fixed = _FIXED.get(prefix)
        if fixed is not None:
            name, count = fixed
            _need(data, pos, 2 + count)
            yield Command(name, tuple(data[pos + 2 : pos + 2 + count]), offset=pos)
            pos += 2 + count
            continue
        variable = _VARIABLE.get(prefix)
        if variable is None:
            raise EscPosParseError(
                f"unsupported command {prefix.hex(' ')}", reason="unknown_command", offset=pos
            )
        command, pos = variable(data, pos)
        yield command


def parse(data: bytes) -> list[Command]:
    """Split an ESC/POS stream into commands; raises EscPosParseError on anything unsupported."""
    return list(_iter_commands(data))


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in _FONT_PATHS:
        if Path(path).is_file():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


@dataclass
class _Style:
    align: int = 0
    bold: bool = False
    width: int = 1
    height: int = 1
    invert: bool = False
    underline: bool = False


class _Canvas:
    """Accumulates printed rows (PIL images) and the current text line."""

    def __init__(self, width: int, encoding: str) -> None:
        self.width = width
        self.encoding = encoding
        self.rows: list[Image.Image] = []
        self.line: list[tuple[str, _Style]] = []
        self.height = 0
        self.qr: dict[str, int | bytes] = {"size": 3, "ec": 49}

    def add_row(self, image: Image.Image, align: int) -> None:
        if self.height >= _MAX_CANVAS:
            return
        row = Image.new("L", (self.width, image.height), 255)
        free = max(0, self.width - image.width)
        x = {0: 0, 1: free // 2, 2: free}.get(align % 48, 0)
        row.paste(image.crop((0, 0, min(image.width, self.width), image.height)), (x, 0))
        self.rows.append(row)
        self.height += row.height

    def feed(self, dots: int) -> None:
        if dots > 0 and self.height < _MAX_CANVAS:
            self.rows.append(Image.new("L", (self.width, dots), 255))
            self.height += dots

    def flush(self, *, force: bool = False) -> None:
        if not self.line:
            if force:
                self.feed(_BASE_HEIGHT + _LINE_GAP)
            return
        pieces: list[tuple[str, _Style]] = []
        for text, style in self.line:
            if pieces and pieces[-1][1] == style:
                pieces[-1] = (pieces[-1][0] + text, style)
            else:
                pieces.append((text, style))
        self.line = []
        height = max(_BASE_HEIGHT * style.height for _, style in pieces)
        glyphs: list[tuple[Image.Image, int]] = []
        for text, style in pieces:
            font = _font(round(_BASE_HEIGHT * style.height * 0.92))
            for ch in text:
                glyphs.append((_glyph(ch, font, style, height), style.align))
        align = pieces[0][1].align
        x = 0
        row_parts: list[Image.Image] = []
        for glyph, _ in glyphs:
            if x + glyph.width > self.width and row_parts:
                self._emit_line(row_parts, height, align)
                x = 0
                row_parts = []
            row_parts.append(glyph)
            x += glyph.width
        self._emit_line(row_parts, height, align)

    def _emit_line(self, parts: list[Image.Image], height: int, align: int) -> None:
        width = max(1, sum(part.width for part in parts))
        line = Image.new("L", (width, height + _LINE_GAP), 255)
        x = 0
        for part in parts:
            line.paste(part, (x, 0))
            x += part.width
        self.add_row(line, align)


def _glyph(
    ch: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, style: _Style, height: int
) -> Image.Image:
    cell = _BASE_HEIGHT * style.height
    wide = ord(ch) > 0x2E7F
    width = (cell if wide else cell // 2) * style.width // style.height
    width = max(1, width)
    img = Image.new("L", (width, height), 0 if style.invert else 255)
    draw = ImageDraw.Draw(img)
    ink = 255 if style.invert else 0
    if ch not in (" ", "\t"):
        box = cell if wide else cell // 2
        glyph = Image.new("L", (box, cell), 255)
        anchor = (box / 2, round(cell * 0.86))
        ImageDraw.Draw(glyph).text(anchor, ch, fill=0, font=font, anchor="ms")
        if style.bold:
            shifted = Image.new("L", glyph.size, 255)
            ImageDraw.Draw(shifted).text((anchor[0] + 1, anchor[1]), ch, fill=0, font=font, anchor="ms")
            glyph = ImageChops.darker(glyph, shifted)
        if glyph.width != width:
            glyph = glyph.resize((width, cell))
        if style.invert:
            glyph = ImageChops.invert(glyph)
        img.paste(glyph, (0, height - cell))
    if style.underline:
        draw.line((0, height - 2, width, height - 2), fill=ink, width=2)
    return img


def _raster_image(width_bytes: int, height: int, payload: bytes) -> Image.Image:
    img = Image.frombytes("1", (width_bytes * 8, height), payload)
    return Image.eval(img.convert("L"), lambda v: 255 - v)


def _qr_image(data: bytes, module: int, ec: int) -> Image.Image | None:
    levels = {
        48: qrcode.constants.ERROR_CORRECT_L,
        49: qrcode.constants.ERROR_CORRECT_M,
        50: qrcode.constants.ERROR_CORRECT_Q,
        51: qrcode.constants.ERROR_CORRECT_H,
    }
    code = qrcode.QRCode(border=2, box_size=max(1, min(16, module)), error_correction=levels.get(ec, 0))
    code.add_data(data)
    try:
        code.make(fit=True)
    except (ValueError, qrcode.exceptions.DataOverflowError):
        return None
    matrix = code.get_matrix()
    size = len(matrix)
    img = Image.new("L", (size, size), 255)
    img.putdata([0 if dark else 255 for row in matrix for dark in row])
    return img.resize((size * code.box_size, size * code.box_size), Image.Resampling.NEAREST)


def _apply(canvas: _Canvas, style: _Style, command: Command) -> _Style:
    name, args = command.name, command.args
    if name == "text":
        canvas.line.append((command.data.decode(canvas.encoding, errors="replace"), _copy(style)))
    elif name == "newline":
        canvas.flush(force=True)
    elif name == "init":
        canvas.flush()
        return _Style()
    elif name == "print_mode":
        style.bold = bool(args[0] & 0x08)
        style.height = 2 if args[0] & 0x10 else 1
        style.width = 2 if args[0] & 0x20 else 1
        style.underline = bool(args[0] & 0x80)
    elif name == "char_size":
        style.width = (args[0] >> 4 & 0x07) + 1
        style.height = (args[0] & 0x07) + 1
    elif name in ("bold", "double_strike"):
        style.bold = bool(args[0] & 1)
    elif name == "underline":
        style.underline = args[0] % 48 != 0
    elif name == "align":
        style.align = args[0] % 48
    elif name == "invert":
        style.invert = bool(args[0] & 1)
    elif name == "feed_lines":
        canvas.flush()
        canvas.feed(args[0] * (_BASE_HEIGHT + _LINE_GAP))
    elif name == "feed_dots":
        canvas.flush()
        canvas.feed(args[0])
    elif name == "cut":
        canvas.flush()
        canvas.feed(args[1])
        cut = Image.new("L", (canvas.width, 12), 255)
        ImageDraw.Draw(cut).line((0, 6, canvas.width, 6), fill=128, width=2)
        canvas.add_row(cut, 0)
    elif name == "raster":
        canvas.flush()
        canvas.add_row(_raster_image(args[1], args[2], command.data), style.align)
    elif name == "2d_code" and args[0] == ord("1"):
        _qr_command(canvas, style, args[1], command.data)
    return style


def _qr_command(canvas: _Canvas, style: _Style, fn: int, data: bytes) -> None:
    if fn == 67 and data:
        canvas.qr["size"] = data[0]
    elif fn == 69 and data:
        canvas.qr["ec"] = data[0]
    elif fn == 80:
        canvas.qr["data"] = data[1:] if data[:1] == b"0" else data
    elif fn == 81:
        canvas.flush()
        payload = canvas.qr.get("data", b"")
        size, ec = canvas.qr["size"], canvas.qr["ec"]
        if isinstance(payload, bytes) and payload and isinstance(size, int) and isinstance(ec, int):
            image = _qr_image(payload, size, ec)
            if image is not None:
                canvas.add_row(image, style.align)


def _copy(style: _Style) -> _Style:
    return _Style(style.align, style.bold, style.width, style.height, style.invert, style.underline)


def render(data: bytes, *, width: int = 576, encoding: str = "gb18030") -> Image.Image:
    """Lay out an ESC/POS stream on paper ``width`` dots wide (576 for 80 mm, 384 for 58 mm)."""
    commands = parse(data)
    canvas = _Canvas(width, encoding)
    style = _Style()
    for command in commands:
        style = _apply(canvas, style, command)
    canvas.flush()
    margin = 16
    total = sum(row.height for row in canvas.rows) + 2 * margin
    page = Image.new("L", (width + 2 * margin, max(total, 2 * margin + 1)), 255)
    y = margin
    for row in canvas.rows:
        page.paste(row, (margin, y))
        y += row.height
    return page


def render_png(data: bytes, *, width: int = 576, encoding: str = "gb18030") -> bytes:
    """:func:`render` encoded as PNG bytes."""
    out = io.BytesIO()
    render(data, width=width, encoding=encoding).save(out, format="PNG")
    return out.getvalue()
