"""Images the user uploaded (or an attack produced), by content hash: the most recent in memory,
and (with a database) on disk, so they outlive a restart.

In memory an image is kept at the size the models and the page need (at most KEPT_PIXELS, about
6 MB of RGB), never at its decoded full size (a 40 MP photo is 120 MB): 256 kept images stay
under 1.5 GB. The original bytes live only in the database."""

import hashlib
import io
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import torch
from PIL import Image

from app.errors import LanternError, UnknownImage
from app.imaging import pixels_to_image
from app.jobs.store import Database, ImageRow
from app.zoo import LoadedModel

__all__ = ["KEPT_PIXELS", "ImageStore", "StoredImage"]

KEPT_PIXELS = 2_000_000  # shorter side >= 1,000 px up to 2:1, far above any model's input


@dataclass(frozen=True)
class StoredImage:
    """An image; `pixels` holds exact (3, H, W) values in [0, 1] when the image was made at a
    model's input size (an adversarial example must not be rounded to 8 bits or resized)."""

    id: str
    name: str  # as the client gave it: display only (escaped), never a path
    image: Image.Image  # at most KEPT_PIXELS (reduced when the original had more)
    pixels: np.ndarray | None = None
    original_size: tuple[int, int] | None = None  # (width, height) before it was reduced

    @property
    def width(self) -> int:
        return (self.original_size or self.image.size)[0]

    @property
    def height(self) -> int:
        return (self.original_size or self.image.size)[1]

    def model_view(self, model: LoadedModel) -> torch.Tensor:
        """(3, S, S) pixels in [0, 1], exactly what `model` sees."""
        size = model.input_size
        if self.pixels is not None and self.pixels.shape == (3, size, size):
            return torch.from_numpy(self.pixels.copy())
        return model.preprocessing.model_view(self.image)


Reload = Callable[[Literal["upload", "sample"], bytes], Image.Image]
"""Decode a stored upload (its bytes) or sample (its name) again, under today's rules."""


class ImageStore:
    def __init__(
        self, kept: int, database: Database | None = None, reload: Reload | None = None
    ) -> None:
        self._kept = kept
        self._database = database
        self._reload = reload
        self._lock = threading.Lock()
        self._images: OrderedDict[str, StoredImage] = OrderedDict()

    def add(
        self,
        image: Image.Image,
        name: str,
        content: bytes,
        kind: Literal["upload", "sample"] = "upload",
    ) -> StoredImage:
        """Store an image under the hash of its bytes (the same file gives the same id)."""
        stored = _reduced(StoredImage(_digest(content), name[:200], image))
        with self._lock:
            known = stored.id in self._images
        if not known:  # the same bytes again: already stored
            self._save(ImageRow(stored.id, kind, stored.name, content))
        return self._put(stored)

    def add_pixels(self, pixels: np.ndarray, name: str) -> StoredImage:
        exact = np.ascontiguousarray(pixels, dtype=np.float32)
        picture = pixels_to_image(exact)
        stored = StoredImage(_digest(exact.tobytes()), name[:200], picture, exact)
        buffer = io.BytesIO()
        np.save(buffer, exact, allow_pickle=False)
        self._save(ImageRow(stored.id, "pixels", stored.name, buffer.getvalue()))
        return self._put(stored)

    def get(self, image_id: str) -> StoredImage:
        with self._lock:
            stored = self._images.get(image_id)
            if stored is not None:
                self._images.move_to_end(image_id)
        if stored is None:
            stored = self._load(image_id)
        if stored is None:
            raise UnknownImage(f"no image {image_id!r} here (or no longer): upload it again")
        return stored

    def _save(self, row: ImageRow) -> None:
        if self._database is not None:
            self._database.save_image(row, self._kept)

    def _load(self, image_id: str) -> StoredImage | None:
        row = None if self._database is None else self._database.image(image_id)
        if row is None:
            return None
        try:
            if row.kind == "pixels":
                exact = np.load(io.BytesIO(row.content), allow_pickle=False)
                stored = StoredImage(row.id, row.name, pixels_to_image(exact), exact)
            elif self._reload is not None and row.kind in ("upload", "sample"):
                kind: Literal["upload", "sample"] = "upload" if row.kind == "upload" else "sample"
                reloaded = StoredImage(row.id, row.name, self._reload(kind, row.content))
                stored = _reduced(reloaded)
            else:
                return None
        except (LanternError, ValueError, OSError):
            return None  # stored under older, looser rules: treat as gone
        return self._put(stored)

    def _put(self, stored: StoredImage) -> StoredImage:
        with self._lock:
            self._images[stored.id] = self._images.get(stored.id, stored)
            self._images.move_to_end(stored.id)
            while len(self._images) > self._kept:
                self._images.popitem(last=False)
            return self._images[stored.id]


def _reduced(stored: StoredImage) -> StoredImage:
    """`stored` with its image at most KEPT_PIXELS, remembering the original size."""
    image = stored.image
    if image.width * image.height <= KEPT_PIXELS:
        original = image.info.get("original_size")  # reduced while decoding (decode_image)
        return stored if original is None else replace(stored, original_size=tuple(original))
    scale = (KEPT_PIXELS / (image.width * image.height)) ** 0.5
    size = max(1, int(image.width * scale)), max(1, int(image.height * scale))
    small = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return StoredImage(stored.id, stored.name, small, stored.pixels, image.size)


def _digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:24]
