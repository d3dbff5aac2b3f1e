"""Images the user uploaded (or an attack produced), by content hash, bounded in memory."""

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from app.errors import UnknownImage
from app.imaging import pixels_to_image
from app.zoo import LoadedModel

__all__ = ["ImageStore", "StoredImage"]


@dataclass(frozen=True)
class StoredImage:
    """An image; `pixels` holds exact (3, H, W) values in [0, 1] when the image was made at a
    model's input size (an adversarial example must not be rounded to 8 bits or resized)."""

    id: str
    name: str  # as the client gave it: display only (escaped), never a path
    image: Image.Image
    pixels: np.ndarray | None = None

    def model_view(self, model: LoadedModel) -> torch.Tensor:
        """(3, S, S) pixels in [0, 1], exactly what `model` sees."""
        size = model.input_size
        if self.pixels is not None and self.pixels.shape == (3, size, size):
            return torch.from_numpy(self.pixels.copy())
        return model.preprocessing.model_view(self.image)


class ImageStore:
    def __init__(self, kept: int) -> None:
        self._kept = kept
        self._lock = threading.Lock()
        self._images: OrderedDict[str, StoredImage] = OrderedDict()

    def add(self, image: Image.Image, name: str, content: bytes) -> StoredImage:
        """Store an image under the hash of its bytes (the same file gives the same id)."""
        return self._put(StoredImage(_digest(content), name[:200], image))

    def add_pixels(self, pixels: np.ndarray, name: str) -> StoredImage:
        exact = np.ascontiguousarray(pixels, dtype=np.float32)
        picture = pixels_to_image(exact)
        return self._put(StoredImage(_digest(exact.tobytes()), name, picture, exact))

    def get(self, image_id: str) -> StoredImage:
        with self._lock:
            stored = self._images.get(image_id)
            if stored is not None:
                self._images.move_to_end(image_id)
        if stored is None:
            raise UnknownImage(
                f"no image {image_id!r} here (images are kept in memory): upload it again"
            )
        return stored

    def _put(self, stored: StoredImage) -> StoredImage:
        with self._lock:
            self._images[stored.id] = self._images.get(stored.id, stored)
            self._images.move_to_end(stored.id)
            while len(self._images) > self._kept:
                self._images.popitem(last=False)
            return self._images[stored.id]


def _digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:24]
