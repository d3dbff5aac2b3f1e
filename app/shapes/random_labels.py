"""The bogus model (Adebayo et al., "Sanity Checks for Saliency Maps", NeurIPS 2018, section 4;
Zhang et al., "Understanding deep learning requires rethinking generalization", ICLR 2017): the
lab's student trained on the training images with their labels randomly permuted. It memorises
them (high training accuracy on the permuted labels) and learns nothing that generalises (test
accuracy near chance, 10 %). Saved as `random-labels` (`shapes/random-labels` by name): the
reference of the data-randomisation sanity test, whose maps an explanation of an honest model
should not resemble.

The control is the same network, seed and epochs on the true labels. Per method the report gives
the similarity (app/trust/similarity.py) of the honest model's map to the bogus model's map, and,
with two seeds or more, to a second honest model's (seed 1): what "alike" means between two
models that both learnt the task.
"""

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import Field
from safetensors import safe_open

from app.errors import BadParameter, BadWeights
from app.explain import METHODS, MethodNames
from app.params import Progress
from app.results import result_type
from app.settings import Settings
from app.shapes import storage
from app.shapes.base import EXPERIMENTS, SIZE, Experiment, SplitParams, splits, stages
from app.shapes.networks import ShapesStudent, as_loaded
from app.shapes.seeds import Spread, spread
from app.shapes.training import TrainParams, accuracy, train
from app.trust import METRICS, data_randomization_test
from app.zoo import LAB_PREFIX, LoadedModel
from app.zoo.weights import apply_state_dict, load_state_dict

__all__ = [
    "MODEL_NAME",
    "MethodSimilarity",
    "RandomLabels",
    "RandomLabelsParams",
    "RandomLabelsReport",
    "RandomLabelsRun",
    "load_random_labels_weights",
    "permuted_labels",
    "random_labels",
    "reference_for",
]

MODEL_NAME = "random-labels"  # saved as data_dir/shapes/random-labels.safetensors


class RandomLabelsParams(SplitParams, TrainParams):
    train_images: int = Field(
        500, ge=10, le=20_000, description="Training images (fewer memorise faster)"
    )
    width: int = Field(24, ge=4, le=128, description="Student width (channels of its 1st layer)")
    epochs: int = Field(
        60, ge=1, le=500, description="Passes over the training images (memorising takes many)"
    )
    learning_rate: float = Field(1e-2, gt=0, le=1.0)
    weight_decay: float = Field(0.0, ge=0, le=1, description="0: decay fights memorising")
    seeds: int = Field(3, ge=1, le=5, description="Training seeds 0, 1, …; the model saved: 0")
    methods: MethodNames = Field(
        default=["saliency", "guided_backprop", "grad_cam", "integrated_gradients"],
        min_length=1,
        json_schema_extra=lambda schema: schema.update(
            items={"type": "string", "enum": list[Any](METHODS.names())}
        ),
        description="Methods whose maps are compared with the bogus model's",
    )
    images: int = Field(8, ge=1, le=200, description="Test images per method compared")


@result_type
@dataclass(frozen=True)
class RandomLabelsRun:
    """One seed: accuracies of the bogus model and of its control (the same on true labels)."""

    seed: int
    train_accuracy: float  # bogus model, on the permuted labels it was trained on
    train_accuracy_true_labels: float  # bogus model, on the training images' true labels
    test_accuracy: float  # bogus model, on the test split (true labels)
    control_train_accuracy: float
    control_test_accuracy: float
    seconds: float


@result_type
@dataclass(frozen=True)
class MethodSimilarity:
    """Mean over the compared images of each similarity measure (app/trust/similarity.py)."""

    method: str
    to_random_labels: dict[str, float]  # honest model's map vs the bogus model's
    to_other_seed: dict[str, float] | None  # vs a second honest model's (seed 1); None: 1 seed


@result_type
@dataclass(frozen=True)
class RandomLabelsReport:
    params: dict
    runs: list[RandomLabelsRun]
    train_accuracy: Spread  # over seeds
    test_accuracy: Spread
    control_train_accuracy: Spread
    control_test_accuracy: Spread
    chance: float
    methods: list[MethodSimilarity]
    model: str  # the name it is loaded by
    seconds: float


def permuted_labels(labels: torch.Tensor, seed: int) -> torch.Tensor:
    """The labels shuffled among the images (each class keeps its count), seeded."""
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(10_000 + seed))
    return labels[order]


def _mean_similarity(rows: list[dict[str, float]]) -> dict[str, float]:
    return {metric: float(np.mean([row[metric] for row in rows])) for metric in METRICS}


