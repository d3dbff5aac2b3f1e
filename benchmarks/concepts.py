"""The concept engine's speed on the default model (EfficientNet-Lite0), on this machine.

    python benchmarks/concepts.py [--repeats 3] [--no-visualisation]

Prints, each against a reference measured in the same run:

- indexing 3 layers (_blocks.5._expand_conv, _blocks.10._expand_conv, _conv_head) over the sample
  photos and their augmentations (40 images): images/s of build_index, with the receptive-field
  measurement (once per layer and process) timed apart, against plain forward passes of the
  same batches;
- seconds per concept breakdown (chelsea, _blocks.15._expand_conv) against one forward and
  backward pass of the model (a saliency map's cost);
- seconds per feature visualisation at its default budget (app/concepts/feature_visualisation.py,
  the explorer's module), when that module is there.

Medians over --repeats. Numbers recorded in docs/concepts.md.
"""

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from app.concepts.breakdown import breakdown
from app.concepts.data import reference_images
from app.concepts.index import build_index
from app.concepts.tap import clear_receptive_fields, receptive_field
from app.imaging.samples import sample_image
from app.settings import Settings
from app.zoo import load_model

LAYERS = ["_blocks.5._expand_conv", "_blocks.10._expand_conv", "_conv_head"]
BREAKDOWN_LAYER = "_blocks.15._expand_conv"


def _median(times: list[float]) -> str:
    spread = f" (min {min(times):.2f}, max {max(times):.2f})" if len(times) > 1 else ""
    return f"{statistics.median(times):.2f} s{spread}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-visualisation", action="store_true")
    args = parser.parse_args()
    settings = Settings(device="cpu")
    model = load_model(settings.default_model, settings)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average at start: {load:.1f}")

    count, images = reference_images("samples", model, settings)
    pairs = list(images)
    pixels = torch.stack([p for _, p in pairs])

    forward, index, fields = [], [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        with torch.no_grad():
            for first in range(0, count, 16):
                model.module(pixels[first : first + 16])
        forward.append(time.perf_counter() - start)
        clear_receptive_fields()
        start = time.perf_counter()
        for layer in LAYERS:
            receptive_field(model, layer)
        fields.append(time.perf_counter() - start)
        start = time.perf_counter()
        build_index(model, iter(pairs), LAYERS, top=9)  # the fields: measured above, kept
        index.append(time.perf_counter() - start)
    without = statistics.median(index)
    with_fields = without + statistics.median(fields)
    plain = statistics.median(forward)
    print(f"index, {count} images, 3 layers: {_median(index)} (fields known)")
    print(f"  receptive fields of the 3 layers: {_median(fields)} (once per index)")
    print(
        f"  {count / without:.1f} images/s without them, {count / with_fields:.1f} with; "
        f"plain forward passes {count / plain:.1f} images/s ({without / plain:.2f}x their time)"
    )

    chelsea = model.preprocessing.model_view(sample_image("chelsea"))
    gradient, split = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        inputs = chelsea[None].clone().requires_grad_(True)
        logits = model.module(inputs)
        torch.autograd.grad(logits[0].max(), inputs)
        gradient.append(time.perf_counter() - start)
        start = time.perf_counter()
        breakdown(model, chelsea, BREAKDOWN_LAYER, top=5)
        split.append(time.perf_counter() - start)
    ratio = statistics.median(split) / statistics.median(gradient)
    print(f"concept breakdown ({BREAKDOWN_LAYER}): {_median(split)}")
    print(f"  one forward + backward pass: {_median(gradient)} ({ratio:.2f}x)")

    if args.no_visualisation:
        return
    try:
        from app.concepts.feature_visualisation import FeatureVisualisationParams, visualise
    except ImportError:
        print("feature visualisation: module not there (app/concepts/feature_visualisation.py)")
        return
    params = FeatureVisualisationParams(layer="_blocks.10._expand_conv", channel=0)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        result = visualise(model, params, lambda done, total: None, Path(folder))
        seconds = time.perf_counter() - start
    print(
        f"feature visualisation at the default budget ({result.steps} steps, "
        f"{result.size} px): {seconds:.1f} s"
    )


if __name__ == "__main__":
    main()
