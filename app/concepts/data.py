"""The images the concept tools read: a reference set to index, concept and random sets for TCAV.

DATA (the channel index, `lantern concepts index DATA`):

- a folder or a `.zip` of images (any layout; sub-folder names are not used);
- `samples`: the sample photos (app/imaging/samples.py) and AUGMENTATIONS augmented views of
  each (the compression lab's deterministic crops, flips and colour jitter);
- `shapes:COUNT[:random|aligned|swapped]`: the Shapes generator's test split (app/shapes).

A concept or random set (TCAV) is DATA as above, or generated here:

- `texture:NAME` — Shapes textures alone (no shape): a name of app.shapes.dataset.TEXTURES
  (`texture:dots`, `texture:vertical-stripes`) or `texture:stripes`, the three stripe
  orientations mixed; each image has its own tones and phase;
- `noise:SEED` — smooth colour noise (a random 2-32 cell grid, bilinearly upsampled), one seed
  per random set.

Every image is given as the model sees it: (3, S, S) in [0, 1] at its input size.
"""

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from app.compress.data import Source, build_evaluation_set, folder_sources, zip_sources
from app.errors import BadParameter
from app.imaging.samples import SAMPLES, sample_image
from app.settings import Settings
from app.shapes.dataset import SHAPES, TEXTURES, draw_sample, texture_image
from app.zoo import LoadedModel

__all__ = [
    "AUGMENTATIONS",
    "MAX_IMAGES",
    "Images",
    "concept_set",
    "reference_images",
    "smooth_noise",
]

AUGMENTATIONS = 7
MAX_IMAGES = 2000
_SHAPES = re.compile(r"^shapes:(\d+)(?::(random|aligned|swapped))?$")
_SHAPES_OFFSET = 200_000  # the lab's test split: never trained on
_STRIPES = ("horizontal stripes", "vertical stripes", "diagonal stripes")

Images = tuple[int, Iterator[tuple[str, torch.Tensor]]]
"""(how many, the (name, pixels) pairs, decoded one at a time)."""


def reference_images(data: str, model: LoadedModel, settings: Settings) -> Images:
    """DATA's images (module docstring) as the model sees them; BadParameter when unreadable,
    empty or over MAX_IMAGES."""
    shapes = _SHAPES.match(data)
    if shapes:
        count = int(shapes.group(1))
        cue = shapes.group(2) or "random"
        if not 1 <= count <= MAX_IMAGES:
            raise BadParameter(f"{data}: COUNT must be between 1 and {MAX_IMAGES:,}")
        return count, _shapes(model, count, cue)
    if data.startswith("shapes:"):
        raise BadParameter(f"{data!r}: write shapes:COUNT or shapes:COUNT:random|aligned|swapped")
    if data == "samples":
        sources = [Source(name, _sample(name)) for name in SAMPLES]
        views = build_evaluation_set(model, sources, "samples", AUGMENTATIONS, 0)
        pairs = list(zip(views.names, views.pixels, strict=True))
        return len(pairs), iter(pairs)
    sources = _file_sources(data, settings)
    return len(sources), _decoded(model, sources)


def concept_set(spec: str, model: LoadedModel, settings: Settings, count: int) -> torch.Tensor:
    """(N, 3, S, S) pixels of a concept or random set (module docstring); `count` images for a
    generated set, at most `count` (the first, by name) of DATA."""
    size = model.input_size
    if spec.startswith("texture:"):
        name = _texture_name(spec.removeprefix("texture:"))
        kinds = list(_STRIPES) if name == "stripes" else [name]
        images = [
            texture_image(TEXTURES.index(kinds[k % len(kinds)]), size, seed=k) for k in range(count)
        ]
        return torch.stack([_tensor(image) for image in images])
    if spec.startswith("noise:"):
        seed = spec.removeprefix("noise:")
        if not seed.isdigit():
            raise BadParameter(f"{spec!r}: write noise:SEED with a whole number")
        return smooth_noise(count, size, int(seed))
    _, listed = reference_images(spec, model, settings)
    pixels = [pixels for _, (_, pixels) in zip(range(count), listed, strict=False)]
    if not pixels:
        raise BadParameter(f"{spec}: no images")
    return torch.stack(pixels)


def smooth_noise(count: int, size: int, seed: int) -> torch.Tensor:
    """(count, 3, size, size) in [0, 1]: uniform noise on a random 2-32 cell grid, upsampled."""
    generator = torch.Generator().manual_seed(seed)
    images = []
    for _ in range(count):
        cells = int(torch.randint(2, 33, (1,), generator=generator))
        coarse = torch.rand(1, 3, cells, cells, generator=generator)
        images.append(F.interpolate(coarse, size=(size, size), mode="bilinear")[0])
    return torch.stack(images).clamp(0.0, 1.0)


def _texture_name(name: str) -> str:
    wanted = " ".join(name.replace("-", " ").replace("_", " ").lower().split())
    if wanted == "stripes" or wanted in TEXTURES:
        return wanted
    known = ", ".join(["stripes", *(t.replace(" ", "-") for t in TEXTURES)])
    raise BadParameter(f"unknown texture {name!r}; textures: {known}")


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255.0


def _sample(name: str) -> Callable[[], Image.Image]:
    return lambda: sample_image(name)


def _shapes(model: LoadedModel, count: int, cue: str) -> Iterator[tuple[str, torch.Tensor]]:
    from app.shapes.base import SIZE

    for index in range(count):
        drawn = draw_sample(_SHAPES_OFFSET + index, SIZE, 0, cue)  # type: ignore[arg-type]
        name = f"{SHAPES[drawn.label]}/{index:05d}"
        yield name, model.preprocessing.model_view(Image.fromarray(drawn.image))


def _file_sources(data: str, settings: Settings) -> list[Source]:
    path = Path(data)
    limits = settings.max_image_bytes, settings.max_image_pixels
    if path.is_file() and path.suffix.lower() == ".zip":
        sources = zip_sources(path.read_bytes(), *limits)
    elif path.is_dir():
        sources = folder_sources(path, *limits)
    elif path.exists():
        raise BadParameter(f"{data}: give a folder, a .zip, samples or shapes:COUNT")
    else:
        raise BadParameter(f"{data}: no such folder or file")
    if not sources:
        raise BadParameter(f"{data}: no images found")
    if len(sources) > MAX_IMAGES:
        raise BadParameter(f"{data}: more than {MAX_IMAGES:,} images")
    return sources


def _decoded(model: LoadedModel, sources: list[Source]) -> Iterator[tuple[str, torch.Tensor]]:
    for source in sources:
        yield source.name, model.preprocessing.model_view(source.image)
