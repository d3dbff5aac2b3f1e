"""The Shapes generator: deterministic, every class drawable, masks exactly the shape's pixels."""

import json

import numpy as np
import pytest

from app.shapes.dataset import SHAPES, TEXTURES, ShapesDataset, draw_sample, export_folder


def test_the_same_seed_and_index_give_the_same_sample() -> None:
    a, b = draw_sample(7, 48, seed=3), draw_sample(7, 48, seed=3)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.mask, b.mask)
    assert not np.array_equal(a.image, draw_sample(7, 48, seed=4).image)


@pytest.mark.parametrize("index", range(len(SHAPES)))
def test_the_mask_is_exactly_the_pixels_painted_with_the_shape_colour(index) -> None:
    drawn = draw_sample(index, 64, seed=0)
    assert drawn.label == index and drawn.image.shape == (64, 64, 3)
    assert drawn.image.dtype == np.uint8 and drawn.mask.dtype == bool
    colours = np.unique(drawn.image[drawn.mask], axis=0)
    assert len(colours) == 1  # one solid colour inside the mask
    outside = drawn.image[~drawn.mask]
    assert not (outside == colours[0]).all(axis=1).any()  # and nowhere else
    assert 0.02 < drawn.mask.mean() < 0.6


def test_rings_and_crescents_have_their_holes() -> None:
    ring = draw_sample(SHAPES.index("ring"), 96, seed=0)
    rows, cols = np.nonzero(ring.mask)
    centre = int(rows.mean().round()), int(cols.mean().round())
    assert not ring.mask[centre]


def test_cue_conflict_textures() -> None:
    aligned = [draw_sample(i, 32, 0, "aligned") for i in range(30)]
    assert all(s.texture == s.label for s in aligned)
    swapped = [draw_sample(i, 32, 0, "swapped") for i in range(30)]
    assert all(s.texture != s.label for s in swapped)
    assert {s.texture for s in swapped} <= set(range(len(TEXTURES)))


def test_a_torch_dataset_and_an_image_folder(tmp_path) -> None:
    dataset = ShapesDataset(12, 32, seed=1, offset=5)
    pixels, label = dataset[2]
    assert pixels.shape == (3, 32, 32) and pixels.min() >= 0 and pixels.max() <= 1
    assert label == 7 % len(SHAPES)
    stacked, labels = dataset.tensors()
    assert stacked.shape == (12, 3, 32, 32) and labels.tolist()[:2] == [5, 6]
    folder = export_folder(dataset, tmp_path / "shapes")
    written = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png"))
    assert len(written) == 24 and "circle/00005.png" in written
    assert "circle/00005.mask.png" in written
    assert json.loads((folder / "dataset.json").read_text())["classes"] == list(SHAPES)
    with pytest.raises(IndexError):
        dataset.sample(12)
