"""Results over several training seeds: each claim of the lab is reported as mean ± sample
standard deviation over its seeds, with every seed's value kept beside them."""

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from app.results import result_type

__all__ = ["Spread", "spread", "training_seeds"]


@result_type
@dataclass(frozen=True)
class Spread:
    values: list[float]  # one per seed, in seed order
    mean: float
    sd: float  # sample standard deviation (n − 1 in the denominator); 0 for a single seed


def spread(values: Sequence[float]) -> Spread:
    """Mean and sample standard deviation of `values` (at least one)."""
    numbers = [float(value) for value in values]
    sd = statistics.stdev(numbers) if len(numbers) > 1 else 0.0
    return Spread(numbers, statistics.fmean(numbers), sd)


def training_seeds(first: int, count: int) -> list[int]:
    """The seeds of `count` runs: first, first + 1, …"""
    return list(range(first, first + count))
