"""Similarity metrics on hand-made maps, against values worked out by hand."""

import numpy as np
import pytest

from app.trust.similarity import hog_similarity, similarities, spearman, ssim


def test_spearman_by_hand() -> None:
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert spearman(a, a * 10 + 3) == pytest.approx(1.0)
    assert spearman(a, -a, absolute=False) == pytest.approx(-1.0)
    assert spearman(a, -a, absolute=True) == pytest.approx(1.0)  # |−a| ranks like |a|
    # ranks (1, 2, 3, 4) against (2, 1, 4, 3): d² = 4, ρ = 1 − 6·4 / (4·15) = 0.6
    assert spearman(a, np.array([[2.0, 1.0], [4.0, 3.0]])) == pytest.approx(0.6)
    assert spearman(a, np.zeros((2, 2))) == 0.0  # a constant map ranks nothing


def test_ssim_and_hog_of_a_map_with_itself_and_its_opposite() -> None:
    rng = np.random.default_rng(0)
    smooth = np.outer(np.hanning(64), np.hanning(64))
    assert ssim(smooth, smooth) == pytest.approx(1.0)
    assert hog_similarity(smooth, smooth) == pytest.approx(1.0)
    noise = rng.random((64, 64))
    assert ssim(smooth, noise) < 0.2 and hog_similarity(smooth, noise) < 0.5
    assert set(similarities(smooth, noise)) == {"spearman_abs", "spearman", "ssim", "hog"}
