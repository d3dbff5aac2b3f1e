"""ROAD's noisy linear imputation against its defining equations, solved densely pixel by pixel."""

import numpy as np
import pytest
import torch

from app.trust.road import NEIGHBOUR_WEIGHTS, noisy_linear_impute


def _dense_reference(pixels: np.ndarray, removed: np.ndarray) -> np.ndarray:
    """The same equations written out one pixel at a time and solved with a dense solver."""
    channels, height, width = pixels.shape
    unknown = [(r, c) for r in range(height) for c in range(width) if removed[r, c]]
    index = {p: i for i, p in enumerate(unknown)}
    a = np.zeros((len(unknown), len(unknown)))
    b = np.zeros((len(unknown), channels))
    for i, (r, c) in enumerate(unknown):
        for dr, dc, w in NEIGHBOUR_WEIGHTS:
            rr, cc = r + dr, c + dc
            if not (0 <= rr < height and 0 <= cc < width):
                continue
            a[i, i] += w
            if removed[rr, cc]:
                a[i, index[(rr, cc)]] -= w
            else:
                b[i] += w * pixels[:, rr, cc]
    out = pixels.copy()
    solved = np.linalg.solve(a, b)
    for i, (r, c) in enumerate(unknown):
        out[:, r, c] = solved[i]
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_imputation_equals_the_dense_solution(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pixels = rng.random((3, 9, 11))
    removed = rng.random((9, 11)) < 0.6
    removed[0, 0] = removed[8, 10] = True  # corners: neighbours outside the image drop out
    ours = noisy_linear_impute(torch.from_numpy(pixels), torch.from_numpy(removed), noise=0.0)
    np.testing.assert_allclose(ours.numpy(), _dense_reference(pixels, removed), atol=1e-10)


def test_one_removed_pixel_is_the_weighted_mean_of_its_neighbours() -> None:
    pixels = torch.arange(75, dtype=torch.float64).reshape(3, 5, 5) / 75
    removed = torch.zeros(5, 5, dtype=torch.bool)
    removed[2, 2] = True
    filled = noisy_linear_impute(pixels, removed, noise=0.0)
    window = pixels[:, 1:4, 1:4]
    weights = torch.tensor([[1, 2, 1], [2, 0, 2], [1, 2, 1]], dtype=torch.float64) / 12
    expected = (window * weights).sum(dim=(1, 2))
    torch.testing.assert_close(filled[:, 2, 2], expected)
    removed_mask = removed.expand(3, -1, -1)
    assert torch.equal(filled[~removed_mask], pixels[~removed_mask])


def test_noise_is_seeded_and_has_the_stated_spread() -> None:
    pixels = torch.full((3, 40, 40), 0.5)
    removed = torch.zeros(40, 40, dtype=torch.bool)
    removed[5:35, 5:35] = True  # a flat image: the solution is 0.5 everywhere, the rest is noise
    first = noisy_linear_impute(pixels, removed, generator=torch.Generator().manual_seed(3))
    again = noisy_linear_impute(pixels, removed, generator=torch.Generator().manual_seed(3))
    assert torch.equal(first, again)
    spread = (first[:, 5:35, 5:35] - 0.5).std().item()
    assert spread == pytest.approx(0.01, rel=0.05)


def test_everything_removed_gives_the_mean_colour_and_nothing_removed_the_image() -> None:
    pixels = torch.rand(3, 6, 6, generator=torch.Generator().manual_seed(0))
    every = noisy_linear_impute(pixels, torch.ones(6, 6, dtype=torch.bool), noise=0.0)
    torch.testing.assert_close(every, pixels.mean(dim=(1, 2), keepdim=True).expand_as(pixels))
    none = noisy_linear_impute(pixels, torch.zeros(6, 6, dtype=torch.bool))
    assert torch.equal(none, pixels)
    with pytest.raises(ValueError, match="does not fit"):
        noisy_linear_impute(pixels, torch.zeros(5, 6, dtype=torch.bool))
