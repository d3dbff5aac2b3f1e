"""Where an audit's images come from, and what each is labelled.

DATA is one of:

- a folder in ImageFolder layout: one sub-folder per class, named by one of the model's labels
  or by its index (`circle/`, `3/`); the images inside it (any depth) carry that label;
- a flat folder (images and no sub-folders): unlabelled, predictions and confidence only;
- a `.zip` holding either layout (one top folder around it is allowed);
- `shapes:COUNT[:cue]`: the Shapes generator (app/shapes/dataset.py), labelled, with its exact
  masks.

Listing reads every file once to hash it (the manifest keys work by content); decoding is left
to the engine. Nothing is followed outside DATA: symbolic links are listed as skipped.
"""

import hashlib
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from app.errors import BadParameter
from app.shapes.dataset import SHAPES, Cue, draw_sample

__all__ = [
    "IMAGE_SUFFIXES",
    "Item",
    "Listing",
    "Skipped",
    "list_items",
    "match_classes",
    "read_item_bytes",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
_SHAPES = re.compile(r"^shapes:(\d+)(?::(random|aligned|swapped))?$")
_SHAPES_SEED = 0
SHAPES_OFFSET = 200_000  # the lab's test split (app/shapes/base.py): never trained on


@dataclass(frozen=True)
class Item:
    """One image to score. `location`: a path, `ZIP::MEMBER`, or `shapes:SEED:CUE:INDEX`."""

    location: str
    name: str  # what reports show: the path relative to DATA
    label: int | None
    content_hash: str  # sha256 of the file's bytes (Shapes: of its pixels and mask)


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str


@dataclass
class Listing:
    items: list[Item]
    skipped: list[Skipped] = field(default_factory=list)
    labelled: bool = True
    has_masks: bool = False
    kind: str = "folder"  # folder | zip | shapes
    class_folders: dict[str, int] = field(default_factory=dict)  # folder name -> class index

    @property
    def data_hash(self) -> str:
        """sha256 over the sorted (name, label, content hash) of every item."""
        digest = hashlib.sha256()
        for item in sorted(self.items, key=lambda item: item.name):
            digest.update(f"{item.name}\0{item.label}\0{item.content_hash}\n".encode())
        return digest.hexdigest()


def match_classes(folders: list[str], labels: list[str]) -> dict[str, int]:
    """Class-folder name -> class index: the label itself (case and `_`/space insensitive), or
    the index as digits. Any folder that matches nothing: one BadParameter naming them all."""
    by_name: dict[str, int] = {}
    for index, label in enumerate(labels):
        by_name.setdefault(_normal(label), index)
    matched: dict[str, int] = {}
    unknown = []
    for folder in folders:
        if _normal(folder) in by_name:
            matched[folder] = by_name[_normal(folder)]
        elif folder.isdigit() and int(folder) < len(labels):
            matched[folder] = int(folder)
        else:
            unknown.append(folder)
    if unknown:
        shown = ", ".join(sorted(unknown)[:8]) + (" …" if len(unknown) > 8 else "")
        examples = ", ".join(labels[:3])
        raise BadParameter(
            f"{len(unknown)} class folder(s) match no label of the model: {shown} "
            f"(name a folder by a label, e.g. {examples}, or by its index 0-{len(labels) - 1})"
        )
    return matched


def _normal(name: str) -> str:
    return " ".join(name.replace("_", " ").replace("-", " ").lower().split())


def list_items(
    data: str, labels: list[str], max_images: int, max_bytes: int, limit: int | None = None
) -> Listing:
    """Every image of DATA with its label and content hash, in name order (first `limit`).

    BadParameter for a missing or empty DATA, unmatched class folders, or more than
    `max_images` images; a zip over `max_bytes` (compressed or not) is refused unread."""
    shapes = _SHAPES.match(data)
    if shapes:
        count = int(shapes.group(1))
        cue: Cue = shapes.group(2) or "random"  # type: ignore[assignment]
        return _shapes(count if limit is None else min(count, limit), cue, labels, max_images)
    if data.startswith("shapes:"):
        raise BadParameter(f"{data!r}: write shapes:COUNT or shapes:COUNT:random|aligned|swapped")
    path = Path(data)
    if path.is_file() and path.suffix.lower() == ".zip":
        listing = _zip(path, labels, max_bytes)
    elif path.is_dir():
        listing = _folder(path, labels)
    elif path.exists():
        raise BadParameter(f"{data}: give a folder, a .zip or shapes:COUNT")
    else:
        raise BadParameter(f"{data}: no such folder or file")
    if limit is not None:
        listing.items = listing.items[:limit]
    if not listing.items:
        raise BadParameter(f"{data}: no images found ({len(listing.skipped)} file(s) skipped)")
    if len(listing.items) > max_images:
        raise BadParameter(
            f"{data}: {len(listing.items):,} images is over the limit of {max_images:,}"
        )
    return listing


def _shapes(count: int, cue: Cue, labels: list[str], max_images: int) -> Listing:
    if count < 1:
        raise BadParameter("shapes:COUNT needs at least one image")
    if count > max_images:
        raise BadParameter(f"shapes:{count}: {count:,} images is over the limit of {max_images:,}")
    mapping = match_classes(list(SHAPES), labels)
    items = []
    for index in range(count):
        location = f"shapes:{_SHAPES_SEED}:{cue}:{SHAPES_OFFSET + index}"
        label = index % len(SHAPES)  # draw_sample's rule, so listing draws nothing
        items.append(Item(location, f"{SHAPES[label]}/{index:05d}", mapping[SHAPES[label]], ""))
    hashed = [_with_hash(item, read_item_bytes(item.location, 0)) for item in items]
    return Listing(hashed, [], True, True, "shapes", {name: mapping[name] for name in SHAPES})


def _with_hash(item: Item, content: bytes) -> Item:
    return Item(item.location, item.name, item.label, hashlib.sha256(content).hexdigest())


def _folder(root: Path, labels: list[str]) -> Listing:
    skipped: list[Skipped] = []
    entries = sorted(root.iterdir(), key=lambda entry: entry.name)
    folders = [entry for entry in entries if entry.is_dir() and not entry.is_symlink()]
    for entry in entries:
        if entry.is_symlink():
            skipped.append(Skipped(entry.name, "symbolic link, not followed"))
    if folders:
        mapping = match_classes([folder.name for folder in folders], labels)
        files: list[tuple[Path, int | None]] = [
            (path, mapping[folder.name]) for folder in folders for path in _walk(folder, skipped)
        ]
        for entry in entries:
            if entry.is_file() and not entry.is_symlink():
                skipped.append(Skipped(entry.name, "outside the class folders"))
    else:
        mapping = {}
        files = [(path, None) for path in _walk(root, skipped)]
    items: list[Item] = []
    for path, label in files:
        name = path.relative_to(root).as_posix()
        try:
            content = path.read_bytes()
        except OSError as error:
            skipped.append(Skipped(name, f"could not be read: {error.strerror or error}"))
            continue
        items.append(
            Item(str(path), name, label, hashlib.sha256(content).hexdigest()),
        )
    return Listing(items, skipped, bool(folders), False, "folder", mapping)


def _walk(folder: Path, skipped: list[Skipped]) -> list[Path]:
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            skipped.append(Skipped(path.name, "symbolic link, not followed"))
        elif path.is_file() and not path.name.startswith("."):
            if path.name.endswith(".mask.png"):
                continue  # masks exported beside Shapes images are not images to score
            if path.suffix.lower() in IMAGE_SUFFIXES:
                found.append(path)
            else:
                skipped.append(Skipped(path.name, f"not an image file ({path.suffix or 'none'})"))
    return found


def _zip(path: Path, labels: list[str], max_bytes: int) -> Listing:
    if path.stat().st_size > max_bytes:
        raise BadParameter(f"{path.name}: the zip is over the limit of {max_bytes:,} bytes")
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise BadParameter(f"{path.name}: not a readable zip file") from None
    with archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        if sum(info.file_size for info in infos) > max_bytes:
            raise BadParameter(
                f"{path.name}: the zip unpacks to more than the limit of {max_bytes:,} bytes"
            )
        skipped: list[Skipped] = []
        members: list[tuple[PurePosixPath, zipfile.ZipInfo]] = []
        for info in infos:
            member = PurePosixPath(info.filename)
            if member.is_absolute() or ".." in member.parts or "__MACOSX" in member.parts:
                skipped.append(Skipped(info.filename, "unsafe or system path in the zip"))
            elif member.name.startswith(".") or member.name.endswith(".mask.png"):
                continue
            elif member.suffix.lower() not in IMAGE_SUFFIXES:
                skipped.append(Skipped(info.filename, f"not an image file ({member.suffix})"))
            else:
                members.append((member, info))
        # One folder around everything (the usual way a zip is made) is not a class level.
        tops = {member.parts[0] for member, _ in members if len(member.parts) > 1}
        strip = 1 if len(tops) == 1 and all(len(m.parts) > 2 for m, _ in members) else 0
        depth = {len(member.parts) - strip for member, _ in members}
        labelled = bool(members) and min(depth) > 1
        mapping: dict[str, int] = {}
        if labelled:
            folders = sorted({member.parts[strip] for member, _ in members})
            mapping = match_classes(folders, labels)
        elif members and max(depth) > 1:
            raise BadParameter(
                f"{path.name}: mix of images at the top and in folders; use one layout"
            )
        items = []
        for member, info in sorted(members, key=lambda pair: str(pair[0])):
            content = archive.read(info)
            name = PurePosixPath(*member.parts[strip:]).as_posix()
            label = mapping[member.parts[strip]] if labelled else None
            items.append(
                Item(f"{path}::{info.filename}", name, label, hashlib.sha256(content).hexdigest())
            )
    return Listing(items, skipped, labelled, False, "zip", mapping)


def read_item_bytes(location: str, max_bytes: int) -> bytes:
    """The bytes of an item: the file, the zip member, or for Shapes the raw pixels then the
    mask (what the content hash covers). max_bytes 0: no check (Shapes only)."""
    if location.startswith("shapes:"):
        _, seed, cue, index = location.split(":")
        drawn = draw_sample(int(index), _shapes_size(), int(seed), cue)  # type: ignore[arg-type]
        return drawn.image.tobytes() + drawn.mask.tobytes()
    if "::" in location:
        archive_path, member = location.split("::", 1)
        with zipfile.ZipFile(archive_path) as archive:
            info = archive.getinfo(member)
            if info.file_size > max_bytes:
                raise OSError(f"{info.file_size:,} bytes is over the limit of {max_bytes:,}")
            return archive.read(info)
    return Path(location).read_bytes()


def _shapes_size() -> int:
    from app.shapes.base import SIZE

    return SIZE
