"""Label smoothing against over-confidence (Szegedy et al., CVPR 2016; Müller et al., "When does
label smoothing help?", NeurIPS 2019), and softmax temperature against entropy.

The lab's student (the teacher is too slow to train several times on the CPU) is trained with
and without label smoothing, from the same initial weights, seeds and epochs; each is scored on
the test split with the shared statistics (app/stats.py): ECE over 15 equal-width bins, the
reliability rows, the confidence histogram, NLL and accuracy. For the temperature claim the same
test logits are divided by T before the softmax and the mean entropy is reported per T.

Label smoothing with ε over K classes trains against the target (1 − ε)·onehot + ε/K, which is
what `F.cross_entropy(..., label_smoothing=ε)` computes: (1 − ε)·(−log p_y) + ε·mean_k(−log p_k).
"""

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from pydantic import Field

from app import stats
from app.params import Progress
from app.results import result_type
from app.settings import Settings
from app.shapes import storage
from app.shapes.base import EXPERIMENTS, Experiment, SplitParams, splits, stages
from app.shapes.networks import ShapesStudent
from app.shapes.seeds import Spread, spread
from app.shapes.training import TrainParams, predict_logits, train
from app.zoo import LoadedModel

__all__ = [
    "TEMPERATURES",
    "Calibration",
    "CalibrationParams",
    "CalibrationReport",
    "CalibrationRun",
    "calibration",
    "smoothed_targets",
]

TEMPERATURES = (0.5, 1.0, 2.0, 4.0, 8.0)  # where the entropy of the softmax is reported


class CalibrationParams(SplitParams, TrainParams):
    width: int = Field(24, ge=4, le=128, description="Student width (channels of its 1st layer)")
    epochs: int = Field(30, ge=1, le=500)
    learning_rate: float = Field(1e-2, gt=0, le=1.0)
    label_smoothing: float = Field(
        0.1, gt=0, lt=1, description="ε of the smoothed run (the control has 0)"
    )
    seeds: int = Field(3, ge=1, le=5, description="Training seeds 0, 1, …: each trains both runs")


@result_type
@dataclass(frozen=True)
class CalibrationRun:
    """One trained student scored on the test split."""

    seed: int
    label_smoothing: float
    test_accuracy: float
    ece: float
    nll: float
    mean_confidence: float
    bins: list[dict[str, Any]]  # stats.reliability rows: lower, upper, count, confidence, accuracy
    confidence_histogram: list[int]  # images per bin of top-1 confidence
    entropy: list[float]  # mean entropy (nats) of softmax(logits / T) for each T in TEMPERATURES


@result_type
@dataclass(frozen=True)
class CalibrationReport:
    params: dict
    runs: list[CalibrationRun]
    temperatures: list[float]
    ece: dict[str, Spread]  # "plain" / "smoothed": mean, sd over seeds
    test_accuracy: dict[str, Spread]
    nll: dict[str, Spread]
    max_entropy: float  # log K: the entropy of the uniform distribution
    seconds: float


def smoothed_targets(labels: torch.Tensor, classes: int, smoothing: float) -> torch.Tensor:
    """(N, K) targets of label smoothing: 1 − ε + ε/K on the label, ε/K elsewhere."""
    targets = torch.full((len(labels), classes), smoothing / classes, dtype=torch.float64)
    targets[torch.arange(len(labels)), labels] += 1 - smoothing
    return targets


def _score(seed: int, smoothing: float, logits: np.ndarray, labels: np.ndarray) -> CalibrationRun:
    probs = stats.softmax(logits)
    found = stats.calibration(probs, labels)
    entropies = [float(stats.entropy(stats.softmax(logits, t)).mean()) for t in TEMPERATURES]
    return CalibrationRun(
        seed,
        smoothing,
        float((probs.argmax(axis=1) == labels).mean()),
        found["ece"],
        found["nll"],
        float(probs.max(axis=1).mean()),
        found["bins"],
        found["confidence_histogram"],
        entropies,
    )


def calibration(
    settings: Settings, params: CalibrationParams, progress: Progress | None = None
) -> CalibrationReport:
    """Writes the `calibration` report (no model: the students are only measured)."""
    started = time.perf_counter()
    train_set, validation, test = splits(params)
    labels = test[1].numpy()
    options = params.model_dump(include=set(TrainParams.model_fields))
    stage = stages(progress, 2 * params.seeds)
    runs: list[CalibrationRun] = []
    for seed in range(params.seeds):
        torch.manual_seed(seed)
        network = ShapesStudent(params.width)  # both runs start from these weights
        for index, smoothing in enumerate((0.0, params.label_smoothing)):
            run_params = TrainParams(**{**options, "seed": seed, "label_smoothing": smoothing})
            trained = train(
                network, train_set, validation, run_params, progress=stage(2 * seed + index)
            )
            logits = predict_logits(trained.network, test[0]).double().numpy()
            runs.append(_score(seed, smoothing, logits, labels))
    by_kind = {"plain": [r for r in runs if r.label_smoothing == 0]}
    by_kind["smoothed"] = [r for r in runs if r.label_smoothing > 0]
    report = CalibrationReport(
        params.model_dump(mode="json"),
        runs,
        list(TEMPERATURES),
        {kind: spread([r.ece for r in group]) for kind, group in by_kind.items()},
        {kind: spread([r.test_accuracy for r in group]) for kind, group in by_kind.items()},
        {kind: spread([r.nll for r in group]) for kind, group in by_kind.items()},
        float(np.log(10)),
        time.perf_counter() - started,
    )
    storage.write_report(settings, "calibration", report)
    return report


@EXPERIMENTS.register
class Calibration(Experiment):
    name = "calibration"
    title = "Label smoothing"
    description = (
        "train the student with and without label smoothing: calibration (ECE, reliability, "
        "confidence) of each, and the softmax's entropy as the temperature rises"
    )
    Params = CalibrationParams

    def run(
        self,
        settings: Settings,
        params: CalibrationParams,
        model: LoadedModel,
        progress: Progress | None = None,
    ) -> CalibrationReport:
        return calibration(settings, params, progress)
