import numpy as np
import pytest

from app.imaging import COLORMAPS, render_overlay
from app.imaging.overlay import colorize, scale_map


def test_opacity_blends_between_image_and_heat() -> None:
    pixels = np.full((3, 4, 4), 0.5, dtype=np.float32)
    attribution = np.arange(16, dtype=np.float32).reshape(4, 4)
    plain = np.asarray(render_overlay(pixels, attribution, opacity=0.0))
    assert (plain == 128).all()
    heat = np.asarray(render_overlay(pixels, attribution, opacity=1.0, colormap="gray"))
    assert heat[0, 0, 0] == 0 and heat[3, 3, 0] == 255


def test_signed_maps_center_zero() -> None:
    scaled = scale_map(np.array([[-2.0, 0.0, 1.0]]), signed=True, percentile=100)
    np.testing.assert_allclose(scaled, [[0.0, 0.5, 0.75]])
    assert colorize(np.array([[0.5]]), "coolwarm")[0, 0].min() >= 235  # zero is near white


def test_outliers_saturate_instead_of_darkening_the_map() -> None:
    attribution = np.full((100, 100), 1.0)
    attribution[0, 0] = 1000.0  # one outlier pixel, as gradient maps often have
    attribution[50:, :] = 0.0
    scaled = scale_map(attribution, signed=False)
    assert scaled[0, 0] == 1.0 and scaled[1, 1] == 1.0 and scaled[99, 99] == 0.0
    assert scale_map(attribution, signed=False, percentile=100)[1, 1] < 0.01
    flat = scale_map(np.zeros((4, 4)), signed=True)
    assert (flat == 0.5).all()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown colormap"):
        colorize(np.zeros((2, 2)), "rainbow")
    with pytest.raises(ValueError, match="does not match"):
        render_overlay(np.zeros((3, 4, 4)), np.zeros((5, 5)))
    assert "inferno" in COLORMAPS and "coolwarm" in COLORMAPS
