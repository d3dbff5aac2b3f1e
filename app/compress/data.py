"""The images a comparison is measured on.

By default the sample gallery plus deterministic augmentations of each photo (crops, flips,
colour and brightness jitter); or a user's folder or zip of images, labelled when it has one
sub-folder per class (named after a class of the model, or its index). Calibration and recovery
use other augmentations of the same sources, so no evaluation image is trained on.
"""

import hashlib
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image, ImageEnhance, ImageOps

from app.errors import BadImage, BadParameter, LanternError, UnknownDataset
from app.imaging.decode import decode_image
from app.imaging.samples import SAMPLES, sample_image
from app.zoo import LoadedModel

__all__ = [
    "DatasetInfo",
    "EvaluationSet",
    "Source",
    "build_evaluation_set",
    "folder_sources",
    "gallery_sources",
    "store_dataset",
    "stored_dataset",
    "zip_sources",
]

MAX_IMAGES = 2000
MAX_ZIP_BYTES = 500 * 1024 * 1024  # uncompressed, all members together
_MAX_ENTRIES = 10 * MAX_IMAGES  # files, folders and skipped notes included
_SKIPPED = (".txt", ".json", ".md", ".csv", ".yaml", ".yml")


@dataclass(frozen=True)
class Source:
    name: str
    image: Image.Image
    label: str | None = None  # the class folder it came from


@dataclass(frozen=True)
class EvaluationSet:
    """`pixels` (N, 3, H, W) in [0, 1]; `names` one per image; `labels` model class indices or
    None; `originals` the indices of the unaugmented images (explanation drift uses these)."""

    source: str
    names: list[str]
    pixels: torch.Tensor
    labels: list[int] | None
    originals: list[int]
    calibration: torch.Tensor

    @property
    def size(self) -> int:
        return len(self.names)


def gallery_sources() -> list[Source]:
    return [Source(name, sample_image(name)) for name in SAMPLES]


def folder_sources(folder: Path, max_bytes: int, max_pixels: int) -> list[Source]:
    """Images in `folder`, or in its sub-folders (one per class: then they are labelled)."""
    if not folder.is_dir():
        raise BadParameter(f"{folder} is not a folder of images")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and _wanted(p.relative_to(folder)))
    return _sources(
        [(p.relative_to(folder).as_posix(), p.read_bytes) for p in files[: MAX_IMAGES + 1]],
        max_bytes,
        max_pixels,
    )


def zip_sources(content: bytes, max_bytes: int, max_pixels: int) -> list[Source]:
    """Images in a zip archive, laid out like a folder; read in memory, never extracted."""
    declared = _declared_entries(content)
    if declared is None:
        raise BadImage("this is not a zip archive")
    if declared > _MAX_ENTRIES:
        raise BadImage(f"the archive lists more than {_MAX_ENTRIES:,} files")
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile:
        raise BadImage("this is not a zip archive") from None
    members = [
        m for m in archive.infolist() if not m.is_dir() and _wanted(PurePosixPath(m.filename))
    ]
    if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
        raise BadImage(f"the archive unpacks to more than {MAX_ZIP_BYTES // 2**20} MiB")
    for member in members:
        if member.file_size > max_bytes:
            raise BadImage(f"{member.filename} is over the {max_bytes:,}-byte image limit")

    def reader(member: zipfile.ZipInfo) -> Callable[[], bytes]:
        return lambda: archive.read(member)

    entries = [(m.filename, reader(m)) for m in sorted(members, key=lambda m: m.filename)]
    return _sources(entries[: MAX_IMAGES + 1], max_bytes, max_pixels)


def _declared_entries(content: bytes) -> int | None:
    """The file count in the zip's end record, read before `zipfile` builds an object per
    entry (millions of empty entries would otherwise cost gigabytes); None when there is none.
    A zip64 archive says 0xFFFF here and counts as too many."""
    tail = content[-(22 + 65_535) :]
    end = tail.rfind(b"PK\x05\x06")
    if end < 0 or len(tail) < end + 22:
        return None
    return int.from_bytes(tail[end + 10 : end + 12], "little")


def _wanted(path: PurePosixPath | Path) -> bool:
    hidden = any(part.startswith((".", "__MACOSX")) for part in path.parts)
    return not hidden and path.suffix.lower() not in _SKIPPED


_Entry = tuple[str, Callable[[], bytes]]


