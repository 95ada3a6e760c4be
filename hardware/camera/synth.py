"""Synthetic photographed documents with ground-truth corners.

A deterministic (seeded) generator of what a document camera (高拍仪) sees: a page of text-like
content, warped by a random perspective onto a textured desk, with sensor noise, defocus blur,
specular glare and, on request, a page pushed partly out of the frame. Every image comes with the
true page corners (top-left, top-right, bottom-right, bottom-left, in frame pixels), so detection can
be scored with :func:`iou`.

The camera simulator renders its frames with this module, and the tests and ``bench/bench_document.py``
use it as their data set. Nothing here reads a camera or the network; the only optional input is a
CJK font from the system (``fonts-noto-cjk``), and without one the page carries shapes instead of
Chinese text.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "Fault",
    "SynthDocument",
    "generate",
    "iou",
    "render_page",
]

Quad = npt.NDArray[np.float32]
"""Four corners, shape (4, 2), ordered top-left, top-right, bottom-right, bottom-left."""

_CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)

_PHRASES = (
    "居民身份证",
    "户口簿",
    "社会保障卡",
    "申请表",
    "街道办事处",
    "高龄津贴申请",
    "一次性告知",
    "办理时限",
    "证明材料",
    "复印件一份",
    "本人签字",
    "家门口服务站",
)


class Fault(Enum):
    """Image faults the generator can put into a photograph (hardware-protocols §7.3)."""

    NONE = "none"
    BLURRED = "blurred"
    GLARE = "glare"
    PARTIAL = "partial"
    EMPTY = "empty"


@dataclass(frozen=True, slots=True)
class SynthDocument:
    """One synthetic photograph and its ground truth.

    ``corners`` is ``None`` for :attr:`Fault.EMPTY` (no page in view). For :attr:`Fault.PARTIAL`
    at least one corner lies outside the frame.
    """

    image: npt.NDArray[np.uint8]
    corners: Quad | None
    fault: Fault
    seed: int


def iou(quad_a: npt.ArrayLike, quad_b: npt.ArrayLike) -> float:
    """Intersection over union of two convex quadrilaterals (any vertex order, same winding)."""
    a = _convex(np.asarray(quad_a, dtype=np.float32).reshape(-1, 2))
    b = _convex(np.asarray(quad_b, dtype=np.float32).reshape(-1, 2))
    area_a = float(cv2.contourArea(a))
    area_b = float(cv2.contourArea(b))
    if area_a <= 0.0 or area_b <= 0.0:
        return 0.0
    inter, _ = cv2.intersectConvexConvex(a, b)
    union = area_a + area_b - float(inter)
    return float(inter) / union if union > 0.0 else 0.0


def _convex(points: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    hull = cv2.convexHull(points)
    return np.asarray(hull, dtype=np.float32).reshape(-1, 2)


@functools.cache
def _cjk_font_path() -> str | None:
    for candidate in _CJK_FONTS:
        if Path(candidate).is_file():
            return candidate
    return None


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont | None:
    path = _cjk_font_path()
    if path is None:
        return None
    return ImageFont.truetype(path, size)


def render_page(seed: int, *, long_side: int = 1000, landscape: bool = False) -> npt.NDArray[np.uint8]:
    """Render a flat A4-proportioned page (BGR) with a title, text lines, a table and a stamp."""
    rng = random.Random(seed)
    short_side = round(long_side / 1.4142)
    width, height = (long_side, short_side) if landscape else (short_side, long_side)
    tint = rng.randint(236, 252)
    page = Image.new("RGB", (width, height), (tint, tint, min(255, tint + rng.randint(0, 3))))
    draw = ImageDraw.Draw(page)
    margin = width // 10
    line_h = max(12, height // 34)
    title_font = _font(round(line_h * 1.3))
    body_font = _font(round(line_h * 0.75))
    y = margin
    ink = (rng.randint(10, 50),) * 3
    if title_font is not None:
        title = rng.choice(_PHRASES) + rng.choice(("表", "通知书", "证明", ""))
        draw.text((width // 2, y), title, fill=ink, font=title_font, anchor="mt")
    else:
        draw.rectangle((width // 3, y, 2 * width // 3, y + line_h), fill=ink)
    y += 2 * line_h
    while y < height - 3 * margin:
        if rng.random() < 0.15:
            _draw_table(draw, rng, margin, y, width - margin, line_h, ink)
            y += 4 * line_h
            continue
        x = margin + (line_h if rng.random() < 0.3 else 0)
        right = width - margin - rng.randint(0, width // 3)
        if body_font is not None:
            text = ""
            while body_font.getlength(text) < right - x:
                text += rng.choice(_PHRASES) + rng.choice(("，", "。", "：", "、"))
            draw.text((x, y), text[: max(1, len(text) - 2)], fill=ink, font=body_font)
        else:
            while x < right:
                word = rng.randint(line_h // 2, line_h * 3)
                draw.rectangle((x, y + line_h // 5, min(right, x + word), y + line_h * 3 // 4), fill=ink)
                x += word + line_h // 3
        y += line_h
    if rng.random() < 0.6:
        cx, cy, r = width - 2 * margin, height - 2 * margin, margin // 1.4
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(40, 40, 200), width=max(2, line_h // 6))
    return np.asarray(page, dtype=np.uint8)[:, :, ::-1].copy()


def _draw_table(
    draw: ImageDraw.ImageDraw,
    rng: random.Random,
    left: int,
    top: int,
    right: int,
    line_h: int,
    ink: tuple[int, ...],
) -> None:
    cols = rng.randint(2, 4)
    rows = 3
    width = max(1, line_h // 12)
    fill = (ink[0], ink[1], ink[2])
    for r in range(rows + 1):
        yy = top + r * line_h
        draw.line((left, yy, right, yy), fill=fill, width=width)
    for c in range(cols + 1):
        xx = left + (right - left) * c // cols
        draw.line((xx, top, xx, top + rows * line_h), fill=fill, width=width)


def _background(rng: np.random.Generator, width: int, height: int) -> npt.NDArray[np.float32]:
    """A desk: a base colour with low-frequency texture, optional wood grain and vignetting."""
    kind = rng.integers(0, 4)
    if kind == 0:  # dark mat, the usual 高拍仪 base
        base = rng.uniform(15, 60, size=3)
    elif kind == 1:  # wood
        base = np.array([rng.uniform(40, 90), rng.uniform(70, 120), rng.uniform(110, 160)])
    elif kind == 2:  # grey office table
        base = rng.uniform(90, 150, size=1).repeat(3) + rng.uniform(-8, 8, size=3)
    else:  # coloured cloth
        base = rng.uniform(30, 160, size=3)
    small = rng.normal(0.0, 1.0, size=(max(2, height // 40), max(2, width // 40), 1)).astype(np.float32)
    texture = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)[:, :, None]
    img = np.empty((height, width, 3), dtype=np.float32)
    img[:] = base.astype(np.float32)
    img += texture * rng.uniform(4, 14)
    if kind == 1:
        xs = np.arange(width, dtype=np.float32)
        grain = np.sin(xs / rng.uniform(6, 20) + rng.uniform(0, 6)) * rng.uniform(4, 12)
        img += grain[None, :, None]
    return img


def _random_quad(
    rng: np.random.Generator, width: int, height: int, page_w: int, page_h: int, partial: bool
) -> Quad:
    """Pick page corners: scale, rotation, perspective jitter, placed inside (or across) the frame."""
    for attempt in range(400):
        shrink = 1.0 - attempt / 500.0
        area_fraction = rng.uniform(0.22, 0.62) * shrink
        scale = np.sqrt(area_fraction * width * height / (page_w * page_h))
        w, h = page_w * scale, page_h * scale
        angle = np.deg2rad(rng.uniform(-25, 25) if rng.random() < 0.8 else rng.uniform(-60, 60))
        base = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
        base += rng.uniform(-0.07, 0.07, size=(4, 2)) * np.array([w, h])
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        pts = base @ rot.T
        if partial:
            cx = rng.uniform(0.0, width)
            cy = rng.uniform(0.0, height)
        else:
            cx = rng.uniform(0.3, 0.7) * width
            cy = rng.uniform(0.3, 0.7) * height
        pts = pts + np.array([cx, cy])
        margin = 0.02 * min(width, height)
        inside = (
            (pts[:, 0] >= margin)
            & (pts[:, 0] <= width - 1 - margin)
            & (pts[:, 1] >= margin)
            & (pts[:, 1] <= height - 1 - margin)
        )
        centre_in = 0 <= cx < width and 0 <= cy < height
        if (not partial and inside.all()) or (
            partial and not inside.all() and inside.sum() >= 1 and centre_in
        ):
            return np.asarray(pts, dtype=np.float32)
    raise RuntimeError("could not place a page")  # pragma: no cover - 400 tries always succeed


def generate(
    seed: int,
    width: int = 1920,
    height: int = 1080,
    *,
    fault: Fault = Fault.NONE,
    page: npt.NDArray[np.uint8] | None = None,
) -> SynthDocument:
    """Render one photograph of a document, deterministic for a given ``seed`` and arguments.

    ``Fault.NONE`` still varies lighting, noise, mild blur and an occasional small highlight, as real
    captures do; the other faults make the defect unmistakable (strong blur, a saturated glare blob,
    a page across the frame edge, or no page at all). ``page`` overrides the rendered page content.
    """
    rng = np.random.default_rng(seed)
    img = _background(rng, width, height)
    corners: Quad | None = None
    if fault is not Fault.EMPTY:
        long_side = max(400, min(1000, round(0.9 * max(width, height))))
        landscape = bool(rng.random() < 0.25)
        flat = page if page is not None else render_page(seed, long_side=long_side, landscape=landscape)
        ph, pw = flat.shape[:2]
        corners = _random_quad(rng, width, height, pw, ph, partial=fault is Fault.PARTIAL)
        src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], dtype=np.float32)
        matrix = cv2.getPerspectiveTransform(src, corners)
        exposure = np.float32(rng.uniform(0.72, 0.9))
        warped = cv2.warpPerspective(flat, matrix, (width, height), flags=cv2.INTER_LINEAR) * exposure
        mask = cv2.warpPerspective(
            np.ones((ph, pw), dtype=np.float32), matrix, (width, height), flags=cv2.INTER_LINEAR
        )
        offset = max(1, round(width / 250))
        shift = np.array([[1, 0, offset], [0, 1, offset]], dtype=np.float32)
        shadow = cv2.GaussianBlur(cv2.warpAffine(mask, shift, (width, height)), (0, 0), max(2.0, width / 300))
        shade = cv2.merge([(1.0 - 0.35 * shadow).astype(np.float32)] * 3)
        img = np.asarray(cv2.multiply(img, shade), dtype=np.float32)
        img = np.asarray(cv2.blendLinear(img, warped.astype(np.float32), 1.0 - mask, mask), dtype=np.float32)
    # Uneven lighting: a soft gradient across the frame, computed small and scaled up.
    gx, gy = rng.uniform(-1, 1, size=2)
    yy, xx = np.mgrid[0:9, 0:16].astype(np.float32)
    light = 1.0 + rng.uniform(0.0, 0.18) * ((xx / 15 - 0.5) * gx + (yy / 8 - 0.5) * gy)
    light_full = cv2.resize(light.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    img = np.asarray(cv2.multiply(img, cv2.merge([light_full] * 3)), dtype=np.float32)
    if fault is Fault.GLARE or (fault is Fault.NONE and rng.random() < 0.15):
        img = _add_glare(rng, img, corners, strong=fault is Fault.GLARE)
    noise = np.empty_like(img)
    cv2.setRNGSeed(int(rng.integers(0, 2**31 - 1)))
    sd = float(rng.uniform(1.0, 5.0))
    cv2.randn(noise, np.zeros(3), np.full(3, sd))
    out = np.asarray(cv2.add(img, noise), dtype=np.float32)
    out8 = np.clip(out, 0, 255).astype(np.uint8)
    sigma = rng.uniform(4.0, 7.0) if fault is Fault.BLURRED else rng.uniform(0.0, 1.1)
    sigma *= width / 1920.0
    if sigma > 0.3:
        out8 = np.asarray(cv2.GaussianBlur(out8, (0, 0), sigmaX=sigma), dtype=np.uint8)
    return SynthDocument(image=out8, corners=corners, fault=fault, seed=seed)


def _add_glare(
    rng: np.random.Generator, img: npt.NDArray[np.float32], corners: Quad | None, *, strong: bool
) -> npt.NDArray[np.float32]:
    """Add a specular highlight: a saturated core with a soft halo, on the page when there is one."""
    height, width = img.shape[:2]
    if corners is not None:
        weights = rng.dirichlet(np.ones(4))
        cx, cy = (weights[:, None] * corners).sum(axis=0)
    else:
        cx, cy = rng.uniform(0.2, 0.8) * width, rng.uniform(0.2, 0.8) * height
    radius = min(width, height) * (rng.uniform(0.07, 0.13) if strong else rng.uniform(0.015, 0.03))
    gain = 420.0 if strong else 180.0
    # Drawn and blurred at 1/4 scale (a wide Gaussian is costly at full size), then scaled up.
    q = 4
    small = np.zeros((-(-height // q), -(-width // q)), dtype=np.float32)
    centre = (round(float(cx) / q), round(float(cy) / q))
    cv2.circle(small, centre, max(1, round(radius * 0.6 / q)), gain, thickness=-1)
    small = cv2.GaussianBlur(small, (0, 0), max(0.5, radius * 0.5 / q))
    blob = np.asarray(cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR), dtype=np.float32)
    return np.asarray(cv2.add(img, cv2.merge([blob] * 3)), dtype=np.float32)
