"""How alike two attribution maps are (Adebayo et al., "Sanity Checks for Saliency Maps",
NeurIPS 2018, section 3): Spearman rank correlation with and without absolute values, SSIM and
the Pearson correlation of HOG features. Maps are (H, W) arrays of the same shape."""

import numpy as np
from scipy.stats import pearsonr, spearmanr
from skimage.feature import hog
from skimage.metrics import structural_similarity

__all__ = ["METRICS", "hog_similarity", "similarities", "spearman", "ssim"]


def _flat(a: np.ndarray) -> np.ndarray:
    return np.nan_to_num(a.astype(np.float64)).ravel()


def _unit(a: np.ndarray) -> np.ndarray:
    """|a| scaled to [0, 1] (the paper compares normalised absolute maps for SSIM and HOG)."""
    magnitude = np.abs(np.nan_to_num(a.astype(np.float64)))
    peak = magnitude.max()
    return magnitude / peak if peak > 0 else magnitude


def spearman(a: np.ndarray, b: np.ndarray, absolute: bool = True) -> float:
    """Rank correlation in [-1, 1]; 0 when either map is constant (no ranking to compare)."""
    x, y = _flat(a), _flat(b)
    if absolute:
        x, y = np.abs(x), np.abs(y)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0
    return float(spearmanr(x, y)[0])


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    return float(structural_similarity(_unit(a), _unit(b), data_range=1.0))


def hog_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of the maps' HOG descriptors (cells of 16 pixels)."""
    cell = (16, 16) if min(a.shape) >= 32 else (4, 4)
    x = hog(_unit(a), pixels_per_cell=cell, cells_per_block=(2, 2), feature_vector=True)
    y = hog(_unit(b), pixels_per_cell=cell, cells_per_block=(2, 2), feature_vector=True)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0
    return float(pearsonr(x, y)[0])


METRICS = ("spearman_abs", "spearman", "ssim", "hog")


def similarities(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    return {
        "spearman_abs": spearman(a, b, absolute=True),
        "spearman": spearman(a, b, absolute=False),
        "ssim": ssim(a, b),
        "hog": hog_similarity(a, b),
    }
