"""Synthetic document generator: determinism, ground truth, faults, and the IoU measure."""

from __future__ import annotations

import numpy as np
import pytest

from hardware.camera import synth
from hardware.camera.synth import Fault


def test_generation_is_deterministic_per_seed() -> None:
    """The same seed and size give identical pixels and corners; another seed differs."""
    a = synth.generate(42, 640, 480)
    b = synth.generate(42, 640, 480)
    c = synth.generate(43, 640, 480)
    np.testing.assert_array_equal(a.image, b.image)
    assert a.corners is not None and b.corners is not None and c.corners is not None
    np.testing.assert_array_equal(a.corners, b.corners)
    assert not np.array_equal(a.corners, c.corners)


@pytest.mark.parametrize("fault", [Fault.NONE, Fault.BLURRED, Fault.GLARE])
def test_whole_page_faults_keep_the_page_inside_the_frame(fault: Fault) -> None:
    """Normal, blurred and glare photographs have all four true corners inside the frame."""
    for seed in range(4):
        doc = synth.generate(seed, 800, 600, fault=fault)
        assert doc.image.shape == (600, 800, 3) and doc.image.dtype == np.uint8
        assert doc.corners is not None and doc.corners.shape == (4, 2)
        assert (doc.corners >= 0).all()
        assert (doc.corners[:, 0] < 800).all() and (doc.corners[:, 1] < 600).all()


def test_partial_pages_cross_the_frame_edge() -> None:
    """A partial page has at least one true corner outside the frame."""
    for seed in range(6):
        doc = synth.generate(seed, 800, 600, fault=Fault.PARTIAL)
        assert doc.corners is not None
        outside = (doc.corners[:, 0] < 0) | (doc.corners[:, 0] >= 800)
        outside |= (doc.corners[:, 1] < 0) | (doc.corners[:, 1] >= 600)
        assert outside.any()


def test_empty_frames_have_no_corners() -> None:
    """An empty desk has no ground-truth page."""
    assert synth.generate(1, 320, 240, fault=Fault.EMPTY).corners is None


def test_glare_saturates_pixels() -> None:
    """A glare photograph contains a saturated patch that a clean one of the same seed lacks."""
    glare = synth.generate(5, 800, 600, fault=Fault.GLARE).image
    assert (glare.min(axis=2) >= 250).sum() > 500


def test_iou_of_known_quads() -> None:
    """IoU is 1 for identical quads, 0 for disjoint ones, 1/3 for half-overlapping squares."""
    square = [[0, 0], [10, 0], [10, 10], [0, 10]]
    shifted = [[5, 0], [15, 0], [15, 10], [5, 10]]
    far = [[100, 100], [110, 100], [110, 110], [100, 110]]
    assert synth.iou(square, square) == pytest.approx(1.0)
    assert synth.iou(square, far) == 0.0
    assert synth.iou(square, shifted) == pytest.approx(1 / 3)
    assert synth.iou(square, list(reversed(square))) == pytest.approx(1.0)
    assert synth.iou(square, [[0, 0], [0, 0], [0, 0], [0, 0]]) == 0.0


def test_render_page_has_ink_and_a4_proportions() -> None:
    """A rendered page is A4-shaped, mostly white and carries dark content."""
    page = synth.render_page(9, long_side=700)
    h, w = page.shape[:2]
    assert h == 700 and abs(h / w - 1.414) < 0.01
    assert float(page.mean()) > 200
    assert (page.max(axis=2) < 80).sum() > 1000
    landscape = synth.render_page(9, long_side=700, landscape=True)
    assert landscape.shape[1] == 700
