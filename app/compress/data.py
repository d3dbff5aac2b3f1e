"""The images a comparison is measured on.

By default the sample gallery plus deterministic augmentations of each photo (crops, flips,
colour and brightness jitter); or a user's folder or zip of images, labelled when it has one
sub-folder per class (named after a class of the model, or its index). Calibration and recovery
use other augmentations of the same sources, so no evaluation image is trained on.

A Shapes model (its classes are the Shapes lab's ten) is measured on the lab's own labelled test
split instead (hundreds of generated images: accuracy, not only agreement), and calibrated and
recovered on its validation split (app/shapes/base.py: the splits are disjoint).
"""

import hashlib
import io
import re
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image, ImageEnhance, ImageOps

from app.errors import BadImage, BadParameter, LanternError, UnknownDataset, UnsupportedImage
from app.imaging.decode import decode_image, inspect_image
from app.imaging.samples import EVALUATION_SAMPLES, sample_image
from app.params import Progress
from app.shapes.base import SIZE as SHAPES_SIZE
from app.shapes.base import TEST_OFFSET, VALIDATION_OFFSET
from app.shapes.dataset import SHAPES, ShapesDataset
from app.zoo import LoadedModel

__all__ = [
    "DatasetInfo",
    "EvaluationSet",
    "Source",
    "build_evaluation_set",
    "count_images",
    "dataset_images",
    "folder_sources",
    "gallery_sources",
    "read_dataset",
    "shapes_evaluation_set",
    "store_dataset",
    "stored_dataset",
    "zip_sources",
]

MAX_IMAGES = 2000
MAX_ZIP_BYTES = 500 * 1024 * 1024  # uncompressed, all members together
_MAX_ENTRIES = 10 * MAX_IMAGES  # files, folders and skipped notes included
_SKIPPED = (".txt", ".json", ".md", ".csv", ".yaml", ".yml")
_CHUNK = 64 * 1024  # a zip member is read (and decompressed) this much at a time
_END = b"PK\x05\x06"
_CENTRAL = b"PK\x01\x02"
_ZIP64_LOCATOR = b"PK\x06\x07"
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}


@dataclass(frozen=True)
class Source:
    """An image by name, decoded only when `image` is read (one at a time, inside a job)."""

    name: str
    load: Callable[[], Image.Image]
    label: str | None = None  # the class folder it came from

    @property
    def image(self) -> Image.Image:
        return self.load()


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
    return [Source(name, _sample_loader(name)) for name in EVALUATION_SAMPLES]


def _sample_loader(name: str) -> Callable[[], Image.Image]:
    return lambda: sample_image(name)


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
    """Images in a zip archive, laid out like a folder; read in memory, never extracted.

    Every member is read once here, in bounded chunks, counting its real size (stored and
    deflate members only) and checking its CRC and image header; none is decoded. A Source
    decodes its member again when the job asks for its image."""
    archive = _open_zip(content)
    members = [
        m for m in archive.infolist() if not m.is_dir() and _wanted(PurePosixPath(m.filename))
    ]
    if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
        raise BadImage(f"the archive unpacks to more than {MAX_ZIP_BYTES // 2**20} MiB")
    for member in members:
        _check_member(member, max_bytes)

    def reader(member: zipfile.ZipInfo) -> Callable[[], bytes]:
        return lambda: _read_member(archive, member, max_bytes)

    entries = [(m.filename, reader(m)) for m in sorted(members, key=lambda m: m.filename)]
    return _sources(entries[: MAX_IMAGES + 1], max_bytes, max_pixels)


def count_images(content: bytes) -> int:
    """How many images a zip would give (from its directory: nothing is decompressed)."""
    archive = _open_zip(content)
    return sum(not m.is_dir() and _wanted(PurePosixPath(m.filename)) for m in archive.infolist())


def _open_zip(content: bytes) -> zipfile.ZipFile:
    _count_entries(content)
    try:
        return zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise BadImage("this is not a zip archive (or its directory is corrupt)") from None


