"""Where an audit's images come from: layouts, label matching, limits and hostile files."""

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.audit.scoring import decode_batch
from app.audit.sources import list_items, match_classes
from app.errors import BadParameter
from app.imaging.preprocessing import Preprocessing

LABELS = ["circle", "square", "triangle", "hot dog"]
VIEW = Preprocessing(resize=32, crop=32, mean=(0.5,) * 3, std=(0.5,) * 3)  # type: ignore[arg-type]


def _png(colour: tuple[int, int, int] = (200, 30, 30), size: int = 40) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


def test_class_folders_match_by_name_or_index() -> None:
    assert match_classes(["circle", "Hot_Dog", "2"], LABELS) == {
        "circle": 0,
        "Hot_Dog": 3,
        "2": 2,
    }


def test_unmatched_class_folders_are_one_error_naming_them() -> None:
    with pytest.raises(BadParameter, match=r"3 class folder\(s\) match no label.*9, cat, dog"):
        match_classes(["circle", "dog", "cat", "9"], LABELS)


def test_folder_layout_labels_and_hashes(tmp_path: Path) -> None:
    _tree(tmp_path, {"circle/a.png": _png(), "1/b.png": _png((0, 0, 255)), "circle/c.png": _png()})
    listing = list_items(str(tmp_path), LABELS, 100, 10**9)
    assert [(i.name, i.label) for i in listing.items] == [
        ("1/b.png", 1),
        ("circle/a.png", 0),
        ("circle/c.png", 0),
    ]
    assert listing.labelled and listing.kind == "folder"
    assert listing.items[1].content_hash == listing.items[2].content_hash  # same bytes
    assert len(listing.data_hash) == 64


def test_flat_folder_is_unlabelled(tmp_path: Path) -> None:
    _tree(tmp_path, {"a.png": _png(), "b.jpg": _png(), "notes.txt": b"hello"})
    listing = list_items(str(tmp_path), LABELS, 100, 10**9)
    assert not listing.labelled
    assert [i.label for i in listing.items] == [None, None]
    assert [(s.name, s.reason) for s in listing.skipped] == [
        ("notes.txt", "not an image file (.txt)")
    ]


def test_symbolic_links_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "secret.png"
    outside.write_bytes(_png())
    data = _tree(tmp_path / "data", {"circle/a.png": _png()})
    os.symlink(outside, data / "circle" / "link.png")
    listing = list_items(str(data), LABELS, 100, 10**9)
    assert [i.name for i in listing.items] == ["circle/a.png"]
    assert listing.skipped[0].reason == "symbolic link, not followed"


def test_zip_with_one_top_folder(tmp_path: Path) -> None:
    archive = tmp_path / "data.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("set/circle/a.png", _png())
        handle.writestr("set/square/b.png", _png())
        handle.writestr("../evil.png", _png())
    listing = list_items(str(archive), LABELS, 100, 10**9)
    assert [(i.name, i.label) for i in listing.items] == [("circle/a.png", 0), ("square/b.png", 1)]
    assert listing.skipped[0].reason == "unsafe or system path in the zip"
    batch = decode_batch(
        {"key": np.array(["k0"], object), "location": np.array([listing.items[0].location])},
        VIEW,
        10**6,
        10**7,
    )
    assert batch["error"][0] == "" and batch["pixels"].shape == (1, 32, 32, 3)


def test_zip_over_the_limit_is_refused_unread(tmp_path: Path) -> None:
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        handle.writestr("circle/a.png", b"\0" * 100_000)  # compresses to little, unpacks big
    with pytest.raises(BadParameter, match="unpacks to more than the limit of 50,000 bytes"):
        list_items(str(archive), LABELS, 100, 50_000)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("missing-folder", "no such folder or file"),
        ("shapes:0", "at least one image"),
        ("shapes:12:sideways", "write shapes:COUNT"),
    ],
)
def test_bad_data_is_one_line(data: str, message: str) -> None:
    with pytest.raises(BadParameter, match=message):
        list_items(data, LABELS, 100, 10**9)


def test_empty_and_too_large(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadParameter, match="no images found"):
        list_items(str(tmp_path / "empty"), LABELS, 100, 10**9)
    _tree(tmp_path / "three", {f"{k}.png": _png() for k in range(3)})
    with pytest.raises(BadParameter, match="3 images is over the limit of 2"):
        list_items(str(tmp_path / "three"), LABELS, 2, 10**9)
    assert len(list_items(str(tmp_path / "three"), LABELS, 2, 10**9, limit=2).items) == 2


def test_shapes_source_is_labelled_with_masks() -> None:
    from app.shapes.dataset import SHAPES

    listing = list_items("shapes:12:aligned", list(SHAPES), 100, 10**9)
    assert listing.kind == "shapes" and listing.has_masks
    assert [i.label for i in listing.items] == [k % 10 for k in range(12)]
    assert len({i.content_hash for i in listing.items}) == 12
    with pytest.raises(BadParameter, match="match no label"):
        list_items("shapes:3", LABELS, 100, 10**9)


def test_hostile_files_are_decoded_to_reasons(tmp_path: Path) -> None:
    good = _png()
    files = {
        "good.png": good,
        "truncated.png": good[: len(good) // 2],
        "text.png": b"this is not an image",
        "empty.png": b"",
        "huge.png": _png(size=400),  # over the pixel limit below
    }
    _tree(tmp_path, files)
    names = sorted(files)
    batch = decode_batch(
        {
            "key": np.array(names, object),
            "location": np.array([str(tmp_path / n) for n in names], object),
        },
        VIEW,
        10**6,
        100_000,
    )
    reasons = dict(zip(names, batch["error"], strict=True))
    assert reasons["good.png"] == ""
    assert "empty" in reasons["empty.png"]
    assert "pixels" in reasons["huge.png"]
    assert "not an image" in reasons["text.png"]
    assert reasons["truncated.png"]
