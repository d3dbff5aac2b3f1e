"""Training on Shapes: the distillation loss is the formula, training learns, freezing freezes."""

import math

import numpy as np
import pytest
import torch

from app.shapes.dataset import ShapesDataset
from app.shapes.networks import ShapesStudent
from app.shapes.training import DistillParams, TrainParams, distillation_loss, temperature_at, train


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_distillation_loss_equals_the_formula_on_hand_made_logits() -> None:
    student = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
    teacher = np.array([[1.5, 1.0, -0.5], [-1.0, 0.0, 2.0]])
    labels = np.array([0, 2])
    alpha, temperature = 0.3, 4.0
    hard = -np.mean(np.log(_softmax(student)[np.arange(2), labels]))
    p, q = _softmax(teacher / temperature), _softmax(student / temperature)
    soft = np.mean(np.sum(p * (np.log(p) - np.log(q)), axis=1))  # KL(teacher ‖ student)
    expected = alpha * hard + (1 - alpha) * temperature**2 * soft
    got = distillation_loss(
        torch.tensor(student), torch.tensor(teacher), torch.tensor(labels), alpha, temperature
    )
    assert float(got) == pytest.approx(expected, rel=1e-10)
    same = distillation_loss(
        torch.tensor(student), torch.tensor(student), torch.tensor(labels), 0.0, 2.0
    )
    assert float(same) == pytest.approx(0.0, abs=1e-12)


def test_temperature_schedule() -> None:
    constant = DistillParams(epochs=5, temperature=3.0)
    assert [temperature_at(constant, e) for e in range(5)] == [3.0] * 5
    falling = DistillParams(epochs=5, temperature=2.0, start_temperature=10.0)
    assert [temperature_at(falling, e) for e in range(5)] == [10.0, 8.0, 6.0, 4.0, 2.0]


def test_a_tiny_training_run_beats_chance() -> None:
    train_set = ShapesDataset(300, 32, seed=1).tensors()
    validation = ShapesDataset(100, 32, seed=1, offset=5000).tensors()
    result = train(
        ShapesStudent(8), train_set, validation, TrainParams(epochs=8, learning_rate=2e-2)
    )
    assert result.curves.validation_accuracy[-1] > 0.15  # chance: 0.10
    assert result.curves.train_loss[-1] < result.curves.train_loss[0]
    assert result.curves.train_loss[0] < math.log(10) + 0.5
    assert not any(p.requires_grad for p in result.network.parameters())


def test_head_only_changes_only_the_head_and_options_switch_on() -> None:
    network = ShapesStudent(4)
    before = {k: v.clone() for k, v in network.state_dict().items()}
    data = ShapesDataset(40, 16, seed=2).tensors()
    params = TrainParams(epochs=2, warmup_epochs=1, label_smoothing=0.1, input_noise=0.05)
    result = train(network, data, data, params, trainable="head")
    after = result.network.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"head.weight", "head.bias"}
    assert result.trainable_parameters == 16 * 10 + 10
    assert all(torch.equal(before[k], v) for k, v in network.state_dict().items())  # a copy
