"""Forward passes over many perturbed images, in batches, reporting progress."""

import time
from collections.abc import Callable

import torch

from app.params import Progress

__all__ = ["FIRST_PART", "STEP_SECONDS", "batched_scores"]

STEP_SECONDS = 0.5
"""The longest forward pass between two progress calls: cancel and deadline act within about
twice this (issue 19, M2: a KernelSHAP batch of 1,024 images took 14.6 s to stop). A batch is
run in parts: the first of FIRST_PART images, then each as many images as the last part's pace
fits in STEP_SECONDS, at most the whole batch. On a model that runs a whole batch within
STEP_SECONDS (every test model, the default model's CPU batches) the parts are the batches."""
FIRST_PART = 1  # a model may take seconds per image on the CPU


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
    part = min(batch_size, FIRST_PART)
    with torch.no_grad():
        for start in range(0, count, batch_size):
            stop = min(start + batch_size, count)
            batch = make_batch(start, stop)
            done = 0
            while done < len(batch):
                images = batch[done : done + part]
                began = time.monotonic()
                scores.append(forward(images)[:, target].float())
                took = max(time.monotonic() - began, 1e-6)
                done += len(images)
                if took > STEP_SECONDS or len(images) == part:  # not a short last part
                    part = min(batch_size, max(1, int(len(images) * STEP_SECONDS / took)))
                progress(start + done, count)
    return torch.cat(scores)