def random_labels(
    settings: Settings, params: RandomLabelsParams, progress: Progress | None = None
) -> RandomLabelsReport:
    """Writes `random-labels` (seed 0's bogus model) and the `random_labels` report."""
    started = time.perf_counter()
    train_set, validation, test = splits(params)
    pixels, labels = train_set
    options = params.model_dump(include=set(TrainParams.model_fields))
    stage = stages(progress, 2 * params.seeds + 1)
    runs: list[RandomLabelsRun] = []
    honest: list[torch.nn.Module] = []
    bogus: torch.nn.Module | None = None
    for seed in range(params.seeds):
        run_started = time.perf_counter()
        train_params = TrainParams(**{**options, "seed": seed})
        torch.manual_seed(seed)
        network = ShapesStudent(params.width)  # the same start for both: only the labels differ
        shuffled = permuted_labels(labels, seed)
        # Validation on the true labels tells nothing here, so a slice of the training set
        # (with the labels it is trained on) is the curve's second set.
        memorised = train(
            network, (pixels, shuffled), (pixels[:100], shuffled[:100]), train_params,
            progress=stage(2 * seed),
        )  # fmt: skip
        control = train(network, train_set, validation, train_params, progress=stage(2 * seed + 1))
        honest.append(control.network)
        if seed == 0:
            bogus = memorised.network
        runs.append(
            RandomLabelsRun(
                seed,
                accuracy(memorised.network, pixels, shuffled),
                accuracy(memorised.network, pixels, labels),
                accuracy(memorised.network, *test),
                accuracy(control.network, pixels, labels),
                accuracy(control.network, *test),
                time.perf_counter() - run_started,
            )
        )
    assert bogus is not None
    storage.save_model(settings, MODEL_NAME, bogus)
    methods = _compare_maps(settings, params, bogus, honest, test[0], stage(2 * params.seeds))
    report = RandomLabelsReport(
        params.model_dump(mode="json"),
        runs,
        spread([r.train_accuracy for r in runs]),
        spread([r.test_accuracy for r in runs]),
        spread([r.control_train_accuracy for r in runs]),
        spread([r.control_test_accuracy for r in runs]),
        1 / 10,
        methods,
        LAB_PREFIX + MODEL_NAME,
        time.perf_counter() - started,
    )
    storage.write_report(settings, "random_labels", report)
    return report


def _compare_maps(
    settings: Settings,
    params: RandomLabelsParams,
    bogus: torch.nn.Module,
    honest: list[torch.nn.Module],
    test_pixels: torch.Tensor,
    progress: Progress | None,
) -> list[MethodSimilarity]:
    """Each method's map of the honest model (seed 0) against the bogus model's and against a
    second honest model's (seed 1), each model explaining its own top class."""
    device = settings.torch_device()
    model = as_loaded(honest[0], "shapes/control", SIZE, device)
    reference = as_loaded(bogus, LAB_PREFIX + MODEL_NAME, SIZE, device)
    other = as_loaded(honest[1], "shapes/control-seed-1", SIZE, device) if len(honest) > 1 else None
    images = test_pixels[: params.images]
    rows = []
    total = len(params.methods) * len(images)
    for index, method in enumerate(params.methods):
        to_bogus, to_other = [], []
        for number, image in enumerate(images):
            found = data_randomization_test(model, reference, image, method)
            to_bogus.append(found["similarity"])
            if other is not None:
                to_other.append(data_randomization_test(model, other, image, method)["similarity"])
            if progress is not None:
                progress(index * len(images) + number + 1, total)
        rows.append(
            MethodSimilarity(
                method, _mean_similarity(to_bogus), _mean_similarity(to_other) if to_other else None
            )
        )
    return rows


def load_random_labels_weights(settings: Settings, model: LoadedModel, path: Path) -> LoadedModel:
    """`model`'s architecture with the weights at `path` (trained on random labels): what
    `lantern sanity --random-labels-weights` compares a lab model with. The weights must fit
    the architecture exactly."""
    if not path.is_file():
        raise BadParameter(f"--random-labels-weights: {path} is not a file")
    state = load_state_dict(path, settings.max_weights_bytes)
    network = copy.deepcopy(model.network).cpu()
    try:
        apply_state_dict(network, state, path.name)
    except BadWeights as error:
        raise BadWeights(f"{path.name} does not fit {model.name}: {error}") from error
    return as_loaded(network.eval(), f"{model.name} (random labels)", SIZE, str(model.device))


def reference_for(settings: Settings, model_name: str) -> str | None:
    """The bogus model to compare `model_name`'s maps with, by name: the lab's random-labels
    model for a lab student of its width once it is trained; None for every other model."""
    if not model_name.startswith(LAB_PREFIX) or model_name == LAB_PREFIX + MODEL_NAME:
        return None
    own = storage.model_path(settings, model_name.removeprefix(LAB_PREFIX))
    bogus = storage.model_path(settings, MODEL_NAME)
    if not own.is_file() or not bogus.is_file():
        return None
    same = _shapes(own) == _shapes(bogus)
    return LAB_PREFIX + MODEL_NAME if same else None


def _shapes(path: Path) -> dict[str, list[int]]:
    """Each tensor's shape from the file's header (no weights read)."""
    with safe_open(str(path), "pt") as weights:
        return {key: list(weights.get_slice(key).get_shape()) for key in weights.keys()}  # noqa: SIM118


@EXPERIMENTS.register
class RandomLabels(Experiment):
    name = "random_labels"
    title = "Random labels"
    description = (
        "train the student on randomly permuted labels: a bogus model that memorises the "
        "training set, the reference of the data-randomisation sanity test"
    )
    Params = RandomLabelsParams
    makes = (MODEL_NAME,)

    def run(
        self,
        settings: Settings,
        params: RandomLabelsParams,
        model: LoadedModel,
        progress: Progress | None = None,
    ) -> RandomLabelsReport:
        return random_labels(settings, params, progress)
