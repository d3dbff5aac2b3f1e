"""Noisy linear imputation (ROAD: Rong, Leemann, Borisov, Kasneci & Kasneci, "A Consistent and
Efficient Evaluation Strategy for Attribution Methods", ICML 2022).

Removing pixels by painting them black makes images the model never saw, so a deletion curve
measures the model's reaction to black blobs as much as the map's quality, and the mask's shape
leaks the class. ROAD fills each removed pixel with the weighted mean of its eight neighbours
(1/6 for the four sharing an edge, 1/12 for the diagonals; neighbours outside the image are left
out and the weights renormalised), solved jointly for all removed pixels as one sparse linear
system per image, then adds Gaussian noise (σ = 0.01 in [0, 1] pixel units): the filled image
stays close to natural images and the mask's outline no longer shows.
"""

import numpy as np
import scipy.sparse as sparse
import torch
from scipy.sparse.linalg import splu

__all__ = ["NEIGHBOUR_WEIGHTS", "ROAD_NOISE", "noisy_linear_impute"]

NEIGHBOUR_WEIGHTS: tuple[tuple[int, int, float], ...] = (
    (-1, -1, 1 / 12),
    (-1, 0, 1 / 6),
    (-1, 1, 1 / 12),
    (0, -1, 1 / 6),
    (0, 1, 1 / 6),
    (1, -1, 1 / 12),
    (1, 0, 1 / 6),
    (1, 1, 1 / 12),
)
ROAD_NOISE = 0.01  # σ of the noise added to imputed pixels, as in the paper's code


def noisy_linear_impute(
    pixels: torch.Tensor,
    removed: torch.Tensor,
    noise: float = ROAD_NOISE,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """pixels: (3, H, W) in [0, 1]; removed: (H, W) bool, True where a pixel is removed.
    Returns a (3, H, W) copy whose kept pixels are unchanged and whose removed pixels solve
    x_i = Σ_j w_ij x_j / Σ_j w_ij over the in-image neighbours j, plus N(0, noise²), clipped
    to [0, 1]. With every pixel removed there is nothing to interpolate from: the image's
    removed pixels become its mean colour (plus noise)."""
    channels, height, width = pixels.shape
    if removed.shape != (height, width):
        raise ValueError(f"mask {tuple(removed.shape)} does not fit pixels {tuple(pixels.shape)}")
    gone = removed.detach().cpu().numpy().astype(bool).ravel()
    unknown = np.flatnonzero(gone)
    result = pixels.detach().cpu().double().reshape(channels, -1).clone()
    if unknown.size == 0:
        return pixels.detach().clone()
    if unknown.size == gone.size:
        values = result.mean(dim=1, keepdim=True).expand(-1, unknown.size).numpy()
    else:
        values = _solve(result.numpy(), gone, unknown, height, width)
    filled = torch.from_numpy(np.ascontiguousarray(values))
    if noise > 0:
        filled = filled + noise * torch.randn(filled.shape, generator=generator, dtype=filled.dtype)
    result[:, unknown] = filled.clamp(0.0, 1.0)
    return result.reshape(channels, height, width).to(pixels.dtype).to(pixels.device)


def _solve(
    flat: np.ndarray, gone: np.ndarray, unknown: np.ndarray, height: int, width: int
) -> np.ndarray:
    """The (C, N) values of the N removed pixels: one sparse system, factorised once for all
    channels. Row i: (Σ_j w_ij) x_i − Σ_{j removed} w_ij x_j = Σ_{j kept} w_ij v_j."""
    count = unknown.size
    variable = np.full(gone.size, -1)
    variable[unknown] = np.arange(count)
    row, column = np.divmod(unknown, width)
    diagonal = np.zeros(count)
    right = np.zeros((count, flat.shape[0]))
    rows, columns, values = [np.arange(count)], [np.arange(count)], []
    for d_row, d_column, weight in NEIGHBOUR_WEIGHTS:
        r, c = row + d_row, column + d_column
        inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
        equation = np.flatnonzero(inside)
        neighbour = r[inside] * width + c[inside]
        diagonal[equation] += weight
        kept = ~gone[neighbour]
        right[equation[kept]] += weight * flat[:, neighbour[kept]].T
        rows.append(equation[~kept])
        columns.append(variable[neighbour[~kept]])
        values.append(np.full(int((~kept).sum()), -weight))
    matrix = sparse.csc_matrix(
        (np.concatenate([diagonal, *values]), (np.concatenate(rows), np.concatenate(columns))),
        shape=(count, count),
    )
    # Minimum degree on the symmetric pattern: about half the fill (and time) of the default
    # column ordering on large removed regions, measured on 224-pixel images.
    factors = splu(matrix, permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})
    solution: np.ndarray = factors.solve(right)
    return solution.T
