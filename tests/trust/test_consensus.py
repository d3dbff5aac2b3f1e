"""The consensus line counts what the maps' overlap shows, on maps made by hand."""

import numpy as np
import pytest

from app.trust.consensus import consensus


def _blob(row: int, column: int, size: int = 56, radius: int = 6) -> np.ndarray:
    y, x = np.mgrid[:size, :size]
    return np.exp(-((y - row) ** 2 + (x - column) ** 2) / (2.0 * radius**2)).astype(np.float32)


def test_three_maps_on_one_spot_agree_and_one_elsewhere_does_not() -> None:
    rng = np.random.default_rng(0)
    maps = [
        ("Grad-CAM", _blob(10, 44), False),
        ("Occlusion", _blob(12, 42) - 0.5 * _blob(45, 10), True),  # the negative part is ignored
        ("Saliency", _blob(9, 45) + 0.05 * rng.random((56, 56)).astype(np.float32), False),
        ("Deconvnet", _blob(44, 12), False),
    ]
    result = consensus(maps)
    assert result.agreeing == ["Grad-CAM", "Occlusion", "Saliency"] and result.total == 4
    assert result.region == "upper right"
    assert result.sentence == (
        "3 of 4 methods point at the same region (upper right); Deconvnet looks elsewhere."
    )
    assert 0 < result.cells.sum() <= round(0.1 * 14 * 14)


def test_maps_that_share_nothing_are_said_to_differ_and_one_map_is_refused() -> None:
    maps = [("A", _blob(5, 5), False), ("B", _blob(50, 50), False)]
    result = consensus(maps)
    assert result.sentence == "The 2 methods point at different regions." and not result.agreeing
    with pytest.raises(ValueError, match="two maps"):
        consensus(maps[:1])


def test_the_centre_is_named_and_coarse_maps_compare_with_fine_ones() -> None:
    coarse = np.zeros((7, 7), dtype=np.float32)
    coarse[3, 3] = 1.0
    fine = np.kron(coarse, np.ones((32, 32), dtype=np.float32))  # the same map at 224 px
    result = consensus(
        [("coarse", np.kron(coarse, np.ones((32, 32))), False), ("fine", fine, False)]
    )
    assert result.region == "centre" and result.agreeing == ["coarse", "fine"]
