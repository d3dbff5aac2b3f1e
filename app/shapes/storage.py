"""Where the Shapes lab keeps its files: everything under `settings.data_dir / "shapes"`.

- `NAME.safetensors`: a trained model (`teacher`, `student`, `student-from-labels`,
  `random-labels`), written by
  the experiment that `makes` it and read by those that `need` it;
- `NAME.json`: the last report of experiment NAME (the page shows it on load).
"""

import dataclasses
import json
from pathlib import Path
from typing import Any, Literal

from safetensors.torch import save_file
from torch import nn

from app.errors import BadParameter
from app.settings import Settings
from app.shapes.base import EXPERIMENTS, SIZE
from app.shapes.networks import ShapesStudent, as_loaded, teacher_network
from app.zoo import LoadedModel
from app.zoo.weights import apply_state_dict, load_state_dict

__all__ = [
    "Trained",
    "load_trained",
    "model_path",
    "report_path",
    "save_model",
    "saved_reports",
    "trained_fingerprint",
    "write_report",
]

# The trained models explain() can be pointed at; random-labels: the bogus model (random_labels.py)
Trained = Literal["teacher", "student", "random-labels"]


def _folder(settings: Settings) -> Path:
    return settings.data_dir / "shapes"


def model_path(settings: Settings, name: str) -> Path:
    return _folder(settings) / f"{name}.safetensors"


def report_path(settings: Settings, experiment: str) -> Path:
    return _folder(settings) / f"{experiment}.json"


def save_model(settings: Settings, name: str, network: nn.Module) -> Path:
    path = model_path(settings, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in network.state_dict().items()}, str(path))
    return path


def write_report(settings: Settings, experiment: str, report: Any) -> Path:
    """The report (a dataclass) as JSON: its fields, nested dataclasses as objects."""
    path = report_path(settings, experiment)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dataclasses.asdict(report), indent=1))
    return path


def saved_reports(settings: Settings) -> dict[str, Any]:
    """The last report of each experiment as written (None: it never ran)."""
    reports: dict[str, Any] = {}
    for name in EXPERIMENTS.names():
        path = report_path(settings, name)
        reports[name] = json.loads(path.read_text()) if path.is_file() else None
    return reports


def trained_fingerprint(settings: Settings, names: tuple[str, ...]) -> dict[str, float | None]:
    """When each trained model was written (None: not yet): a retrained teacher is a new input."""
    paths = {name: model_path(settings, name) for name in names}
    return {name: path.stat().st_mtime if path.is_file() else None for name, path in paths.items()}


def load_trained(settings: Settings, name: Trained) -> LoadedModel:
    """The lab's trained teacher or student as a LoadedModel (explain() accepts it)."""
    path = model_path(settings, name)
    if not path.is_file():
        makers = [experiment.name for experiment in EXPERIMENTS if name in experiment.makes]
        step = (
            f"run {makers[0]} first (on the lab page, or lantern shapes {makers[0]})"
            if makers
            else "no experiment makes one"
        )
        raise BadParameter(f"there is no Shapes {name} yet: {step}")
    state = load_state_dict(path, settings.max_weights_bytes)
    if name == "teacher":
        network: nn.Module = teacher_network(settings, "scratch")
    else:
        width = int(state["features.0.weight"].shape[0])
        network = ShapesStudent(width)
    apply_state_dict(network, state, path.name)
    return as_loaded(network.eval(), f"shapes/{name}", SIZE, settings.torch_device())
