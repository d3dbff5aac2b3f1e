"""A whole comparison run on the tiny model: every number of the original's row is measured
(so it agrees with itself), the report, files and maps are saved and can be read back."""

import json

import numpy as np
import onnx
import pytest

from app.compress.runs import RunParams, read_run, run_comparison, run_file, run_map, saved_runs
from app.errors import BadParameter, Cancelled, UnknownRecipe, UnknownRun
from app.settings import Settings
from app.zoo import LoadedModel

PARAMS = {
    "variants": [
        {"recipe": "int8_static", "params": {"per_channel": False}},
        {"recipe": "prune_magnitude", "params": {"sparsity": 1.0}},
    ],
    "methods": ["saliency", "occlusion", "grad_cam"],
    "drift_images": 2,
    "latency_repeats": 3,
    "sensitivity_sparsity": 0.5,
    "histogram_layer": "network.conv3",
}


@pytest.fixture
def run(settings: Settings, tiny: LoadedModel, evaluation, pixels):
    return run_comparison(settings, tiny, RunParams(**PARAMS), evaluation, ("img", pixels))


def test_the_original_agrees_with_itself_and_a_collapsed_model_does_not(run) -> None:
    original, int8, empty = run.rows
    assert [row.name for row in run.rows] == [
        "original",
        "int8_static (per_channel=False)",
        "prune_magnitude (sparsity=1.0)",
    ]
    assert original.top1_agreement == 1.0 and original.kl_divergence == pytest.approx(0, abs=1e-9)
    assert original.explanation_drift == pytest.approx(
        {"saliency": 1.0, "occlusion": 1.0, "grad_cam": 1.0}
    )
    assert original.explanation_overlap == pytest.approx(
        {"saliency": 1.0, "occlusion": 1.0, "grad_cam": 1.0}
    )
    assert empty.nonzero_parameters < original.nonzero_parameters
    assert empty.top1_agreement < 1.0 and empty.kl_divergence > 0
    assert empty.explanation_drift["saliency"] == 0.0  # a constant output has no gradient to rank
    assert int8.size_bytes < original.size_bytes
    for row in run.rows:
        assert row.latency_ms["batch1"] > 0 and row.latency_ms["batch8"] > 0
        assert set(row.image_drift) == {"saliency", "occlusion", "grad_cam"}
    assert run.evaluation.drift_images[0] == "image img" and len(run.evaluation.drift_images) == 3
    assert [s.layer for s in run.sensitivity][:2] == ["network.conv1", "network.conv2"]
    assert run.histogram.layer == "network.conv3"


def test_the_run_is_saved_with_its_files_and_maps(run, settings: Settings) -> None:
    report = read_run(settings, run.id)
    assert report["id"] == run.id and len(report["rows"]) == 3
    assert json.loads(json.dumps(report)) == report
    assert saved_runs(settings)[0]["id"] == run.id
    int8_file = run_file(settings, run.id, report["rows"][1]["file"])
    assert onnx.load_from_string(int8_file.read_bytes()).graph.node
    pixels, attribution, signed = run_map(settings, run.id, 1, "saliency")
    assert pixels.shape == (3, 32, 32) and attribution.shape == (32, 32)
    assert np.isfinite(attribution).all() and signed is False
    with pytest.raises(UnknownRun):
        run_file(settings, run.id, "../../lantern.sqlite3")
    with pytest.raises(UnknownRun):
        read_run(settings, "../etc")
    with pytest.raises(UnknownRun):
        run_map(settings, run.id, 7, "saliency")


def test_bad_runs_are_refused_before_any_work(
    settings: Settings, tiny: LoadedModel, evaluation
) -> None:
    with pytest.raises(UnknownRecipe):
        RunParams(variants=[{"recipe": "zip_it"}])
    with pytest.raises(BadParameter, match="ratio"):
        run_comparison(
            settings,
            tiny,
            RunParams(variants=[{"recipe": "prune_channels", "params": {"ratio": 2}}]),
            evaluation,
        )
    with pytest.raises(BadParameter, match="not a convolution"):
        run_comparison(settings, tiny, RunParams(histogram_layer="network.relu"), evaluation)
    assert saved_runs(settings) == []


def test_runs_are_bounded_and_a_cancelled_run_leaves_nothing(
    tmp_path, tiny: LoadedModel, evaluation
) -> None:
    settings = Settings(data_dir=tmp_path, kept_compression_runs=1)
    quick = RunParams(
        variants=[{"recipe": "half_precision"}],
        methods=["saliency"],
        drift_images=1,
        latency_repeats=3,
    )
    first = run_comparison(settings, tiny, quick, evaluation)
    second = run_comparison(settings, tiny, quick, evaluation)
    assert [run["id"] for run in saved_runs(settings)] == [second.id]
    assert not (tmp_path / "compress" / "runs" / first.id).exists()

    def cancel(done: int, total: int) -> None:
        if done > total // 2:
            raise Cancelled("cancelled")

    with pytest.raises(Cancelled):
        run_comparison(settings, tiny, quick, evaluation, progress=cancel)
    assert [p.name for p in (tmp_path / "compress" / "runs").iterdir()] == [second.id]
