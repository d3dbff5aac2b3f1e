import numpy as np
import pytest

from app.imaging import COLORMAPS, Display, render_map, render_overlay
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


def test_one_colour_meaning_red_for_blue_against_zero_transparent() -> None:
    """Signed maps: blue at −peak, red at +peak; unsigned maps use the same red ramp; zero has
    no colour at all (alpha 0) and the overlay leaves the desaturated photo there."""
    from app.imaging.overlay import desaturate, render_layer

    values = np.array([[-1.0, 0.0, 1.0]], dtype=np.float32)
    signed = np.asarray(render_layer(values, signed=True, limit=1.0))
    assert signed.shape == (1, 3, 4)
    assert list(signed[0, :, 3]) == [255, 0, 255]  # alpha = |value|
    assert signed[0, 0, 2] > signed[0, 0, 0] and signed[0, 2, 0] > signed[0, 2, 2]  # blue, red
    unsigned = np.asarray(render_layer(np.abs(values), signed=False, limit=1.0))
    assert tuple(unsigned[0, 2, :3]) == tuple(signed[0, 2, :3])  # the same red at the peak
    pixels = np.random.default_rng(0).random((3, 1, 3))
    overlay = np.asarray(
        render_map(pixels, values, True, Display(limit=1.0, opacity=0.8)), dtype=np.float64
    )
    grey = np.transpose(desaturate(pixels), (1, 2, 0)) * 255
    np.testing.assert_allclose(overlay[0, 1], grey[0, 1], atol=0.51)  # zero: the photo alone
    red = signed[0, 2, :3].astype(np.float64)
    np.testing.assert_allclose(overlay[0, 2], 0.2 * grey[0, 2] + 0.8 * red, atol=0.51)


def test_the_layer_stacked_with_css_opacity_equals_the_overlay() -> None:
    """The page puts the RGBA layer over the desaturated photo with CSS opacity o: alpha
    compositing gives photo · (1 − o·a) + colour · o·a, which is the server's overlay."""
    from app.imaging.overlay import desaturate

    rng = np.random.default_rng(1)
    pixels, values = rng.random((3, 6, 5)), rng.normal(size=(6, 5)).astype(np.float32)
    layer = np.asarray(render_map(pixels, values, True, Display(mode="layer")), dtype=np.float64)
    o = 0.6
    a = layer[..., 3:] / 255 * o
    photo = np.transpose(desaturate(pixels), (1, 2, 0)) * 255
    stacked = photo * (1 - a) + layer[..., :3] * a
    overlay = np.asarray(render_map(pixels, values, True, Display(opacity=o)), dtype=np.float64)
    np.testing.assert_allclose(stacked, overlay, atol=1.01)  # the layer's alpha is 8-bit


def test_every_character_of_a_drawn_legend_has_a_glyph() -> None:
    """The PNG legend's font draws a box for a character it lacks (it did for "−")."""
    from PIL import ImageFont

    from app.imaging.overlay import drawn_legend_labels

    font = ImageFont.load_default(size=12)
    missing = bytes(font.getmask("\uffff"))
    for signed in (True, False):
        for text in drawn_legend_labels(signed, 0.925):
            for character in text.replace(" ", ""):
                assert bytes(font.getmask(character)) != missing, repr(character)


def test_a_legend_goes_under_the_picture_with_its_scale() -> None:
    from app.imaging.overlay import colormap_anchors, legend_labels

    pixels = np.zeros((3, 40, 120))
    values = np.linspace(-2, 2, 40 * 120).reshape(40, 120).astype(np.float32)
    plain = render_map(pixels, values, True, Display(limit=2.0))
    with_legend = render_map(pixels, values, True, Display(limit=2.0, legend=True))
    assert with_legend.size == (120, 70) and plain.size == (120, 40)
    bar = np.asarray(with_legend)[44]  # a row through the colour bar
    assert bar[0, 2] > bar[0, 0] and bar[-1, 0] > bar[-1, 2]  # blue on the left, red on the right
    assert legend_labels(True, 2.0) == ("against −2", "0", "+2 for")
    assert legend_labels(False, 0.0123) == ("0", "", "0.0123 most important")
    assert set(colormap_anchors()) == set(COLORMAPS)
    assert all(c.startswith("#") and len(c) == 7 for c in colormap_anchors()["coolwarm"])
