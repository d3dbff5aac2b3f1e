"""Forward passes over many perturbed images, in batches, reporting progress."""

import time
from collections.abc import Callable, Iterator

import torch

from app.params import Progress

__all__ = ["FIRST_PART", "STEP_SECONDS", "batched_scores", "paced_parts"]

STEP_SECONDS = 0.5
"""The longest pass between two progress calls: cancel and deadline act within about twice
this (issue 19, M2: a KernelSHAP batch of 1,024 images took 14.6 s to stop). Work is done in
parts: the first of FIRST_PART items, then each as many items as the last part's pace fits in
STEP_SECONDS, at most the batch size. On a model that runs a whole batch within STEP_SECONDS
(every test model, the default model's CPU batches) the parts grow to the batches."""
FIRST_PART = 1  # a model may take seconds per image on the CPU


def paced_parts(count: int, most: int, progress: Progress) -> Iterator[tuple[int, int]]:
    """(start, stop) ranges covering range(count), each at most `most` long and sized so that
    the caller's work on one takes about STEP_SECONDS; progress(stop, count) after each."""
    part, start = min(most, FIRST_PART), 0
    while start < count:
        stop = min(start + part, count)
        began = time.monotonic()
        yield start, stop
        took = max(time.monotonic() - began, 1e-6)
        if took > STEP_SECONDS or stop - start == part:  # not a short last part
            part = min(most, max(1, int((stop - start) * STEP_SECONDS / took)))
        progress(stop, count)
        start = stop


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
        for start, stop in paced_parts(count, batch_size, progress):
            scores.append(forward(make_batch(start, stop))[:, target].float())
    return torch.cat(scores)
