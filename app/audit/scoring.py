"""What runs on the workers: decode a batch of items, and score it with the model loaded once.

Both are plain callables over column batches (dicts of numpy arrays), so the same code runs in
Ray Data's `map_batches` (one stage: an actor pool whose actors decode and score their own
batches) and in the plain loop.
"""

import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from app.audit.sources import read_item_bytes
from app.errors import LanternError
from app.explain import METHODS
from app.imaging.decode import decode_image
from app.imaging.preprocessing import Preprocessing
from app.params import no_progress, parse_params
from app.settings import Settings
from app.zoo import LoadedModel, load_model

__all__ = [
    "MAP_SIZE",
    "ModelLoader",
    "Scorer",
    "border_masses",
    "decode_batch",
    "downsample",
    "item_columns",
    "read_image",
]

MAP_SIZE = 32  # stored maps are average-pooled to at most MAP_SIZE × MAP_SIZE
BORDER = 0.1  # the border band: the outer 10 % of each side
CORNER = 0.2  # each corner square: 20 % of the side


@dataclass(frozen=True)
class ModelLoader:
    """Picklable recipe for a model: a registered name, or `shapes/teacher|student` (the lab's
    trained models under settings.data_dir)."""

    name: str
    settings: Settings

    def load(self) -> LoadedModel:
        if self.name.startswith("shapes/"):
            from app.shapes import load_trained

            return load_trained(self.settings, self.name.split("/", 1)[1])  # type: ignore[arg-type]
        return load_model(self.name, self.settings)


def item_columns(
    locations: Sequence[str], keys: Sequence[str] | None = None
) -> dict[str, np.ndarray]:
    """The columns decode_batch and Scorer read: key (row numbers when not given), location."""
    names = [str(i) for i in range(len(locations))] if keys is None else list(keys)
    return {
        "key": np.array(names, dtype=object),
        "location": np.array(list(locations), dtype=object),
    }