def _sources(entries: list[_Entry], max_bytes: int, max_pixels: int) -> list[Source]:
    if not entries:
        raise BadImage("no images found (expected image files, or one sub-folder per class)")
    if len(entries) > MAX_IMAGES:
        raise BadImage(f"more than {MAX_IMAGES} images; use a smaller evaluation set")
    depths = {len(PurePosixPath(name).parts) for name, _ in entries}
    labelled = depths == {2}
    if not labelled and depths != {1}:
        raise BadImage("put the images either all at the top level or all in class sub-folders")
    sources = []
    for name, read in entries:
        try:
            image = decode_image(read(), max_bytes, max_pixels)
        except LanternError as error:
            raise type(error)(f"{name}: {error}") from None
        label = PurePosixPath(name).parts[0] if labelled else None
        sources.append(Source(name, image, label))
    return sources


def _augment(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A random crop of 60–100 % of each side, a flip half the time, colour and brightness."""
    width, height = image.size
    scale = rng.uniform(0.6, 1.0)
    w, h = max(1, int(width * scale)), max(1, int(height * scale))
    x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
    out = image.crop((x, y, x + w, y + h))
    if rng.random() < 0.5:
        out = ImageOps.mirror(out)
    out = ImageEnhance.Color(out).enhance(rng.uniform(0.6, 1.4))
    return ImageEnhance.Brightness(out).enhance(rng.uniform(0.7, 1.3))


def _class_index(model: LoadedModel, label: str) -> int:
    lowered = {name.lower(): index for index, name in enumerate(model.labels)}
    if label.lower() in lowered:
        return lowered[label.lower()]
    if label.isdigit() and int(label) < model.num_classes:
        return int(label)
    raise BadParameter(
        f"the folder {label!r} names no class of {model.name}; name class folders after a class"
        " (e.g. 'tabby') or its index (e.g. '281')"
    )


def build_evaluation_set(
    model: LoadedModel,
    sources: list[Source],
    source: str,
    augmentations: int,
    calibration_augmentations: int,
    seed: int = 0,
) -> EvaluationSet:
    """Each source as the model sees it plus `augmentations` augmented views; calibration gets
    `calibration_augmentations` other views of each source (another random stream)."""
    names: list[str] = []
    views: list[torch.Tensor] = []
    calibration: list[torch.Tensor] = []
    labels: list[int] = []
    originals: list[int] = []
    for index, item in enumerate(sources):
        rng = np.random.default_rng([seed, index, 0])
        calibration_rng = np.random.default_rng([seed, index, 1])
        originals.append(len(views))
        names.append(item.name)
        views.append(model.preprocessing.model_view(item.image))
        for k in range(augmentations):
            names.append(f"{item.name} (view {k + 1})")
            views.append(model.preprocessing.model_view(_augment(item.image, rng)))
        for _ in range(calibration_augmentations):
            calibration.append(
                model.preprocessing.model_view(_augment(item.image, calibration_rng))
            )
        if item.label is not None:
            labels.extend([_class_index(model, item.label)] * (1 + augmentations))
    if not calibration:  # recipes need something to calibrate on
        calibration = list(views)
    return EvaluationSet(
        source=source,
        names=names,
        pixels=torch.stack(views),
        labels=labels if len(labels) == len(names) else None,
        originals=originals,
        calibration=torch.stack(calibration),
    )


@dataclass(frozen=True)
class DatasetInfo:
    id: str
    images: int
    labelled: bool
    classes: list[str]


def _dataset_path(data_dir: Path, dataset_id: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{16}", dataset_id):
        raise UnknownDataset(f"no evaluation set {dataset_id!r}; upload a zip first")
    return data_dir / "compress" / "datasets" / f"{dataset_id}.zip"


def store_dataset(data_dir: Path, content: bytes, max_bytes: int, max_pixels: int) -> DatasetInfo:
    """Check a zip of images (every image is decoded) and keep it under its content hash."""
    sources = zip_sources(content, max_bytes, max_pixels)
    dataset_id = hashlib.sha256(content).hexdigest()[:16]
    path = _dataset_path(data_dir, dataset_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_bytes(content)
    labels = sorted({s.label for s in sources if s.label is not None})
    return DatasetInfo(dataset_id, len(sources), bool(labels), labels)


def stored_dataset(data_dir: Path, dataset_id: str) -> Path:
    """The uploaded zip with this id; raises UnknownDataset."""
    path = _dataset_path(data_dir, dataset_id)
    if not path.is_file():
        raise UnknownDataset(f"no evaluation set {dataset_id!r}; upload a zip first")
    return path
