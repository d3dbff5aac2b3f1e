"""Every statistic of the audit against a reference on the same data: scikit-learn, SciPy, or a
closed form."""

import math

import numpy as np
import pytest
from scipy.special import softmax as scipy_softmax
from scipy.stats import binomtest
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    confusion_matrix,
    log_loss,
    precision_recall_fscore_support,
    top_k_accuracy_score,
)

from app.stats import (
    adaptive_ece,
    calibration,
    classification,
    confusion_pairs,
    entropy,
    fit_temperature,
    per_class,
    softmax,
    wilson_interval,
)

CLASSES = 7


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, CLASSES, 400)
    logits = rng.normal(0, 1.5, (400, CLASSES))
    logits[np.arange(400), labels] += rng.normal(1.5, 1.5, 400)  # right more often than not
    logits *= 2.0  # over-confident, so a temperature > 1 helps
    return logits, labels, softmax(logits)


def test_softmax_and_entropy_match_scipy(data: tuple[np.ndarray, ...]) -> None:
    logits, _, probs = data
    np.testing.assert_allclose(probs, scipy_softmax(logits, axis=1), rtol=1e-12)
    from scipy.stats import entropy as scipy_entropy

    np.testing.assert_allclose(entropy(probs), scipy_entropy(probs, axis=1), rtol=1e-10)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (412, 1000), (1, 1)])
def test_wilson_interval_matches_scipy(k: int, n: int) -> None:
    reference = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = wilson_interval(k, n)
    assert low == pytest.approx(reference.low, abs=1e-12)
    assert high == pytest.approx(reference.high, abs=1e-12)


def test_accuracy_and_top5_match_sklearn(data: tuple[np.ndarray, ...]) -> None:
    _, labels, probs = data
    result = classification(labels, probs)
    assert result["accuracy"] == pytest.approx(accuracy_score(labels, probs.argmax(axis=1)))
    reference = top_k_accuracy_score(labels, probs, k=5, labels=range(CLASSES))
    assert result["top5"] == pytest.approx(reference)
    correct = round(result["accuracy"] * len(labels))
    assert result["accuracy_interval"] == pytest.approx(wilson_interval(correct, len(labels)))


def test_per_class_matches_sklearn(data: tuple[np.ndarray, ...]) -> None:
    _, labels, probs = data
    predictions = probs.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predictions, labels=range(CLASSES), zero_division=0
    )
    rows = {row["class"]: row for row in per_class(labels, probs, [str(k) for k in range(7)])}
    for k in range(CLASSES):
        assert rows[k]["support"] == support[k]
        assert rows[k]["precision"] == pytest.approx(precision[k])
        assert rows[k]["recall"] == pytest.approx(recall[k])
        assert rows[k]["f1"] == pytest.approx(f1[k])
        assert rows[k]["mean_confidence"] == pytest.approx(probs[labels == k].max(axis=1).mean())


def test_confusions_match_sklearn(data: tuple[np.ndarray, ...]) -> None:
    _, labels, probs = data
    predictions = probs.argmax(axis=1)
    pairs, matrix = confusion_pairs(labels, predictions, [str(k) for k in range(CLASSES)])
    reference = confusion_matrix(labels, predictions, labels=range(CLASSES))
    assert np.array_equal(np.array(matrix), reference)
    counts = [pair["count"] for pair in pairs]
    assert counts == sorted(counts, reverse=True)
    top = pairs[0]
    assert top["count"] == max(
        reference[i, j] for i in range(CLASSES) for j in range(CLASSES) if i != j
    )
    assert top["rate"] == pytest.approx(top["count"] / reference[top["label"]].sum())
    _, none = confusion_pairs(np.zeros(3, int), np.zeros(3, int), [str(k) for k in range(31)])
    assert none is None  # no full matrix above 30 classes


def test_calibration_matches_sklearn(data: tuple[np.ndarray, ...]) -> None:
    _, labels, probs = data
    result = calibration(probs, labels)
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(float)
    accuracy, mean_confidence = calibration_curve(correct, confidence, n_bins=15)
    filled = [row for row in result["bins"] if row["count"]]
    assert [row["accuracy"] for row in filled] == pytest.approx(list(accuracy))
    assert [row["confidence"] for row in filled] == pytest.approx(list(mean_confidence))
    assert sum(row["count"] for row in result["bins"]) == len(labels)
    ece = sum(
        row["count"] / len(labels) * abs(row["accuracy"] - row["confidence"]) for row in filled
    )
    assert result["ece"] == pytest.approx(ece)
    onehot = np.eye(CLASSES)[labels]
    assert result["brier"] == pytest.approx(
        brier_score_loss(labels, probs, labels=range(CLASSES), scale_by_half=False)
    )
    assert result["brier"] == pytest.approx(((probs - onehot) ** 2).sum(axis=1).mean())
    assert result["nll"] == pytest.approx(log_loss(labels, probs, labels=range(CLASSES)))


def test_ece_closed_form() -> None:
    # Confidences 0.9, 0.9 (one right) and 0.5, 0.5 (both wrong), in two bins:
    # ECE = 0.5·|0.5 − 0.9| + 0.5·|0 − 0.5| = 0.45.
    probs = np.array([[0.9, 0.1, 0.0], [0.9, 0.1, 0.0], [0.3, 0.2, 0.5], [0.3, 0.2, 0.5]])
    labels = np.array([0, 1, 0, 0])
    result = calibration(probs, labels)
    assert result["ece"] == pytest.approx(0.45)
    # Adaptive bins hold one image each here: mean |correct − confidence| = (0.1+0.9+0.5+0.5)/4.
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(float)
    assert adaptive_ece(confidence, correct) == pytest.approx(0.5)


def test_adaptive_ece_uses_equal_count_bins() -> None:
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.2, 1.0, 300)
    correct = (rng.uniform(size=300) < confidence).astype(float)
    order = np.argsort(confidence)
    expected = sum(
        len(chunk) / 300 * abs(correct[chunk].mean() - confidence[chunk].mean())
        for chunk in np.array_split(order, 15)
    )
    assert adaptive_ece(confidence, correct) == pytest.approx(expected)


def test_temperature_minimises_nll_on_a_grid(data: tuple[np.ndarray, ...]) -> None:
    logits, labels, _ = data
    temperature = fit_temperature(logits, labels)

    def nll(t: float) -> float:
        probs = scipy_softmax(logits / t, axis=1)
        return float(-np.log(probs[np.arange(len(labels)), labels]).mean())

    grid = np.exp(np.linspace(math.log(0.05), math.log(20), 1200))
    best = grid[np.argmin([nll(t) for t in grid])]
    assert temperature == pytest.approx(best, rel=0.01)
    assert temperature > 1  # the data were made over-confident
    assert nll(temperature) <= nll(1.0)
    reference = log_loss(labels, scipy_softmax(logits / temperature, axis=1), labels=range(7))
    assert nll(temperature) == pytest.approx(reference)
