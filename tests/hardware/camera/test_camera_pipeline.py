"""Document pipeline on synthetic photographs: detection, warp, deskew, quality, auto-capture, output."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from hardware.camera import pipeline, synth
from hardware.camera.pipeline import QualityProblem
from hardware.camera.synth import Fault

SIZE = (960, 720)


@pytest.fixture(scope="module")
def normal_set() -> list[synth.SynthDocument]:
    """Forty fault-free synthetic photographs (perspective, noise, mild blur, small highlights)."""
    return [synth.generate(seed, *SIZE) for seed in range(40)]


def test_detection_iou_on_synthetic_set(normal_set: list[synth.SynthDocument]) -> None:
    """At least 90% of 40 generated photographs are detected with corner IoU ≥ 0.95."""
    scores = []
    for doc in normal_set:
        found = pipeline.detect_page(doc.image)
        assert doc.corners is not None
        scores.append(0.0 if found is None else synth.iou(found.corners, doc.corners))
    share = float(np.mean(np.array(scores) >= 0.95))
    assert share >= 0.9, f"only {share:.0%} of pages detected with IoU ≥ 0.95"
    assert float(np.median(scores)) > 0.98


def test_detection_maps_corners_back_to_full_resolution() -> None:
    """The same scene at 1920×1080 and 960×540 yields corners that differ by the scale factor."""
    big = synth.generate(7, 1920, 1080)
    found = pipeline.detect_page(big.image)
    assert found is not None and big.corners is not None
    assert synth.iou(found.corners, big.corners) > 0.97
    assert float(np.abs(found.corners - big.corners).max()) < 12.0


def test_no_page_on_an_empty_desk() -> None:
    """A desk without a document gives no detection (or at worst a flagged one) and NO_PAGE."""
    for seed in range(5):
        doc = synth.generate(seed, *SIZE, fault=Fault.EMPTY)
        analysis = pipeline.analyze(doc.image)
        assert not analysis.quality.ok
        if analysis.detection is None:
            assert analysis.quality.problems == (QualityProblem.NO_PAGE,)


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        (Fault.BLURRED, QualityProblem.BLURRED),
        (Fault.GLARE, QualityProblem.GLARE),
        (Fault.PARTIAL, QualityProblem.PARTIAL),
    ],
)
def test_quality_flags_each_fault(fault: Fault, problem: QualityProblem) -> None:
    """Blurred, glare and partial photographs are each flagged with their own problem."""
    hits = 0
    for seed in range(100, 106):
        doc = synth.generate(seed, *SIZE, fault=fault)
        quality = pipeline.analyze(doc.image).quality
        hits += problem in quality.problems
    assert hits >= 5


def test_quality_passes_clean_photographs(normal_set: list[synth.SynthDocument]) -> None:
    """Most fault-free photographs pass every quality check."""
    passed = sum(pipeline.analyze(doc.image).quality.ok for doc in normal_set[:20])
    assert passed >= 16


def test_quality_hint_has_chinese_default_and_english() -> None:
    """Each quality problem has a zh-CN hint by default and an English one on request."""
    for problem in QualityProblem:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in problem.hint())
        assert problem.hint("en").isascii()


def test_order_corners_is_clockwise_from_top_left() -> None:
    """Shuffled corners come back as TL, TR, BR, BL."""
    quad = np.array([[10, 10], [110, 20], [100, 200], [5, 190]], dtype=np.float32)
    shuffled = quad[[2, 0, 3, 1]]
    np.testing.assert_array_equal(pipeline.order_corners(shuffled), quad)


def test_warp_restores_the_flat_page() -> None:
    """Warping a synthetic photo with its true corners recovers the page's aspect and content."""
    flat = synth.render_page(3, long_side=600)
    doc = synth.generate(3, 1280, 960, page=flat)
    assert doc.corners is not None
    warped = pipeline.warp_page(doc.image, doc.corners)
    ratio = warped.shape[0] / warped.shape[1]
    assert abs(ratio - flat.shape[0] / flat.shape[1]) < 0.25
    resized = cv2.resize(warped, (flat.shape[1], flat.shape[0]))
    corr = np.corrcoef(
        cv2.cvtColor(resized, cv2.COLOR_BGR2GRAY).ravel(), cv2.cvtColor(flat, cv2.COLOR_BGR2GRAY).ravel()
    )[0, 1]
    assert corr > 0.6


def test_warp_respects_max_side() -> None:
    """``max_side`` bounds the output's long side."""
    frame = np.full((400, 400, 3), 200, dtype=np.uint8)
    out = pipeline.warp_page(frame, [[0, 0], [399, 0], [399, 299], [0, 299]], max_side=100)
    assert max(out.shape[:2]) == 100


