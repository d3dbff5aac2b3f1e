"""What every Shapes lab experiment shares: the base class and its registry, the image size, and
the train, validation and test splits.

Splits are disjoint index ranges of the generator (train from 0, validation from 100 000, test
from 200 000), so no image is in two splits.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from pydantic import Field

from app.errors import UnknownExperiment
from app.params import Params as ParamsModel
from app.params import Progress
from app.registry import Registry
from app.settings import Settings
from app.shapes.dataset import Cue, ShapesDataset
from app.zoo import LoadedModel

__all__ = [
    "EXPERIMENTS",
    "SIZE",
    "TEST_OFFSET",
    "VALIDATION_OFFSET",
    "Experiment",
    "Split",
    "SplitParams",
    "splits",
    "stages",
]

SIZE = 64  # pixels; the lab's models are trained and explained at this size
VALIDATION_OFFSET, TEST_OFFSET = 100_000, 200_000  # where the generator's splits start


class Experiment(ABC):
    """One experiment of the lab. Subclasses set the class variables and implement `run`, which
    writes its models and JSON report under `data_dir/shapes/` (app/shapes/storage.py)."""

    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    Params: ClassVar[type[ParamsModel]]
    needs: ClassVar[tuple[str, ...]] = ()  # trained models it reads (part of its cache key)
    makes: ClassVar[tuple[str, ...]] = ()  # trained models it writes

    @abstractmethod
    def run(
        self, settings: Settings, params: Any, model: LoadedModel, progress: Progress | None = None
    ) -> Any:
        """The experiment's report; `model`: the server's default model (few-shot uses its
        features, the others train their own)."""


EXPERIMENTS: Registry[Experiment] = Registry("experiment", UnknownExperiment)
"""The only list of lab experiments: `@EXPERIMENTS.register` on the class adds it."""


class SplitParams(ParamsModel):
    train_images: int = Field(1000, ge=10, le=20_000, description="Training images")
    test_images: int = Field(200, ge=10, le=5_000, description="Validation and test images, each")
    seed: int = Field(0, ge=0, description="Dataset seed")


Split = tuple[torch.Tensor, torch.Tensor]  # pixels (N, 3, SIZE, SIZE) in [0, 1], labels (N,)


def splits(params: SplitParams, cue: Cue = "random") -> tuple[Split, Split, Split]:
    """Train and validation images with `cue`; test images always on random textures."""
    train_set = ShapesDataset(params.train_images, SIZE, params.seed, cue, 0).tensors()
    validation = ShapesDataset(
        params.test_images, SIZE, params.seed, cue, VALIDATION_OFFSET
    ).tensors()
    test = ShapesDataset(params.test_images, SIZE, params.seed, "random", TEST_OFFSET).tensors()
    return train_set, validation, test


def stages(progress: Progress | None, count: int) -> Callable[[int], Progress | None]:
    """A progress callback for each of `count` equal stages of one job."""

    def stage(index: int) -> Progress | None:
        if progress is None:
            return None
        return lambda done, total: progress(index * total + done, count * total)

    return stage