def _count_entries(content: bytes) -> int:
    """Walk the central directory as `zipfile` will, counting its records (the end record's
    count is not trusted), and refuse before `zipfile` builds an object per entry: millions of
    empty entries would otherwise cost gigabytes. Zip64 archives are refused."""
    if len(content) >= 22 and content[-22:-18] == _END and content[-2:] == b"\0\0":
        end = len(content) - 22
    else:
        end = content.rfind(_END, max(0, len(content) - 22 - 65_535))
    if end < 0 or len(content) < end + 22:
        raise BadImage("this is not a zip archive")
    declared = int.from_bytes(content[end + 10 : end + 12], "little")
    size = int.from_bytes(content[end + 12 : end + 16], "little")
    offset = int.from_bytes(content[end + 16 : end + 20], "little")
    if (
        content[max(0, end - 20) : end].startswith(_ZIP64_LOCATOR)
        or declared == 0xFFFF
        or 0xFFFFFFFF in (size, offset)
    ):
        raise BadImage(f"zip64 archives are not accepted (more than {_MAX_ENTRIES:,} files?)")
    position, count = max(0, end - size), 0
    while position + 46 <= end and content[position : position + 4] == _CENTRAL:
        count += 1
        if count > _MAX_ENTRIES:
            raise BadImage(f"the archive lists more than {_MAX_ENTRIES:,} files")
        lengths = content[position + 28 : position + 34]
        position += 46 + sum(int.from_bytes(lengths[i : i + 2], "little") for i in (0, 2, 4))
    return count


def _check_member(member: zipfile.ZipInfo, max_bytes: int) -> None:
    if member.flag_bits & 0x1:
        raise UnsupportedImage(f"{member.filename} is encrypted; encrypted zips are not accepted")
    if member.compress_type not in _METHODS:
        raise UnsupportedImage(
            f"{member.filename} is compressed with method {member.compress_type}; "
            "only stored and deflate members are accepted"
        )
    if member.file_size > max_bytes:
        raise BadImage(f"{member.filename} is over the {max_bytes:,}-byte image limit")


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, max_bytes: int) -> bytes:
    """The member's bytes, decompressed `_CHUNK` at a time and counted: never more than
    `max_bytes` (plus one chunk) are held, whatever the headers claim; a bad CRC, a truncated
    or corrupt stream is a BadImage."""
    _check_member(member, max_bytes)
    buffer = io.BytesIO()
    try:
        with archive.open(member) as stream:
            while chunk := stream.read(_CHUNK):
                if buffer.tell() + len(chunk) > max_bytes:
                    raise BadImage(f"{member.filename} is over the {max_bytes:,}-byte image limit")
                buffer.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError) as e:
        raise BadImage(f"{member.filename}: a corrupt archive member ({e})") from None
    except NotImplementedError:
        raise UnsupportedImage(f"{member.filename}: an unsupported archive member") from None
    return buffer.getvalue()


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
            inspect_image(read(), max_bytes, max_pixels)  # header only: nothing is decoded
        except LanternError as error:
            raise type(error)(f"{name}: {error}") from None
        label = PurePosixPath(name).parts[0] if labelled else None
        sources.append(Source(name, _decoder(name, read, max_bytes, max_pixels), label))
    return sources


def _decoder(
    name: str, read: Callable[[], bytes], max_bytes: int, max_pixels: int
) -> Callable[[], Image.Image]:
    def load() -> Image.Image:
        try:
            return decode_image(read(), max_bytes, max_pixels)
        except LanternError as error:
            raise type(error)(f"{name}: {error}") from None

    return load


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
    progress: Progress | None = None,
) -> EvaluationSet:
    """Each source as the model sees it plus `augmentations` augmented views; calibration gets
    `calibration_augmentations` other views of each source (another random stream). `progress`
    is called (at 0) before each source: a job's cancel and deadline act there."""
    names: list[str] = []
    views: list[torch.Tensor] = []
    calibration: list[torch.Tensor] = []
    labels: list[int] = []
    originals: list[int] = []
    for index, item in enumerate(sources):
        if progress is not None:
            progress(0, len(sources))  # a checkpoint: decoding 2,000 photos takes a while
        rng = np.random.default_rng([seed, index, 0])
        calibration_rng = np.random.default_rng([seed, index, 1])
        originals.append(len(views))
        names.append(item.name)
        image = item.image  # decoded here, one source at a time
        views.append(model.preprocessing.model_view(image))
        for k in range(augmentations):
            names.append(f"{item.name} (view {k + 1})")
            views.append(model.preprocessing.model_view(_augment(image, rng)))
        for _ in range(calibration_augmentations):
            calibration.append(model.preprocessing.model_view(_augment(image, calibration_rng)))
        del image
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


