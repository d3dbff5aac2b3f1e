"""Shortcut evidence from the stored maps of one class.

SpRAy (Lapuschkin et al., Nature Communications 2019, "Unmasking Clever Hans predictors"):
the class's maps, downsampled and normalised, are clustered spectrally; the eigengap of the
normalised graph Laplacian (the largest gap after an eigenvalue under 0.1) estimates how many
distinct strategies the model uses for the class, and each cluster's mean map shows one. A
small cluster whose map sits in a corner or on a border is the classic watermark shortcut.
"""

from dataclasses import dataclass

import numpy as np
import torch
from scipy.cluster.vq import kmeans2
from scipy.linalg import eigh

__all__ = ["MIN_MAPS", "Spray", "spray"]

MIN_MAPS = 6  # fewer maps than this: no clustering for the class
SPRAY_SIZE = 8  # maps are pooled to SPRAY_SIZE × SPRAY_SIZE before clustering
MAX_CLUSTERS = 8
CONNECTED = 0.1  # Laplacian eigenvalues below this count as separate components


@dataclass(frozen=True)
class Spray:
    eigenvalues: list[float]  # the smallest ones of the normalised Laplacian, ascending
    clusters: int  # the eigengap's count of strategies
    assignment: list[int]  # cluster of each map, in the order given
    mean_maps: list[list[list[float]]]  # (SPRAY_SIZE, SPRAY_SIZE) mean map per cluster
    representatives: list[list[int]]  # per cluster, up to 3 map positions nearest its mean


def _features(maps: np.ndarray) -> np.ndarray:
    """(N, H, W) -> (N, SPRAY_SIZE²): average-pooled, positive part, each scaled to sum 1."""
    tensor = torch.from_numpy(np.ascontiguousarray(maps, dtype=np.float32))[:, None]
    size = (min(SPRAY_SIZE, maps.shape[1]), min(SPRAY_SIZE, maps.shape[2]))
    pooled = torch.nn.functional.adaptive_avg_pool2d(tensor, size)[:, 0].numpy()
    positive = np.clip(pooled.reshape(len(maps), -1).astype(np.float64), 0, None)
    totals = positive.sum(axis=1, keepdims=True)
    return np.divide(positive, totals, out=np.zeros_like(positive), where=totals > 0)


def affinity(features: np.ndarray, neighbours: int) -> np.ndarray:
    """Symmetric k-nearest-neighbour connectivity, 0.5 (A + Aᵀ) as in scikit-learn's
    SpectralClustering(affinity="nearest_neighbors") (each point its own first neighbour)."""
    distances = ((features[:, None, :] - features[None, :, :]) ** 2).sum(axis=2)
    order = np.argsort(distances, axis=1, kind="stable")[:, :neighbours]
    graph = np.zeros_like(distances)
    np.put_along_axis(graph, order, 1.0, axis=1)
    result: np.ndarray = 0.5 * (graph + graph.T)
    return result


def spray(maps: np.ndarray, seed: int = 0, neighbours: int = 10) -> Spray | None:
    """Spectral relevance analysis of (N, H, W) maps; None for fewer than MIN_MAPS."""
    count = len(maps)
    if count < MIN_MAPS:
        return None
    features = _features(maps)
    graph = affinity(features, min(neighbours, count - 1))
    degree = graph.sum(axis=1)
    scale = 1.0 / np.sqrt(degree)
    laplacian = np.eye(count) - scale[:, None] * graph * scale[None, :]
    largest = min(MAX_CLUSTERS, count - 1)
    values, vectors = eigh(laplacian, subset_by_index=[0, largest])
    values = np.clip(values, 0.0, None)
    # The eigengap, among groups that are nearly cut off from the rest (λ_k < CONNECTED): with
    # few maps per class the plain largest gap also splits one smooth strategy in two.
    gaps = np.diff(values)
    candidates = np.flatnonzero(values[:-1] < CONNECTED)
    clusters = int(candidates[np.argmax(gaps[candidates])]) + 1
    if clusters == 1:
        assignment = np.zeros(count, np.int64)
    else:
        embedding = vectors[:, :clusters] * scale[:, None]
        norms = np.linalg.norm(embedding, axis=1, keepdims=True)
        embedding = np.divide(embedding, norms, out=np.zeros_like(embedding), where=norms > 0)
        _, assignment = kmeans2(embedding, clusters, minit="++", seed=seed)
    side = round(float(np.sqrt(features.shape[1])))
    means: list[list[list[float]]] = []
    representatives: list[list[int]] = []
    for cluster in range(clusters):
        members = np.flatnonzero(assignment == cluster)
        if len(members) == 0:
            means.append(np.zeros((side, side)).tolist())
            representatives.append([])
            continue
        mean = features[members].mean(axis=0)
        distance = ((features[members] - mean) ** 2).sum(axis=1)
        means.append(np.round(mean.reshape(side, side), 6).tolist())
        representatives.append([int(m) for m in members[np.argsort(distance, kind="stable")[:3]]])
    return Spray(
        eigenvalues=[round(float(v), 6) for v in values],
        clusters=clusters,
        assignment=[int(a) for a in assignment],
        mean_maps=means,
        representatives=representatives,
    )
