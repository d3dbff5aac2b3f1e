"""The transfer set of knowledge distillation (Hinton et al. 2015, section 2): images that the
teacher labels and a labels-only student cannot use.

Two sources: generated Shapes images with their labels dropped (a generator range of their own,
from TRANSFER_OFFSET, disjoint from the train, validation and test splits of app/shapes/base.py),
and augmented copies of the labelled images (a random horizontal flip, a shift of up to a few
pixels with the edge repeated, brightness and contrast jitter). The teacher's logits are their
only targets.
"""

import torch
import torch.nn.functional as F

from app.shapes.dataset import ShapesDataset

__all__ = ["TRANSFER_OFFSET", "augment", "transfer_pixels"]

TRANSFER_OFFSET = 300_000  # where the unlabelled images start in the generator
_SHIFT = 4  # pixels, at most, in each direction
_BRIGHTNESS = 0.1  # added to every pixel, at most (pixels in [0, 1])
_CONTRAST = 0.2  # relative change of the spread around the image's mean, at most


def augment(pixels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One augmented copy of (N, 3, H, W) pixels in [0, 1], drawn from `generator`."""
    count, _, height, width = pixels.shape
    flip = torch.rand(count, generator=generator) < 0.5
    images = torch.where(flip[:, None, None, None], pixels.flip(-1), pixels)
    padded = F.pad(images, (_SHIFT,) * 4, mode="replicate")
    offsets = torch.randint(0, 2 * _SHIFT + 1, (count, 2), generator=generator).tolist()
    images = torch.stack(
        [padded[i, :, dy : dy + height, dx : dx + width] for i, (dy, dx) in enumerate(offsets)]
    )
    brightness = (2 * torch.rand(count, 1, 1, 1, generator=generator) - 1) * _BRIGHTNESS
    contrast = 1 + (2 * torch.rand(count, 1, 1, 1, generator=generator) - 1) * _CONTRAST
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    return ((images - mean) * contrast + mean + brightness).clamp(0, 1)


def transfer_pixels(
    labelled: torch.Tensor, unlabelled: int, augmented_copies: int, size: int, seed: int
) -> torch.Tensor:
    """`unlabelled` generated images (labels dropped), then `augmented_copies` augmented copies
    of the `labelled` pixels: (unlabelled + copies · len(labelled), 3, size, size)."""
    parts = []
    if unlabelled:
        parts.append(ShapesDataset(unlabelled, size, seed, "random", TRANSFER_OFFSET).tensors()[0])
    generator = torch.Generator().manual_seed(seed)
    parts += [augment(labelled, generator) for _ in range(augmented_copies)]
    return torch.cat(parts) if parts else labelled.new_zeros((0, 3, size, size))
