"""Compression: one module per recipe, registered in RECIPES, each returning a CompressedModel;
`run_comparison` measures variants against the original (app/compress/comparison.py)."""

from app.compress import (  # noqa: F401  (each module registers its recipe)
    half_precision,
    int8_dynamic,
    int8_static,
    prune_channels,
    prune_iterative,
    prune_magnitude,
    simulated_quant,
)
from app.compress.base import RECIPES, CompressedModel, CompressionData, Recipe
from app.compress.runs import CompressionRun, RunParams, compress, run_comparison

__all__ = [
    "RECIPES",
    "CompressedModel",
    "CompressionData",
    "CompressionRun",
    "Recipe",
    "RunParams",
    "compress",
    "run_comparison",
]
