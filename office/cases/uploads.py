"""Validation of uploaded document bytes, hostile input assumed: pure, no I/O but the bytes given.

Checks, in order, each mapped to one refusal (status, code)::

    empty or over the size limit           413 document_too_large   (size checked first)
    type not JPEG / PNG / PDF by magic     415 unsupported_type     (the declared type is not trusted)
    declared Content-Type ≠ sniffed type   415 type_mismatch
    pixel count over the limit (header)    422 decompression_bomb   (read before any decoding)
    image does not decode (truncated …)    422 undecodable
    PDF without header / trailer           422 undecodable

Dimensions come from the image header (Pillow's lazy ``Image.open``) before anything is decoded, so
a 100 000 × 100 000 PNG of a few kilobytes is refused without allocating its pixels. Images under
the limit are then decoded once (JPEG at 1/8 scale via ``draft``) to prove they are whole.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

__all__ = [
    "ACCEPTED_TYPES",
    "DEFAULT_MAX_PIXELS",
    "UploadRejected",
    "ValidatedUpload",
    "sniff_type",
    "validate_upload",
]

#: Accepted media types.
ACCEPTED_TYPES = ("image/jpeg", "image/png", "application/pdf")
#: Images with more pixels than this are refused as decompression bombs (50 megapixels).
DEFAULT_MAX_PIXELS = 50_000_000

_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
)
_PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG"}


class UploadRejected(ValueError):
    """The upload is refused; ``status`` and ``code`` are what the client sees (never the bytes)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class ValidatedUpload:
    """Facts about accepted bytes."""

    mime: str
    width: int
    height: int
    size: int
    sha256: str


def sniff_type(data: bytes) -> str | None:
    """The media type told by the first bytes, or None when it is none of the accepted ones."""
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    return None


def _declared(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def validate_upload(
    data: bytes, content_type: str | None, *, max_bytes: int, max_pixels: int = DEFAULT_MAX_PIXELS
) -> ValidatedUpload:
    """Accept ``data`` or raise :class:`UploadRejected`."""
    if len(data) > max_bytes:
        raise UploadRejected(413, "document_too_large", f"documents are limited to {max_bytes} bytes")
    mime = sniff_type(data)
    if mime is None:
        raise UploadRejected(415, "unsupported_type", "only JPEG, PNG and PDF documents are accepted")
    declared = _declared(content_type)
    if declared != mime:
        raise UploadRejected(415, "type_mismatch", "Content-Type does not match the document's bytes")
    width = height = 0
    if mime == "application/pdf":
        if b"%%EOF" not in data[-1024:]:
            raise UploadRejected(422, "undecodable", "the PDF is truncated")
    else:
        width, height = _check_image(data, mime, max_pixels)
    return ValidatedUpload(mime, width, height, len(data), hashlib.sha256(data).hexdigest())


def _check_image(data: bytes, mime: str, max_pixels: int) -> tuple[int, int]:
    with warnings.catch_warnings():
        # Pillow's own bomb check warns (or raises) at open; both mean "refuse".
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as img:
                if img.format != _PIL_FORMATS[mime]:
                    raise UploadRejected(415, "type_mismatch", "the image is not what its header says")
                width, height = img.size
                if width < 1 or height < 1 or width * height > max_pixels:
                    raise UploadRejected(
                        422, "decompression_bomb", f"images are limited to {max_pixels} pixels"
                    )
                if mime == "image/jpeg":
                    img.draft("L", (max(1, width // 8), max(1, height // 8)))
                img.load()
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as err:
            raise UploadRejected(422, "decompression_bomb", "the image is too large to decode") from err
        except UploadRejected:
            raise
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as err:
            raise UploadRejected(422, "undecodable", "the image does not decode") from err
    return width, height