def test_deskew_recovers_a_small_rotation() -> None:
    """A page rotated by 4 degrees is measured and straightened to within one degree."""
    page = synth.render_page(11, long_side=800)
    h, w = page.shape[:2]
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), -4.0, 1.0)
    tilted = np.asarray(cv2.warpAffine(page, rot, (w, h), borderValue=(245, 245, 245)), dtype=np.uint8)
    _, angle = pipeline.deskew(tilted)
    assert abs(angle - 4.0) <= 1.0
    same, zero = pipeline.deskew(page)
    assert zero == 0.0 and same is page


def test_orientation_detects_a_quarter_turn() -> None:
    """Text lines running vertically ask for a 90-degree turn; horizontal lines for none."""
    page = synth.render_page(5, long_side=800)
    assert pipeline.orientation(page) == 0
    turned = np.asarray(cv2.rotate(page, cv2.ROTATE_90_CLOCKWISE), dtype=np.uint8)
    assert pipeline.orientation(turned) == 90


def test_straighten_turns_and_deskews() -> None:
    """A page turned a quarter and tilted 3 degrees comes back with horizontal text lines."""
    page = synth.render_page(8, long_side=800)
    turned = np.asarray(cv2.rotate(page, cv2.ROTATE_90_COUNTERCLOCKWISE), dtype=np.uint8)
    h, w = turned.shape[:2]
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), 3.0, 1.0)
    tilted = np.asarray(cv2.warpAffine(turned, rot, (w, h), borderValue=(245, 245, 245)), dtype=np.uint8)
    out, turn, skew = pipeline.straighten(tilted)
    assert turn == 90 and abs(skew + 3.0) <= 1.0
    assert pipeline.orientation(out) == 0 and out.shape[0] > out.shape[1]


def test_steady_detector_fires_once_per_still_page() -> None:
    """Auto-capture fires after N steady frames, once, and re-arms when the page moves."""
    steady = pipeline.SteadyDetector(frames=4, tolerance=0.01)
    quad = np.array([[100, 100], [500, 110], [490, 600], [95, 590]], dtype=np.float32)
    size = (1280, 720)
    fired = [steady.update(quad + (i % 2), size) for i in range(10)]
    assert fired == [False, False, False, True, False, False, False, False, False, False]
    assert steady.update(quad + 60, size) is False  # moved: re-armed, count restarts
    assert [steady.update(quad + 60, size) for _ in range(3)] == [False, False, True]


def test_steady_detector_waits_for_good_quality_and_resets_on_no_page() -> None:
    """Bad-quality frames hold the count at zero; losing the page resets the detector."""
    steady = pipeline.SteadyDetector(frames=3)
    quad = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], dtype=np.float32)
    size = (100, 100)
    assert not any(steady.update(quad, size, quality_ok=False) for _ in range(5))
    assert steady.steady_frames == 0
    assert [steady.update(quad, size) for _ in range(3)] == [False, False, True]
    assert steady.update(None, size) is False
    assert steady.steady_frames == 0
    with pytest.raises(ValueError, match="at least 2"):
        pipeline.SteadyDetector(frames=1)


def test_jpeg_round_trip() -> None:
    """encode_jpeg produces a decodable JPEG of the same size."""
    img = synth.generate(1, 640, 480).image
    data = pipeline.encode_jpeg(img, quality=80)
    assert data[:2] == b"\xff\xd8"
    decoded = np.asarray(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR))
    assert decoded.shape == img.shape


def test_pdf_has_one_page_per_image() -> None:
    """write_pdf accepts arrays, grey images and JPEG bytes and writes that many pages."""
    colour = synth.render_page(1, long_side=400)
    grey = cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY)
    pages: list[np.ndarray | bytes] = [colour, grey, pipeline.encode_jpeg(colour)]
    pdf = pipeline.write_pdf(pages)
    assert pdf.startswith(b"%PDF")
    assert re.search(rb"/Count 3\b", pdf)
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 3
    with pytest.raises(ValueError, match="at least one page"):
        pipeline.write_pdf([])


def test_detection_accepts_grey_frames() -> None:
    """A single-channel frame is handled like a colour one."""
    doc = synth.generate(21, *SIZE)
    grey = np.asarray(cv2.cvtColor(doc.image, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
    found = pipeline.detect_page(grey)
    assert found is not None and doc.corners is not None
    assert synth.iou(found.corners, doc.corners) > 0.9
