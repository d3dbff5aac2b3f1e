"""Evaluation sets: the gallery's deterministic views, and folders or zips of images."""

import io

import pytest
import torch
from PIL import Image

from app.compress.data import build_evaluation_set, folder_sources, gallery_sources, zip_sources
from app.errors import BadImage, BadParameter, UnsupportedImage
from app.zoo import LoadedModel
from tests.api.helpers import zip_bytes

LIMITS = 5_000_000, 10_000_000


def _png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_gallery_views_are_deterministic_and_calibration_differs(tiny: LoadedModel) -> None:
    sources = gallery_sources()
    first = build_evaluation_set(tiny, sources, "gallery", 3, 2, seed=0)
    again = build_evaluation_set(tiny, sources, "gallery", 3, 2, seed=0)
    other = build_evaluation_set(tiny, sources, "gallery", 3, 2, seed=1)
    assert first.size == 16 and len(first.calibration) == 8 and first.labels is None
    assert first.originals == [0, 4, 8, 12]
    assert torch.equal(first.pixels, again.pixels) and not torch.equal(first.pixels, other.pixels)
    assert torch.equal(first.pixels[0], tiny.preprocessing.model_view(sources[0].image))
    for view in first.calibration:  # no calibration view is an evaluation image
        assert not any(torch.equal(view, image) for image in first.pixels)


def test_class_folders_give_labels(tiny: LoadedModel, tmp_path) -> None:
    for label, colour in (("class 3", (255, 0, 0)), ("7", (0, 0, 255))):
        (tmp_path / label).mkdir()
        (tmp_path / label / "a.png").write_bytes(_png(colour))
    (tmp_path / "class 3" / "notes.txt").write_text("ignored")
    evaluation = build_evaluation_set(tiny, folder_sources(tmp_path, *LIMITS), "folder", 1, 1)
    assert evaluation.labels == [7, 7, 3, 3]  # folders in name order: '7', 'class 3'


def test_zip_sources_and_their_refusals(tiny: LoadedModel) -> None:
    flat = zip_sources(
        zip_bytes(
            {"a.png": _png((1, 2, 3)), "__MACOSX/._a.png": b"junk", "b.png": _png((9, 9, 9))}
        ),
        *LIMITS,
    )
    assert [s.name for s in flat] == ["a.png", "b.png"] and all(s.label is None for s in flat)
    with pytest.raises(BadImage, match="not a zip"):
        zip_sources(b"plain bytes", *LIMITS)
    with pytest.raises(UnsupportedImage, match=r"evil\.png"):
        zip_sources(zip_bytes({"evil.png": b"<svg onload=alert(1)>"}), *LIMITS)
    with pytest.raises(BadImage, match="either all at the top level"):
        zip_sources(zip_bytes({"a.png": _png((1, 2, 3)), "cats/b.png": _png((1, 2, 3))}), *LIMITS)
    with pytest.raises(BadImage, match="no images"):
        zip_sources(zip_bytes({"readme.md": b"hello"}), *LIMITS)
    with pytest.raises(BadImage, match="over the"):
        zip_sources(zip_bytes({"a.png": _png((1, 2, 3))}), 10, 10_000_000)
    with pytest.raises(BadImage, match="more than 20,000 files"):
        zip_sources(zip_bytes({f"{i}.txt": b"" for i in range(20_001)}), *LIMITS)
    unknown = zip_sources(zip_bytes({"zebras/a.png": _png((1, 2, 3))}), *LIMITS)
    with pytest.raises(BadParameter, match="'zebras' names no class"):
        build_evaluation_set(tiny, unknown, "zip", 0, 1)
