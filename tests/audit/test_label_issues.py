"""Our confident learning against cleanlab's on the same probabilities, and a hand example."""

import numpy as np
import pytest

from app.audit.label_issues import confident_thresholds, find_label_issues

cleanlab_filter = pytest.importorskip("cleanlab.filter")


def _noisy(seed: int, classes: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, classes, count)
    logits = rng.normal(0, 1, (count, classes))
    logits[np.arange(count), truth] += 3
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = truth.copy()
    flipped = rng.uniform(size=count) < 0.15
    labels[flipped] = rng.integers(0, classes, int(flipped.sum()))
    return labels, probs


@pytest.mark.parametrize(("seed", "classes", "count"), [(0, 5, 300), (1, 10, 800), (2, 3, 60)])
def test_same_issues_and_order_as_cleanlab(seed: int, classes: int, count: int) -> None:
    labels, probs = _noisy(seed, classes, count)
    reference = cleanlab_filter.find_label_issues(
        labels,
        probs,
        filter_by="confident_learning",
        return_indices_ranked_by="self_confidence",
    )
    ours = find_label_issues(labels, probs)
    assert len(ours) > 0
    assert list(ours) == list(reference)


def test_hand_example() -> None:
    # Two classes; images labelled 0 have p0 = 0.9, 0.8, 0.1 -> threshold t0 = 0.6; the one
    # labelled 1 has p1 = 0.7 -> t1 = 0.7. The third image (label 0, p1 = 0.9 ≥ t1) is counted
    # as class 1: the only candidate.
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.3, 0.7]])
    labels = np.array([0, 0, 0, 1])
    assert confident_thresholds(labels, probs) == pytest.approx([0.6, 0.7])
    assert list(find_label_issues(labels, probs)) == [2]
