"""SpRAy on maps with known strategies, against scikit-learn's spectral clustering; the border
and corner masses in closed form."""

import numpy as np
import pytest
from sklearn.cluster import SpectralClustering
from sklearn.metrics import adjusted_rand_score

from app.audit.scoring import border_masses, border_regions, downsample
from app.audit.shortcuts import affinity, spray


def _maps(counts: list[int], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Maps of three strategies: a blob in the centre, in the top-left corner, on the right."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:32, 0:32]
    centres = [(16, 16), (3, 3), (16, 29)]
    maps, truth = [], []
    for strategy, count in enumerate(counts):
        cy, cx = centres[strategy]
        for _ in range(count):
            jy, jx = rng.normal(0, 1.0, 2)
            blob = np.exp(-((y - cy - jy) ** 2 + (x - cx - jx) ** 2) / 18.0)
            maps.append(blob + rng.uniform(0, 0.02, (32, 32)))
            truth.append(strategy)
    return np.array(maps), np.array(truth)


@pytest.mark.parametrize("counts", [[20, 12], [15, 15, 10]])
def test_eigengap_counts_the_strategies(counts: list[int]) -> None:
    maps, truth = _maps(counts)
    found = spray(maps, seed=0)
    assert found is not None
    assert found.clusters == len(counts)
    assert adjusted_rand_score(truth, found.assignment) == 1.0
    assert sorted(found.assignment.count(c) for c in range(found.clusters)) == sorted(counts)


def test_same_clusters_as_sklearn_spectral_clustering() -> None:
    maps, _ = _maps([15, 15, 10], seed=1)
    found = spray(maps, seed=0)
    assert found is not None
    from app.audit.shortcuts import _features

    reference = SpectralClustering(
        n_clusters=found.clusters, affinity="nearest_neighbors", n_neighbors=10, random_state=0
    ).fit(_features(maps))
    assert adjusted_rand_score(reference.labels_, found.assignment) == 1.0


def test_affinity_is_sklearns_knn_connectivity() -> None:
    from sklearn.neighbors import kneighbors_graph

    features = np.random.default_rng(0).normal(size=(30, 5))
    connectivity = kneighbors_graph(features, n_neighbors=6, include_self=True).toarray()
    np.testing.assert_allclose(affinity(features, 6), 0.5 * (connectivity + connectivity.T))


def test_one_strategy_is_one_cluster_and_few_maps_none() -> None:
    maps, _ = _maps([25])
    found = spray(maps)
    assert found is not None and found.clusters == 1
    assert spray(maps[:5]) is None


def test_border_and_corner_mass_closed_form() -> None:
    border, corner = border_regions((20, 20))
    assert border.sum() == 400 - 16 * 16  # a band of 2 pixels
    assert corner.sum() == 4 * 4 * 4  # four 4×4 squares
    uniform = np.ones((20, 20))
    assert border_masses(uniform) == pytest.approx((border.mean(), corner.mean()))
    watermark = np.zeros((20, 20))
    watermark[0:2, 0:2] = 1.0  # all mass in the top-left corner
    assert border_masses(watermark) == pytest.approx((1.0, 1.0))
    assert all(np.isnan(border_masses(-uniform)))  # nothing positive


def test_downsample_is_average_pooling() -> None:
    attribution = np.arange(64 * 64, dtype=np.float32).reshape(64, 64)
    pooled = downsample(attribution, 32)
    assert pooled.shape == (32, 32)
    assert pooled[0, 0] == pytest.approx(attribution[:2, :2].mean())
    assert downsample(attribution[:16, :16], 32).shape == (16, 16)
