"""Label smoothing and temperature (app/shapes/calibration_experiment.py): the smoothed loss is
the hand-computed formula, and a tiny run reports ECE and entropies that agree with app/stats.py's
definitions on its own bins."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from app.settings import Settings
from app.shapes.calibration_experiment import (
    TEMPERATURES,
    CalibrationParams,
    calibration,
    smoothed_targets,
)


def test_label_smoothing_loss_equals_the_hand_computation() -> None:
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 1.0, 3.0]], dtype=torch.float64)
    labels = torch.tensor([0, 1])
    epsilon = 0.3
    # By hand, row 0: p = softmax(2, 0.5, -1) = (0.7856, 0.1753, 0.0391); the target is
    # (1 − ε + ε/3, ε/3, ε/3) = (0.8, 0.1, 0.1), the loss −Σ target·log p.
    p = np.exp([2.0, 0.5, -1.0]) / np.exp([2.0, 0.5, -1.0]).sum()
    assert p == pytest.approx([0.7856, 0.1753, 0.0391], abs=1e-4)
    row0 = -(0.8 * np.log(p[0]) + 0.1 * np.log(p[1]) + 0.1 * np.log(p[2]))
    q = np.exp([0.0, 1.0, 3.0]) / np.exp([0.0, 1.0, 3.0]).sum()
    row1 = -(0.1 * np.log(q[0]) + 0.8 * np.log(q[1]) + 0.1 * np.log(q[2]))
    expected = (row0 + row1) / 2
    torch_loss = F.cross_entropy(logits, labels, label_smoothing=epsilon)  # what train() uses
    assert float(torch_loss) == pytest.approx(expected, rel=1e-12)
    targets = smoothed_targets(labels, 3, epsilon)
    assert targets[0].tolist() == pytest.approx([0.8, 0.1, 0.1])
    assert targets.sum(dim=1).tolist() == pytest.approx([1.0, 1.0])
    manual = -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    assert float(manual) == pytest.approx(expected, rel=1e-12)
    # The same as (1 − ε)·CE + ε·mean over classes of −log p.
    plain = F.cross_entropy(logits, labels)
    uniform = -F.log_softmax(logits, dim=1).mean()
    assert float((1 - epsilon) * plain + epsilon * uniform) == pytest.approx(expected, rel=1e-12)


def test_a_tiny_run_reports_both_students_per_seed(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path)
    params = CalibrationParams(
        width=4, train_images=20, test_images=30, epochs=2, seeds=2, label_smoothing=0.2
    )
    report = calibration(settings, params)
    assert [(r.seed, r.label_smoothing) for r in report.runs] == [
        (0, 0.0),
        (0, 0.2),
        (1, 0.0),
        (1, 0.2),
    ]
    for run in report.runs:
        assert sum(run.confidence_histogram) == 30 and len(run.bins) == 15
        # ECE from the run's own reliability rows (Guo et al.): Σ n_b/N |acc_b − conf_b|.
        ece = sum(
            b["count"] / 30 * abs(b["accuracy"] - b["confidence"]) for b in run.bins if b["count"]
        )
        assert run.ece == pytest.approx(ece, abs=1e-12)
        assert len(run.entropy) == len(TEMPERATURES)
        assert all(np.diff(run.entropy) > 0) and run.entropy[-1] < np.log(10) + 1e-9
    plain = [r.ece for r in report.runs if r.label_smoothing == 0]
    assert report.ece["plain"].values == pytest.approx(plain)
    assert report.ece["plain"].mean == pytest.approx(np.mean(plain))
    assert report.ece["plain"].sd == pytest.approx(np.std(plain, ddof=1))
    assert (tmp_path / "shapes" / "calibration.json").is_file()
