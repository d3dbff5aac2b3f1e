"""Measurements shared by recipes and the comparison: logits in batches, agreement, KL
divergence, latency, and how alike two explanation maps are."""

import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from app.trust.similarity import spearman

__all__ = [
    "agreement",
    "count_parameters",
    "kl_divergence",
    "latencies_ms",
    "logits_of",
    "rank_correlation",
    "top_overlap",
]

Forward = Callable[[torch.Tensor], torch.Tensor]


def logits_of(forward: Forward, pixels: torch.Tensor, batch: int = 8) -> torch.Tensor:
    """(N, classes) float32 CPU logits of `forward` on (N, 3, H, W) pixels, `batch` at a time."""
    with torch.no_grad():
        parts = [forward(pixels[i : i + batch]).float().cpu() for i in range(0, len(pixels), batch)]
    return torch.cat(parts)


def agreement(reference: torch.Tensor, logits: torch.Tensor) -> float:
    """Fraction of images whose top-1 class is the same under both."""
    return float((reference.argmax(-1) == logits.argmax(-1)).float().mean())


def kl_divergence(reference: torch.Tensor, logits: torch.Tensor) -> float:
    """Mean KL(reference ‖ variant) of the softmax outputs, in nats."""
    log_p = F.log_softmax(reference.double(), dim=-1)
    log_q = F.log_softmax(logits.double(), dim=-1)
    return float((log_p.exp() * (log_p - log_q)).sum(-1).mean())


def latencies_ms(
    forwards: list[Forward],
    size: int,
    repeats: int,
    batches: tuple[int, ...] = (1, 8),
    rounds: int = 3,
) -> list[dict[str, float]]:
    """For each forward, the median wall time (ms) of a pass at each batch size, as
    {"batch1": ..., "batch8": ...}: `rounds` rounds in which every forward in turn runs one
    warm-up pass and `repeats` timed passes per batch size. Taking turns spreads a slow spell of
    the machine over all of them; the consecutive passes keep each one's weights in cache."""
    inputs = {
        batch: torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(batch))
        for batch in batches
    }
    times: list[dict[int, list[float]]] = [{batch: [] for batch in batches} for _ in forwards]
    with torch.no_grad():
        for _ in range(rounds):
            for index, forward in enumerate(forwards):
                for batch, pixels in inputs.items():
                    _finished(forward(pixels))
                    for _ in range(repeats):
                        started = time.perf_counter()
                        _finished(forward(pixels))
                        times[index][batch].append((time.perf_counter() - started) * 1000)
    return [
        {f"batch{batch}": statistics.median(values) for batch, values in timed.items()}
        for timed in times
    ]


def _finished(output: torch.Tensor) -> None:
    """Wait for a CUDA result (kernels run asynchronously; the clock must see them end)."""
    if output.is_cuda:
        torch.cuda.synchronize(output.device)


def count_parameters(tensors: list[torch.Tensor]) -> tuple[int, int]:
    """(elements, non-zero elements) over `tensors`."""
    total = sum(t.numel() for t in tensors)
    nonzero = sum(int(torch.count_nonzero(t)) for t in tensors)
    return total, nonzero


def top_overlap(a: np.ndarray, b: np.ndarray, fraction: float = 0.1) -> float:
    """|top `fraction` pixels of |a| ∩ those of |b|| / their count (1.0 = the same pixels)."""
    count = max(1, round(a.size * fraction))
    top_a = np.argpartition(-np.abs(a).ravel(), count - 1)[:count]
    top_b = np.argpartition(-np.abs(b).ravel(), count - 1)[:count]
    return len(np.intersect1d(top_a, top_b)) / count


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of |a| and |b| (as in the sanity checks); 1.0 for identical
    maps even when constant, 0.0 when only one of them is constant (nothing to rank)."""
    if np.array_equal(a, b):
        return 1.0
    return spearman(a, b, absolute=True)