def decode_batch(
    batch: dict[str, np.ndarray], preprocessing: Preprocessing, max_bytes: int, max_pixels: int
) -> dict[str, np.ndarray]:
    """Columns key, location -> key, pixels (N, S, S, 3) uint8 as the model sees them, mask
    (N, S, S) bool (all False without one), has_mask, error ('' when decoded)."""
    size = preprocessing.crop
    count = len(batch["key"])
    pixels = np.zeros((count, size, size, 3), np.uint8)
    masks = np.zeros((count, size, size), bool)
    has_mask = np.zeros(count, bool)
    errors = np.full(count, "", dtype=object)
    for row, location in enumerate(batch["location"]):
        try:
            image, mask = read_image(str(location), max_bytes, max_pixels)
        except (LanternError, OSError, KeyError, ValueError) as error:
            errors[row] = str(error) or type(error).__name__
            continue
        view = preprocessing.model_view(image)
        pixels[row] = np.round(view.permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        if mask is not None:
            mask_view = preprocessing.model_view(Image.fromarray(mask.astype(np.uint8) * 255))
            masks[row] = mask_view[0].numpy() > 0.5
            has_mask[row] = True
    return {
        "key": batch["key"],
        "pixels": pixels,
        "mask": masks,
        "has_mask": has_mask,
        "error": errors.astype(str),
    }


def read_image(location: str, max_bytes: int, max_pixels: int) -> tuple[Image.Image, Any]:
    if location.startswith("shapes:"):
        from app.shapes.base import SIZE
        from app.shapes.dataset import draw_sample

        _, seed, cue, index = location.split(":")
        drawn = draw_sample(int(index), SIZE, int(seed), cue)  # type: ignore[arg-type]
        return Image.fromarray(drawn.image), drawn.mask
    data = read_item_bytes(location, max_bytes)
    return decode_image(data, max_bytes=max_bytes, max_pixels=max_pixels), None


def downsample(attribution: np.ndarray, size: int = MAP_SIZE) -> np.ndarray:
    """(H, W) -> (min(size, H), min(size, W)) float32 by adaptive average pooling."""
    tensor = torch.from_numpy(np.ascontiguousarray(attribution, dtype=np.float32))[None, None]
    shape = (min(size, attribution.shape[0]), min(size, attribution.shape[1]))
    pooled = torch.nn.functional.adaptive_avg_pool2d(tensor, shape)
    return pooled[0, 0].numpy()


def border_masses(attribution: np.ndarray) -> tuple[float, float]:
    """Share of the map's positive mass in the outer BORDER band and in the four CORNER
    squares (watermarks and frames live there); NaN when nothing is positive."""
    positive = np.clip(attribution, 0, None)
    total = float(positive.sum())
    if total <= 0:
        return float("nan"), float("nan")
    border, corner = border_regions(attribution.shape)
    return float(positive[border].sum()) / total, float(positive[corner].sum()) / total


def border_regions(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Boolean (H, W) masks of the border band and the corners; their means are what a uniform
    map scores (the baselines the report divides by)."""
    height, width = shape[0], shape[1]
    band_y, band_x = max(1, round(BORDER * height)), max(1, round(BORDER * width))
    border = np.ones((height, width), bool)
    border[band_y : height - band_y, band_x : width - band_x] = False
    corner_y, corner_x = max(1, round(CORNER * height)), max(1, round(CORNER * width))
    rows = np.zeros(height, bool)
    rows[:corner_y] = rows[height - corner_y :] = True
    columns = np.zeros(width, bool)
    columns[:corner_x] = columns[width - corner_x :] = True
    return border, rows[:, None] & columns[None, :]


class Scorer:
    """The model, loaded once per worker; `__call__` decodes a batch of items (key, location:
    `decode_batch`) and scores it.

    Decoding in the scoring actor rather than in separate Ray tasks: on two cores the decode
    tasks' worker processes (each importing torch when it starts, while the actors score) took
    about a third of the machine from two scoring actors, for work that costs 0.6 ms an image in
    the actor (docs/audit.md, measured).

    Out: key, error, logits (N, classes) float32 (NaN rows for errors), and per method m:
    `map__m` (N, R, R) float32 maps of the predicted class, `mass_inside__m`, `pointing__m`
    (NaN without a mask), `border__m`, `corner__m`, `seconds__m`; mask_area (NaN without);
    worker (host:pid), batch_began and batch_ended (wall clock) for the run's progress."""

    def __init__(
        self,
        loader: ModelLoader,
        methods: dict[str, dict[str, Any]],
        threads: int,
        limits: tuple[int, int],
    ) -> None:
        torch.set_num_threads(max(1, threads))  # Ray sets OMP_NUM_THREADS=1 in actors
        self._use(loader.load(), methods, limits)

    @classmethod
    def around(
        cls, model: LoadedModel, methods: dict[str, dict[str, Any]], limits: tuple[int, int]
    ) -> "Scorer":
        """A scorer of a model already loaded in this process (the plain loop, no Ray)."""
        scorer = cls.__new__(cls)
        scorer._use(model, methods, limits)
        return scorer

    def _use(
        self, model: LoadedModel, methods: dict[str, dict[str, Any]], limits: tuple[int, int]
    ) -> None:
        self.model = model
        self.max_bytes, self.max_pixels = limits  # each image's encoded bytes and pixels
        self.methods = {
            name: parse_params(METHODS.get(name).Params, values, name)
            for name, values in methods.items()
        }
        # Which actor scored a row (the page's per-worker progress); not part of the report.
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        size = self.model.input_size
        self.map_shape = (min(MAP_SIZE, size), min(MAP_SIZE, size))

    def __call__(self, items: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self.score(
            decode_batch(items, self.model.preprocessing, self.max_bytes, self.max_pixels)
        )

    def score(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Score a decoded batch (decode_batch's columns)."""
        from app.shapes.ground_truth import mass_inside, pointing_hit

        model = self.model
        count = len(batch["key"])
        ok = np.array([not error for error in batch["error"]], bool)
        logits = np.full((count, model.num_classes), np.nan, np.float32)
        pixels = torch.from_numpy(np.ascontiguousarray(batch["pixels"])).permute(0, 3, 1, 2)
        pixels = pixels.float().div(255.0)
        if ok.any():
            chosen = torch.from_numpy(np.flatnonzero(ok))
            logits[ok] = model.forward_logits(pixels[chosen]).float().cpu().numpy()
        began = time.time()
        out: dict[str, np.ndarray] = {"key": batch["key"], "error": batch["error"]}
        out["worker"] = np.full(count, self.worker, dtype=object)
        out["logits"] = logits
        for name, params in self.methods.items():
            method = METHODS.get(name)
            maps = np.zeros((count, *self.map_shape), np.float32)
            scores = {key: np.full(count, np.nan) for key in ("mass", "point", "border", "corner")}
            area = np.full(count, np.nan)
            started = time.perf_counter()
            for row in np.flatnonzero(ok):
                target = int(np.argmax(logits[row]))
                single = pixels[row : row + 1].to(model.device)
                result = method.attribute(model, single, target, params, no_progress)
                attribution = result.map.detach().float().cpu().numpy()
                attribution = np.nan_to_num(attribution, nan=0.0, posinf=0.0, neginf=0.0)
                maps[row] = downsample(attribution)
                scores["border"][row], scores["corner"][row] = border_masses(attribution)
                if batch["has_mask"][row]:
                    mask = np.asarray(batch["mask"][row], bool)
                    scores["mass"][row] = mass_inside(attribution, mask)
                    scores["point"][row] = float(pointing_hit(attribution, mask))
                    area[row] = float(mask.mean())
            seconds = (time.perf_counter() - started) / max(1, int(ok.sum()))
            out[f"map__{name}"] = maps
            out[f"mass_inside__{name}"] = scores["mass"]
            out[f"pointing__{name}"] = scores["point"]
            out[f"border__{name}"] = scores["border"]
            out[f"corner__{name}"] = scores["corner"]
            out[f"seconds__{name}"] = np.full(count, seconds)
            out["mask_area"] = area
        out["batch_began"] = np.full(count, began)  # wall clock: progress.json's scoring rate
        out["batch_ended"] = np.full(count, time.time())
        return out
