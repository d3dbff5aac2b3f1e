"""Every registered lab experiment, run at its smallest: its report survives the job store's codec
unchanged and is the JSON it saved, it writes the models it says it makes, its progress reaches
its total, and the default model it is given is left as it was (weights, hooks, modes).

Driven by EXPERIMENTS: a new experiment is covered the moment it registers. An experiment that
`needs` a trained model runs after the one that `makes` it (distill after transfer), in one data
folder shared by the module.
"""

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from annotated_types import Ge, MinLen
from pydantic import BaseModel

from app.jobs.codec import decode_result, encode_result
from app.settings import Settings
from app.shapes import EXPERIMENTS, saved_reports, trained_fingerprint
from app.zoo import LoadedModel
from tests.jobs.test_store import _equal
from tests.models import TinyNet, assert_unchanged, fingerprint, loaded


def smallest_params(params_type: type[BaseModel]) -> dict[str, Any]:
    """Every integer parameter at its lower bound (few images, one epoch, one shot, a narrow
    network) and every list at the shortest start of its default (one mode, one method); the
    rest at their defaults."""
    values: dict[str, Any] = {}
    for name, info in params_type.model_fields.items():
        lowest = [item.ge for item in info.metadata if isinstance(item, Ge)]
        shortest = [item.min_length for item in info.metadata if isinstance(item, MinLen)]
        if info.annotation is int and lowest:
            values[name] = lowest[0]
        elif isinstance(info.default, list) and shortest:
            values[name] = info.default[: shortest[0]]
    return values


@dataclass
class _Run:
    report: Any
    progress: list[tuple[int, int]]
    model_before: dict[str, Any]
    model_after: dict[str, Any]


@dataclass
class _Lab:
    """The experiments run so far on one data folder, each run once, prerequisites first."""

    settings: Settings
    model: LoadedModel
    runs: dict[str, _Run] = field(default_factory=dict)
    running: list[str] = field(default_factory=list)

    def run(self, name: str) -> _Run:
        if name in self.runs:
            return self.runs[name]
        assert name not in self.running, f"experiments need each other: {[*self.running, name]}"
        self.running.append(name)
        experiment = EXPERIMENTS.get(name)
        for needed in experiment.needs:
            for maker in EXPERIMENTS:
                if needed in maker.makes:
                    self.run(maker.name)
        params = experiment.Params(**smallest_params(experiment.Params))
        progress: list[tuple[int, int]] = []
        before = fingerprint(self.model.module)
        report = experiment.run(
            self.settings, params, self.model, lambda done, total: progress.append((done, total))
        )
        self.runs[name] = _Run(report, progress, before, fingerprint(self.model.module))
        self.running.remove(name)
        return self.runs[name]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> _Lab:
    folder = tmp_path_factory.mktemp("lab")
    settings = Settings(data_dir=folder / "data", weights_dir=folder / "weights", device="cpu")
    return _Lab(settings, loaded(TinyNet()))


@pytest.mark.parametrize("name", EXPERIMENTS.names())
def test_experiment_contract(lab: _Lab, name: str) -> None:
    run = lab.run(name)
    experiment = EXPERIMENTS.get(name)

    restored = decode_result(
        encode_result(run.report), lambda _: pytest.fail("a lab report holds no image")
    )
    _equal(run.report, restored)
    saved = saved_reports(lab.settings)[name]
    assert saved == json.loads(json.dumps(dataclasses.asdict(run.report)))

    written = trained_fingerprint(lab.settings, experiment.makes)
    assert None not in written.values(), f"{name} did not write all of {experiment.makes}"

    assert run.progress, f"{name} reported no progress"
    assert all(0 <= done <= total for done, total in run.progress)
    assert run.progress[-1][0] == run.progress[-1][1]

    assert_unchanged(run.model_before, run.model_after)
