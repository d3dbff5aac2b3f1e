"""Sample photos bundled with scikit-image: usable offline, for demos and tests."""

from collections.abc import Callable

import numpy as np
from PIL import Image

from app.errors import BadImage

__all__ = ["SAMPLES", "sample_image"]


def _load(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from skimage import data

        array: np.ndarray = getattr(data, name)()
        return array

    return load


SAMPLES: dict[str, Callable[[], np.ndarray]] = {
    name: _load(name) for name in ("chelsea", "coffee", "astronaut", "rocket")
}


def sample_image(name: str) -> Image.Image:
    if name not in SAMPLES:
        raise BadImage(f"unknown sample {name!r}; samples: {', '.join(SAMPLES)}")
    return Image.fromarray(SAMPLES[name]()).convert("RGB")
