"""How an activation's range is chosen before it is rounded to 8 bits, and the two grids it is
rounded on.

Rules (each returns the (low, high) range that is quantized; values outside saturate):

- min/max: the extremes, nothing saturates;
- percentile: the (100 − p, p) percentiles, the rare outliers saturate;
- MSE: the range, shrunk towards zero, whose rounding has the least mean squared error;
- entropy: TensorRT's KL-divergence calibration (Migacz, "8-bit Inference with TensorRT",
  GTC 2017) as ONNX Runtime implements it (`onnxruntime.quantization.calibrate`,
  `HistogramCollector.get_entropy_threshold`): a histogram of x over [−max|x|, max|x|], and
  for each candidate window centred on zero the KL divergence between the clipped reference
  distribution P (the outliers added to its end bins) and Q, P merged into `quantized_bins`
  levels and spread back over P's non-empty bins; the window with the least divergence wins.

Grids (`SCHEMES`, b bits): symmetric, scale only, and affine, scale and zero point.
"""

from typing import Literal

import numpy as np

__all__ = [
    "SCHEMES",
    "Scheme",
    "entropy_range",
    "entropy_window",
    "grid",
    "mse_range",
]

Scheme = Literal["symmetric", "affine"]
SCHEMES: dict[str, str] = {
    "symmetric": "q = clamp(round(x/s), −2^(b−1), 2^(b−1)−1) with s = max|x| / (2^(b−1)−1): "
    "scale only, zero stays exactly 0, half the levels unused when x ≥ 0",
    "affine": "q = clamp(round(x/s) + z, 0, 2^b−1) with s = (max − min) / (2^b−1) and "
    "z = round(−min/s): scale and zero point, every level spans the range",
}
"""Each grid's formula, as the recipes' parameter descriptions and the docs show it."""


def grid(low: float, high: float, bits: int, scheme: Scheme) -> tuple[float, int, int, int]:
    """(scale, zero point, q_min, q_max) of a b-bit grid over [low, high] (widened to contain
    0): x ↦ (clamp(round(x/s) + z, q_min, q_max) − z) · s."""
    low, high = min(low, 0.0), max(high, 0.0)
    if scheme == "symmetric":
        top = 2 ** (bits - 1) - 1
        return max(max(-low, high) / top, 1e-8), 0, -(2 ** (bits - 1)), top
    top = 2**bits - 1
    scale = max((high - low) / top, 1e-8)
    return scale, int(np.clip(round(-low / scale), 0, top)), 0, top


def _rounded(values: np.ndarray, low: float, high: float, bits: int, scheme: Scheme) -> np.ndarray:
    scale, zero, q_min, q_max = grid(low, high, bits, scheme)
    return (np.clip(np.round(values / scale) + zero, q_min, q_max) - zero) * scale


def mse_range(
    values: np.ndarray,
    bits: int = 8,
    scheme: Scheme = "affine",
    candidates: int = 64,
    sample: int = 200_000,
) -> tuple[float, float]:
    """The range (min, max)·f, f in (0, 1], whose b-bit rounding of `values` (a sample of
    `sample` of them) has the least mean squared error."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size > sample:
        values = np.random.default_rng(0).choice(values, sample, replace=False)
    low, high = float(values.min()), float(values.max())
    best, best_error = (low, high), np.inf
    for fraction in np.linspace(1.0 / candidates, 1.0, candidates):
        candidate = (low * fraction, high * fraction)
        error = float(np.mean((_rounded(values, *candidate, bits, scheme) - values) ** 2))
        if error < best_error:
            best, best_error = (float(candidate[0]), float(candidate[1])), error
    return best


def _smooth(counts: np.ndarray, eps: float = 1e-4) -> np.ndarray | None:
    """Zeros replaced by eps, taken off the non-zero bins (as ONNX Runtime and MXNet do), so
    that the divergence is finite."""
    zeros = counts == 0
    nonzero = counts.size - int(zeros.sum())
    if nonzero == 0:
        return None
    # In float32, as ONNX Runtime smooths: near-ties between windows then break the same way.
    shift = eps * zeros - eps * int(zeros.sum()) / nonzero * ~zeros
    return counts.astype(np.float32) + shift.astype(np.float32)


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    p, q = p / p.sum(), q / q.sum()
    return float(np.sum(p * np.log(p / q)))


def entropy_window(counts: np.ndarray, quantized_bins: int = 128) -> int:
    """The half-width i (in bins) of the window [centre − i, centre + i] of a histogram over
    [−T, T] whose clipped distribution loses the least information when merged into
    `quantized_bins` levels (least KL divergence); candidates from quantized_bins / 2 to
    the whole histogram."""
    counts = np.asarray(counts, dtype=np.int64)
    bins = counts.size
    centre, half = bins // 2, quantized_bins // 2
    divergences = []
    for i in range(half, centre + 1):
        start, end = centre - i, min(centre + i + 1, bins)
        window = counts[start:end]
        reference = window.copy()
        reference[0] += counts[:start].sum()
        reference[-1] += counts[end:].sum()
        merged = window.size // quantized_bins
        levels = window[: merged * quantized_bins].reshape(quantized_bins, merged).sum(1)
        levels[-1] += window[merged * quantized_bins :].sum()
        # Each level divided by the number of non-empty reference bins it covers, in whole counts,
        # on every bin of its group; bins past the last whole group stay empty. This is ONNX
        # Runtime's version (TensorRT's leaves the reference's empty bins empty).
        nonzero = (reference[: merged * quantized_bins] != 0).reshape(quantized_bins, merged)
        filled = nonzero.sum(1)
        share = np.where(filled > 0, levels / np.maximum(filled, 1), 0.0)
        candidate = np.zeros(window.size, dtype=np.int64)
        candidate[: merged * quantized_bins] = np.repeat(share, merged).astype(np.int64)
        p, q = _smooth(reference), _smooth(candidate)
        divergences.append(np.inf if p is None or q is None else _kl(p, q))
    return half + int(np.argmin(divergences))


def entropy_range(
    values: np.ndarray, bins: int = 2048, quantized_bins: int = 128
) -> tuple[float, float]:
    """The range the entropy rule picks for `values`: a `bins`-bin histogram over
    [−max|x|, max|x|], its least-divergence window (`entropy_window`), kept within the
    values' own extremes."""
    values = np.asarray(values, dtype=np.float64).ravel()
    low, high = float(values.min()), float(values.max())
    top = max(abs(low), abs(high))
    if top == 0:
        return 0.0, 0.0
    counts, edges = np.histogram(values, bins, range=(-top, top))
    i = entropy_window(counts, quantized_bins)
    centre = bins // 2
    return max(float(edges[centre - i]), low), min(float(edges[min(centre + i + 1, bins)]), high)
