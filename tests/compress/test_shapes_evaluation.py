"""The Compression lab on a Shapes model: measured on the lab's own labelled test split (accuracy,
not only agreement), every agreement and accuracy with its Wilson 95 % interval, in the run, its
saved report and the CLI's lines."""

import json
import math

import numpy as np
import pytest
import torch

from app.cli import main
from app.compress.data import shapes_evaluation_set
from app.compress.runs import RunParams, default_evaluation_set, read_run, run_comparison
from app.settings import Settings
from app.shapes.base import TEST_OFFSET, VALIDATION_OFFSET
from app.shapes.dataset import draw_sample
from app.shapes.gallery import is_shapes_model
from app.shapes.networks import ShapesStudent
from app.shapes.storage import save_model
from app.zoo import LoadedModel, load_model

IMAGES = 30


def _wilson(successes: int, total: int) -> tuple[float, float]:
    """Wilson's interval written out from its textbook form (Agresti & Coull 1998, eq. 2)."""
    p, z = successes / total, 1.959963984540054
    centre = p + z**2 / (2 * total)
    spread = z * math.sqrt(p * (1 - p) / total + z**2 / (4 * total**2))
    return (centre - spread) / (1 + z**2 / total), (centre + spread) / (1 + z**2 / total)


def _student(settings: Settings) -> LoadedModel:
    torch.manual_seed(0)
    save_model(settings, "student", ShapesStudent(8).eval())
    return load_model("shapes/student", settings)


def test_a_shapes_model_is_measured_on_its_labelled_test_split(settings: Settings) -> None:
    student = _student(settings)
    assert is_shapes_model(student)
    evaluation = default_evaluation_set(student, RunParams(shapes_test_images=IMAGES, seed=3))
    assert evaluation.size == IMAGES and evaluation.source == "Shapes test split (seed 3)"
    for index in (0, IMAGES - 1):  # the lab's generator, at its test offset: nothing else
        drawn = draw_sample(TEST_OFFSET + index, 64, 3, "random")
        assert evaluation.labels is not None and evaluation.labels[index] == drawn.label
        expected = torch.from_numpy(drawn.image).permute(2, 0, 1).float() / 255
        assert torch.equal(evaluation.pixels[index], expected)
    first_validation = draw_sample(VALIDATION_OFFSET, 64, 3, "random").image
    calibration = (evaluation.calibration[0].permute(1, 2, 0) * 255).round().byte().numpy()
    assert np.array_equal(calibration, first_validation)  # calibrated on another split


def test_every_agreement_and_accuracy_carries_its_wilson_interval(
    settings: Settings, tiny: LoadedModel
) -> None:
    student = _student(settings)
    params = RunParams(
        variants=[{"recipe": "int8_static", "params": {"calibration_images": 8}}],
        methods=["saliency"],
        drift_images=1,
        latency_repeats=3,
        shapes_test_images=IMAGES,
    )
    evaluation = shapes_evaluation_set(student, IMAGES)
    run = run_comparison(settings, student, params, evaluation)
    assert run.evaluation.labelled and run.evaluation.images == IMAGES
    original, int8 = run.rows
    with torch.no_grad():
        predicted = student.forward_logits(evaluation.pixels).argmax(-1)
    correct = int((predicted == torch.tensor(evaluation.labels)).sum())
    assert original.accuracy == correct / IMAGES
    low, high = _wilson(correct, IMAGES)
    assert original.accuracy_interval is not None
    assert np.allclose(original.accuracy_interval, (low, high), atol=1e-12)
    assert original.top1_agreement == 1.0
    assert np.allclose(original.top1_agreement_interval, _wilson(IMAGES, IMAGES), atol=1e-12)
    assert original.top1_agreement_interval[1] == pytest.approx(1.0)
    assert original.top1_agreement_interval[0] < 0.9  # 30 images cannot show more
    agreeing = round(int8.top1_agreement * IMAGES)
    assert np.allclose(int8.top1_agreement_interval, _wilson(agreeing, IMAGES), atol=1e-12)
    assert int8.accuracy_interval is not None
    assert int8.accuracy_interval[0] <= int8.accuracy <= int8.accuracy_interval[1]
    saved = read_run(settings, run.id)["rows"][1]  # the run's report keeps them
    assert saved["top1_agreement_interval"] == list(int8.top1_agreement_interval)
    assert saved["accuracy_interval"] == list(int8.accuracy_interval)

    # A photo model keeps the gallery's photos and their views (unlabelled: no accuracy).
    gallery = default_evaluation_set(tiny, RunParams(augmentations=1, calibration_augmentations=1))
    assert gallery.source == "gallery" and gallery.size == 8 and gallery.labels is None


def test_the_cli_compresses_a_shapes_model_and_prints_the_intervals(
    settings: Settings, capsys, monkeypatch, tmp_path
) -> None:
    _student(settings)
    monkeypatch.setenv("LANTERN_DATA_DIR", str(settings.data_dir))
    out = tmp_path / "report.json"
    arguments = ["compress", "--recipe", "int8_static", "--param", "calibration_images=8"]
    arguments += ["--model", "shapes/student"]
    arguments += ["--shapes-test-images", "20", "--drift-images", "0", "--methods", "saliency"]
    assert main([*arguments, "--device", "cpu", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    original, variant = printed.splitlines()[:2]
    assert (
        original.startswith("original:") and "agreement 100.0% (95 % CI 83.9%–100.0%)" in original
    )
    assert "accuracy" in variant and variant.count("95 % CI") == 2
    report = json.loads(out.read_text())
    assert report["evaluation"]["source"] == "Shapes test split (seed 0)"
    assert report["evaluation"]["images"] == 20 and report["evaluation"]["labelled"]
