"""Forward passes over many perturbed images, in batches, reporting progress."""

from collections.abc import Callable

import torch

from app.params import Progress

__all__ = ["batched_scores"]


def batched_scores(
    forward: Callable[[torch.Tensor], torch.Tensor],
    count: int,
    make_batch: Callable[[int, int], torch.Tensor],
    target: int,
    batch_size: int,
    progress: Progress,
) -> torch.Tensor:
    """logit[target] for images make_batch(start, stop), start..stop covering range(count);
    `forward` maps a batch to logits (LoadedModel.forward_logits: the fast path if prepared)."""
    scores = []
    with torch.no_grad():
        for start in range(0, count, batch_size):
            stop = min(start + batch_size, count)
            scores.append(forward(make_batch(start, stop))[:, target].float())
            progress(stop, count)
    return torch.cat(scores)
