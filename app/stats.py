"""Statistics over (N, classes) probabilities and (N,) labels, shared by the audit, the labs and
the Compression lab: accuracy with Wilson intervals, per-class scores, ranked confusions,
calibration and a fitted temperature.

Conventions (tested against scikit-learn and SciPy on the same data):
- reliability bins: 15 equal-width bins of the top-1 confidence, left-closed like
  `sklearn.calibration.calibration_curve` (the last bin includes 1.0);
- ECE = Σ_b (n_b / N) |accuracy_b − confidence_b| (Guo et al., ICML 2017); adaptive ECE uses
  bins of equal count instead (Nixon et al., CVPR-W 2019);
- Brier = mean over images of Σ_k (p_k − [y = k])² (Brier 1950, multiclass, not halved);
- NLL = mean −log p_y, with p clipped to 1e-15 like `sklearn.metrics.log_loss`.
"""

import math
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

__all__ = [
    "BINS",
    "adaptive_ece",
    "calibration",
    "classification",
    "confusion_pairs",
    "entropy",
    "fit_temperature",
    "per_class",
    "reliability",
    "softmax",
    "wilson_interval",
]

BINS = 15
Z95 = 1.959963984540054  # the standard normal's 97.5 % quantile


def wilson_interval(successes: int, total: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval (Wilson 1927) for a proportion; (0, 1) when total is 0."""
    if total == 0:
        return 0.0, 1.0
    share = successes / total
    denominator = 1 + z * z / total
    centre = (share + z * z / (2 * total)) / denominator
    half = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    result: np.ndarray = np.exp(log_softmax(logits.astype(np.float64) / temperature, axis=1))
    return result


def entropy(probs: np.ndarray) -> np.ndarray:
    """(N,) Shannon entropy in nats of each row."""
    clipped = np.clip(probs, 1e-300, 1.0)
    result: np.ndarray = -(probs * np.log(clipped)).sum(axis=1)
    return result


def classification(labels: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    """Accuracy and top-5 accuracy, each with its 95 % Wilson interval."""
    total = len(labels)
    predictions = probs.argmax(axis=1)
    correct = int((predictions == labels).sum())
    k = min(5, probs.shape[1])
    # Ties broken like sklearn's top_k_accuracy_score: a stable sort of -p.
    top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    in_top = int((top == labels[:, None]).any(axis=1).sum())
    return {
        "images": total,
        "accuracy": correct / total if total else float("nan"),
        "accuracy_interval": wilson_interval(correct, total),
        "top5": in_top / total if total else float("nan"),
        "top5_interval": wilson_interval(in_top, total),
        "top_k": k,
    }


def per_class(labels: np.ndarray, probs: np.ndarray, names: list[str]) -> list[dict[str, Any]]:
    """Support, precision, recall, F1 (0 where undefined, like sklearn's zero_division=0) and
    the mean top-1 confidence of the images labelled with each class that has any image or
    prediction."""
    predictions = probs.argmax(axis=1)
    confidence = probs.max(axis=1)
    rows = []
    for index, name in enumerate(names):
        labelled = labels == index
        predicted = predictions == index
        support, predicted_count = int(labelled.sum()), int(predicted.sum())
        if support == 0 and predicted_count == 0:
            continue
        hits = int((labelled & predicted).sum())
        precision = hits / predicted_count if predicted_count else 0.0
        recall = hits / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append(
            {
                "class": index,
                "label": name,
                "support": support,
                "predicted": predicted_count,
                "precision": precision,
                "recall": recall,
                "f1": f1,
                "mean_confidence": float(confidence[labelled].mean()) if support else None,
            }
        )
    return rows


def confusion_pairs(
    labels: np.ndarray, predictions: np.ndarray, names: list[str], top: int = 50
) -> tuple[list[dict[str, Any]], list[list[int]] | None]:
    """The off-diagonal (label, prediction) pairs by count (then rate = count / support of the
    label), and the full matrix (rows: label, columns: prediction) for ≤ 30 classes."""
    classes = len(names)
    matrix = np.zeros((classes, classes), np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    support = matrix.sum(axis=1)
    pairs = [
        {
            "label": int(i),
            "label_name": names[i],
            "predicted": int(j),
            "predicted_name": names[j],
            "count": int(matrix[i, j]),
            "rate": float(matrix[i, j] / support[i]),
        }
        for i, j in zip(*np.nonzero(matrix), strict=True)
        if i != j
    ]
    pairs.sort(key=lambda pair: (-pair["count"], -pair["rate"], pair["label"], pair["predicted"]))
    full = matrix.tolist() if classes <= 30 else None
    return pairs[:top], full


def reliability(
    confidence: np.ndarray, correct: np.ndarray, bins: int = BINS
) -> list[dict[str, Any]]:
    """Equal-width bins over [0, 1]: edges, count, mean confidence and accuracy (None if empty)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    ids = np.searchsorted(edges[1:-1], confidence, side="right")
    rows = []
    for b in range(bins):
        inside = ids == b
        count = int(inside.sum())
        rows.append(
            {
                "lower": float(edges[b]),
                "upper": float(edges[b + 1]),
                "count": count,
                "confidence": float(confidence[inside].mean()) if count else None,
                "accuracy": float(correct[inside].mean()) if count else None,
            }
        )
    return rows


def _ece(rows: list[dict[str, Any]], total: int) -> float:
    return float(
        sum(
            row["count"] / total * abs(row["accuracy"] - row["confidence"])
            for row in rows
            if row["count"]
        )
    )


def adaptive_ece(confidence: np.ndarray, correct: np.ndarray, bins: int = BINS) -> float:
    """ECE over `bins` bins of (nearly) equal count, in order of confidence."""
    order = np.argsort(confidence, kind="stable")
    total = len(confidence)
    value = 0.0
    for chunk in np.array_split(order, min(bins, total)):
        if len(chunk):
            value += len(chunk) / total * abs(correct[chunk].mean() - confidence[chunk].mean())
    return float(value)


def calibration(probs: np.ndarray, labels: np.ndarray, bins: int = BINS) -> dict[str, Any]:
    """Reliability rows, ECE, adaptive ECE, Brier score and NLL of probabilities vs labels."""
    total = len(labels)
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(np.float64)
    rows = reliability(confidence, correct, bins)
    onehot = np.zeros_like(probs, dtype=np.float64)
    onehot[np.arange(total), labels] = 1.0
    picked = np.clip(probs[np.arange(total), labels], 1e-15, 1.0)
    return {
        "images": total,
        "bins": rows,
        "ece": _ece(rows, total),
        "adaptive_ece": adaptive_ece(confidence, correct, bins),
        "brier": float(((probs - onehot) ** 2).sum(axis=1).mean()),
        "nll": float(-np.log(picked).mean()),
        "confidence_histogram": [row["count"] for row in rows],
    }


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature T > 0 minimising the NLL of softmax(logits / T) (Guo et al. 2017),
    searched on log T in [-3, 3] (T from 0.05 to 20)."""

    def nll(log_t: float) -> float:
        scaled = log_softmax(logits.astype(np.float64) / math.exp(log_t), axis=1)
        return float(-scaled[np.arange(len(labels)), labels].mean())

    found = minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded", options={"xatol": 1e-6})
    return float(math.exp(found.x))
