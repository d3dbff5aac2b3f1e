"""The bogus model (app/shapes/random_labels.py): trained on permuted labels it memorises a tiny
training set (training accuracy far above its test accuracy, which is near chance), it is the
data-randomisation reference of a lab student by name, and `lantern sanity
--random-labels-weights` compares a lab student with it end to end."""

import json

import pytest
import torch
from safetensors.torch import save_file

from app.cli import main
from app.settings import Settings
from app.shapes import storage
from app.shapes.dataset import ShapesDataset
from app.shapes.networks import ShapesStudent
from app.shapes.random_labels import permuted_labels, reference_for
from app.shapes.training import TrainParams, accuracy, train


def test_permuted_labels_keep_each_class_count_and_move_most_labels() -> None:
    labels = torch.arange(100) % 10
    shuffled = permuted_labels(labels, seed=0)
    assert sorted(shuffled.tolist()) == sorted(labels.tolist())
    assert (shuffled != labels).float().mean() > 0.7
    assert torch.equal(shuffled, permuted_labels(labels, seed=0))
    assert not torch.equal(shuffled, permuted_labels(labels, seed=1))


def test_random_label_training_memorises_a_tiny_set() -> None:
    pixels, labels = ShapesDataset(30, 24, seed=3).tensors()
    shuffled = permuted_labels(labels, seed=0)
    test = ShapesDataset(200, 24, seed=3, offset=50_000).tensors()
    params = TrainParams(epochs=30, learning_rate=1e-2, batch_size=10, weight_decay=0.0)
    trained = train(ShapesStudent(8), (pixels, shuffled), (pixels[:10], shuffled[:10]), params)
    memorised = accuracy(trained.network, pixels, shuffled)
    tested = accuracy(trained.network, *test)
    assert memorised >= 0.9, memorised
    assert tested <= 0.2, tested  # chance: 0.10 (a 200-image binomial stays well under 0.2)
    assert memorised - tested > 0.6


def _save_students(settings: Settings) -> None:
    torch.manual_seed(0)
    storage.save_model(settings, "student", ShapesStudent(4).eval())
    storage.save_model(settings, "random-labels", ShapesStudent(4).eval())


def test_the_reference_is_the_bogus_model_of_a_student_of_its_width(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert reference_for(settings, "shapes/student") is None  # nothing trained yet
    _save_students(settings)
    assert reference_for(settings, "shapes/student") == "shapes/random-labels"
    assert reference_for(settings, "shapes/random-labels") is None
    assert reference_for(settings, "efficientnet-lite0") is None
    storage.save_model(settings, "student", ShapesStudent(8))  # another width: no reference
    assert reference_for(settings, "shapes/student") is None


def test_sanity_with_random_labels_weights_on_a_lab_student(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("LANTERN_DATA_DIR", str(tmp_path))
    settings = Settings(data_dir=tmp_path)
    _save_students(settings)
    bogus = storage.model_path(settings, "random-labels")
    out = tmp_path / "sanity.json"
    argv = ["sanity", "sample:chelsea", "--model", "shapes/student", "--method", "saliency"]
    argv += ["--steps", "2", "--device", "cpu", "--out", str(out)]
    assert main([*argv, "--random-labels-weights", str(bogus)]) == 0
    data = json.loads(out.read_text())["data_randomization"]
    assert data["random_labels_model"] == "shapes/student (random labels)"
    assert set(data["similarity"]) == {"spearman_abs", "spearman", "ssim", "hog"}
    assert "against the model trained on random labels" in capsys.readouterr().out
    # Weights of another architecture: one line, exit 2, nothing written.
    wrong = tmp_path / "wrong.safetensors"
    save_file({"weight": torch.zeros(2, 2)}, str(wrong))
    out.unlink()
    assert main([*argv, "--random-labels-weights", str(wrong)]) == 2
    assert "wrong.safetensors" in capsys.readouterr().err and not out.exists()


@pytest.mark.parametrize("missing", ["nowhere.safetensors"])
def test_a_missing_weights_file_is_one_line(tmp_path, monkeypatch, capsys, missing) -> None:
    monkeypatch.setenv("LANTERN_DATA_DIR", str(tmp_path))
    _save_students(Settings(data_dir=tmp_path))
    argv = ["sanity", "sample:chelsea", "--model", "shapes/student", "--method", "saliency"]
    argv += ["--steps", "2", "--device", "cpu", "--random-labels-weights", str(tmp_path / missing)]
    assert main(argv) == 2
    assert missing in capsys.readouterr().err
