"""The Shapes lab: a generated dataset with exact masks (dataset.py), and experiments on it, one
module each, registered in EXPERIMENTS. Each writes its models and JSON report under
`data_dir/shapes/` (storage.py) and returns its report.

- `transfer`: the default model fine-tuned on Shapes against the same network from scratch; the
  best pretrained run is kept as the teacher.
- `distill`: a small student trained from the teacher's soft targets and from labels alone.
- `evaluate`: pointing game and mass inside the mask per method, per trained model; cue conflict.
- `fewshot`: k-nearest neighbours on the pretrained features, from a few examples per class.
- `distill_transfer`: labels only vs distilled vs distilled with a transfer set, over seeds.
- `noise_robustness`: FGSM and PGD success per ε, trained with and without input noise.
- `calibration`: the student with and without label smoothing (ECE, reliability), temperature.
- `random_labels`: the student on randomly permuted labels, the sanity check's bogus model.
"""

# Importing the experiment modules registers them, in the order menus show them.
# isort: off
from app.shapes import transfer, distill, evaluate, fewshot_experiment  # noqa: F401
from app.shapes import distill_transfer, robustness  # noqa: F401
from app.shapes import calibration_experiment, random_labels  # noqa: F401

# isort: on
from app.shapes.base import EXPERIMENTS, SIZE, Experiment
from app.shapes.storage import load_trained, saved_reports, trained_fingerprint

__all__ = [
    "EXPERIMENTS",
    "SIZE",
    "Experiment",
    "load_trained",
    "saved_reports",
    "trained_fingerprint",
]
