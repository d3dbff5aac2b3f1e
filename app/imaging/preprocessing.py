"""A model's preprocessing (resize the shorter side, centre crop, normalise) and its inverse."""

from dataclasses import dataclass

import numpy as np
import torch
import torchvision.transforms.functional as TF
from PIL import Image
from torch import nn

__all__ = ["Normalize", "Preprocessing"]

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Preprocessing:
    """Resize so the shorter side is `resize`, centre-crop `crop`×`crop`, then normalise.

    `model_view` returns the cropped pixels in [0, 1] (3, crop, crop); normalisation is applied
    inside the model (see `Normalize`), so every attribution and every ε is in pixel units.
    """

    resize: int
    crop: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def __post_init__(self) -> None:
        if self.resize < self.crop:
            raise ValueError(f"resize ({self.resize}) must be at least crop ({self.crop})")

    def model_view(self, image: Image.Image) -> torch.Tensor:
        """(3, crop, crop) float32 in [0, 1]: exactly the pixels the model sees."""
        new_width, new_height = self._resized_size(image.size)
        resized = image.resize((new_width, new_height), Image.Resampling.BILINEAR)
        left, top = self._crop_offset(image.size)
        cropped = resized.crop((left, top, left + self.crop, top + self.crop))
        return TF.to_tensor(cropped)

    def source_box(self, size: tuple[int, int]) -> Box:
        """The region (left, top, right, bottom) of the original image that the model sees."""
        width, height = size
        new_width, new_height = self._resized_size(size)
        left, top = self._crop_offset(size)
        sx, sy = width / new_width, height / new_height
        return (left * sx, top * sy, (left + self.crop) * sx, (top + self.crop) * sy)

    def map_to_source(self, attribution: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """Place a (crop, crop) map on the original image's grid; NaN outside the crop."""
        width, height = size
        left, top, right, bottom = self.source_box(size)
        # Sample the map at each original pixel centre, in the crop's coordinates.
        xs = (np.arange(width) + 0.5 - left) / (right - left) * self.crop - 0.5
        ys = (np.arange(height) + 0.5 - top) / (bottom - top) * self.crop - 0.5
        inside_x = (xs >= -0.5) & (xs <= self.crop - 0.5)
        inside_y = (ys >= -0.5) & (ys <= self.crop - 0.5)
        out = _bilinear(attribution.astype(np.float32), ys, xs)
        out[~inside_y, :] = np.nan
        out[:, ~inside_x] = np.nan
        return out

    def normalize(self, pixels: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(self.mean, dtype=pixels.dtype, device=pixels.device).view(-1, 1, 1)
        std = torch.tensor(self.std, dtype=pixels.dtype, device=pixels.device).view(-1, 1, 1)
        return (pixels - mean) / std

    def denormalize(self, tensor: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(self.mean, dtype=tensor.dtype, device=tensor.device).view(-1, 1, 1)
        std = torch.tensor(self.std, dtype=tensor.dtype, device=tensor.device).view(-1, 1, 1)
        return tensor * std + mean

    def _resized_size(self, size: tuple[int, int]) -> tuple[int, int]:
        # Same rule as torchvision's Resize(int): the shorter side becomes `resize`.
        width, height = size
        if width <= height:
            return self.resize, int(self.resize * height / width)
        return int(self.resize * width / height), self.resize

    def _crop_offset(self, size: tuple[int, int]) -> tuple[int, int]:
        new_width, new_height = self._resized_size(size)
        return (
            round((new_width - self.crop) / 2.0),
            round((new_height - self.crop) / 2.0),
        )


class Normalize(nn.Module):
    """(x - mean) / std as the model's first layer, so the model takes [0, 1] pixels."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, preprocessing: Preprocessing) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(preprocessing.mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(preprocessing.std).view(1, -1, 1, 1))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return (pixels - self.mean) / self.std


def _bilinear(grid: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    height, width = grid.shape
    y = np.clip(ys, 0, height - 1)
    x = np.clip(xs, 0, width - 1)
    y0 = np.floor(y).astype(int)
    x0 = np.floor(x).astype(int)
    y1 = np.minimum(y0 + 1, height - 1)
    x1 = np.minimum(x0 + 1, width - 1)
    wy = (y - y0)[:, None]
    wx = (x - x0)[None, :]
    top = grid[np.ix_(y0, x0)] * (1 - wx) + grid[np.ix_(y0, x1)] * wx
    bottom = grid[np.ix_(y1, x0)] * (1 - wx) + grid[np.ix_(y1, x1)] * wx
    return (top * (1 - wy) + bottom * wy).astype(np.float32)
