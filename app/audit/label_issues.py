"""Label issues by confident learning (Northcutt, Jiang and Chuang, JAIR 2021): candidates for a
person to review, not verdicts.

Per class k the threshold t_k is the mean predicted probability of k over the images labelled
k. An image is confidently counted as class j when p_j ≥ t_j (the most probable such class when
several are); it is a candidate when that class differs from its label and the model's own top
class is not its label. The same rule as cleanlab's `find_label_issues(filter_by=
"confident_learning")` (tested against it), ranked by self-confidence p_label, lowest first.
"""

import numpy as np

__all__ = ["confident_thresholds", "find_label_issues"]

_LOWER_BOUND = 2e-6  # cleanlab's CONFIDENT_THRESHOLDS_LOWER_BOUND
_MISSING = 2.0  # a class nobody is labelled with is never confidently counted
_TOLERANCE = 1e-6


def confident_thresholds(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """(classes,) t_k = mean p_k over images labelled k (2.0 for a class with no image)."""
    thresholds = np.full(probs.shape[1], _MISSING)
    for k in np.unique(labels):
        thresholds[k] = probs[labels == k, k].mean()
    return np.clip(thresholds, _LOWER_BOUND, None)


def find_label_issues(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Indices of images whose label looks wrong, by self-confidence (lowest first)."""
    labels = np.asarray(labels)
    confident = probs >= confident_thresholds(labels, probs) - _TOLERANCE
    count = confident.sum(axis=1)
    guess = np.where(count > 1, probs.argmax(axis=1), confident.argmax(axis=1))
    off_diagonal = (count > 0) & (guess != labels)
    boosted = probs.copy()
    boosted[np.arange(len(labels)), labels] += _TOLERANCE
    issues = off_diagonal & (boosted.argmax(axis=1) != labels)
    found = np.flatnonzero(issues)
    self_confidence = probs[found, labels[found]]
    ranked: np.ndarray = found[np.argsort(self_confidence, kind="stable")]
    return ranked