SHAPES_CALIBRATION_IMAGES = 128  # validation images a Shapes model is calibrated / recovered on


def shapes_evaluation_set(
    model: LoadedModel, images: int, seed: int = 0, progress: Progress | None = None
) -> EvaluationSet:
    """The Shapes lab's test split (`images` labelled images, seed `seed`) as an evaluation set;
    calibration on the first SHAPES_CALIBRATION_IMAGES of its validation split."""
    test = ShapesDataset(images, SHAPES_SIZE, seed, "random", TEST_OFFSET)
    calibration = ShapesDataset(
        SHAPES_CALIBRATION_IMAGES, SHAPES_SIZE, seed, "random", VALIDATION_OFFSET
    )
    if progress is not None:
        progress(0, 1)  # a checkpoint before the images are drawn
    pixels, labels = test.tensors()
    names = [
        f"Shapes test {TEST_OFFSET + index} ({SHAPES[label]})"
        for index, label in enumerate(labels.tolist())
    ]
    return EvaluationSet(
        source=f"Shapes test split (seed {seed})",
        names=names,
        pixels=pixels,
        labels=[int(label) for label in labels],
        originals=list(range(images)),
        calibration=calibration.tensors()[0],
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


def store_dataset(
    data_dir: Path, content: bytes, max_bytes: int, max_pixels: int, kept: int = 20
) -> DatasetInfo:
    """Check a zip of images (every member read, every header checked, none decoded) and keep
    it under its content hash; the images are decoded in the jobs that use it."""
    sources = zip_sources(content, max_bytes, max_pixels)
    dataset_id = hashlib.sha256(content).hexdigest()[:16]
    path = _dataset_path(data_dir, dataset_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_bytes(content)
    path.touch()  # the same zip again: the most recent now
    labels = sorted({s.label for s in sources if s.label is not None})
    path.with_suffix(".images").write_text(str(len(sources)))
    _forget_datasets(path.parent, kept)
    return DatasetInfo(dataset_id, len(sources), bool(labels), labels)


def _forget_datasets(folder: Path, kept: int) -> None:
    """Keep the `kept` most recently uploaded or used datasets (issue 19, M3); a job that
    needs a dropped one ends with 'upload it again'."""
    zips = sorted(folder.glob("*.zip"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in zips[kept:]:
        old.unlink(missing_ok=True)
        old.with_suffix(".images").unlink(missing_ok=True)


def read_dataset(path: Path) -> bytes:
    """A stored dataset's bytes, marking it used; UnknownDataset once it has been dropped."""
    try:
        content = path.read_bytes()
        path.touch()
    except FileNotFoundError:
        raise UnknownDataset(
            f"the evaluation set {path.stem!r} was dropped (only the most recent are kept); "
            "upload it again"
        ) from None
    return content


def dataset_images(path: Path) -> int:
    """How many images a stored dataset holds (written at upload; else read from its
    directory, nothing decompressed): what a job's memory estimate needs."""
    try:
        return int(path.with_suffix(".images").read_text())
    except (OSError, ValueError):
        return min(MAX_IMAGES, count_images(path.read_bytes()))


def stored_dataset(data_dir: Path, dataset_id: str) -> Path:
    """The uploaded zip with this id; raises UnknownDataset."""
    path = _dataset_path(data_dir, dataset_id)
    if not path.is_file():
        raise UnknownDataset(f"no evaluation set {dataset_id!r}; upload a zip first")
    return path
