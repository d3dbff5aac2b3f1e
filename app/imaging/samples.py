"""Sample photos bundled with scikit-image: usable offline, for demos and tests.

Chosen so that a demo tells its story on the default model (EfficientNet-Lite0; the numbers in
the captions were measured on it): close classes to tell apart, a confident prediction, a photo
that has no class of its own, a hesitation, and a photo with two objects for "explain another
class". The gallery shows them in this order with their captions.
"""

from collections.abc import Callable

import numpy as np
from PIL import Image

from app.errors import BadImage

__all__ = ["CAPTIONS", "EVALUATION_SAMPLES", "SAMPLES", "sample_image"]


def _load(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from skimage import data

        array: np.ndarray = getattr(data, name)()
        return array

    return load


CAPTIONS: dict[str, str] = {
    "chelsea": "A cat: Egyptian cat, tabby or tiger cat? Explain each",
    "coffee": "A confident call: espresso (84 %)",
    "astronaut": "No class of its own: the model is unsure (3 %)",
    "rocket": "A hesitation: missile (41 %) or projectile (26 %)",
    "camera": "Two objects: the tripod (93 %), then explain 'reflex camera'",
}
"""What each sample shows in a demo, in the gallery's order."""

SAMPLES: dict[str, Callable[[], np.ndarray]] = {name: _load(name) for name in CAPTIONS}

EVALUATION_SAMPLES: tuple[str, ...] = tuple(SAMPLES)[:4]
"""The compression lab's gallery: the four colour photos its numbers were measured on
(docs/compression.md); the greyscale camera joined the demo later and stays out of them."""


def sample_image(name: str) -> Image.Image:
    if name not in SAMPLES:
        raise BadImage(f"unknown sample {name!r}; samples: {', '.join(SAMPLES)}")
    return Image.fromarray(SAMPLES[name]()).convert("RGB")
