"""The quantization choices measured side by side (docs/compression.md, "The quantization
choices"): symmetric vs affine grids, the calibration rules (min/max, percentile, MSE, entropy),
weights below 8 bits, and the two channel-pruning criteria, each against the original in one
run of the lab's comparison (app/compress/runs.py), with its Wilson 95 % interval.

    .venv/bin/python benchmarks/quantization_choices.py [--shapes-data DIR] [--out runs.json]

Two runs on the default model (a run holds at most 12 variants): weights and int8 engines, then
activations and pruning; with --shapes-data (a data directory holding shapes/teacher.safetensors)
one more run on the Shapes teacher, measured on its labelled test split (accuracy too).
"""

import argparse
import dataclasses
import json
import time
from pathlib import Path
from tempfile import mkdtemp

import torch

from app.compress.runs import RunParams, default_evaluation_set, run_comparison
from app.settings import Settings
from app.zoo import load_model


def _bits(bits: int, **params: object) -> dict:
    return {"recipe": "simulated_quant", "params": {"weight_bits": bits, **params}}


def _inputs(rule: str, **params: object) -> dict:
    return _bits(8, activations=True, calibration=rule, **params)


WEIGHTS_AND_ENGINES = [
    {"recipe": "int8_static", "params": {}},  # the control: affine uint8 inputs, min/max
    {"recipe": "int8_static", "params": {"scheme": "symmetric"}},
    {"recipe": "int8_static", "params": {"calibration": "percentile"}},
    {"recipe": "int8_static", "params": {"calibration": "entropy"}},
    _bits(8),
    _bits(6),
    _bits(4),
    _bits(3),
    _bits(2),
    _bits(4, per_channel=False),
    _bits(4, scheme="affine"),
    _bits(2, scheme="affine"),
]
INPUTS_AND_PRUNING = [
    _inputs("minmax"),
    _inputs("minmax", scheme="affine"),
    _inputs("percentile", scheme="affine"),
    _inputs("mse", scheme="affine"),
    _inputs("entropy", scheme="affine"),
    {"recipe": "prune_channels", "params": {"ratio": 0.3}},
    {"recipe": "prune_channels", "params": {"ratio": 0.3, "criterion": "l1_normalized"}},
    {"recipe": "prune_channels", "params": {"ratio": 0.3, "recovery_epochs": 10}},
    {
        "recipe": "prune_channels",
        "params": {"ratio": 0.3, "criterion": "l1_normalized", "recovery_epochs": 10},
    },
]
SHAPES = [
    _bits(8),
    _bits(4),
    _bits(2),
    _inputs("minmax", scheme="affine"),
    _inputs("mse", scheme="affine"),
    _inputs("entropy", scheme="affine"),
    *INPUTS_AND_PRUNING[-2:],
]


def _percent(value: float | None, interval: list[float] | None) -> str:
    if value is None:
        return "—"
    return f"{value:.1%} ({interval[0]:.0%}–{interval[1]:.0%})" if interval else f"{value:.1%}"


def _table(run) -> str:
    methods = run.params["methods"]
    lines = [
        "| # | variant | engine | file MB | top-1 agreement (95 % CI) | accuracy (95 % CI) | KL | "
        + "".join(f"{m} ρ | " for m in methods)
        + "weight error | batch 8 ms | build s |",
        "|" + "---|" * (10 + len(methods)),
    ]
    for index, row in enumerate(run.rows):
        drift = "".join(
            f"{row.explanation_drift[m]:.3f} | " if m in row.explanation_drift else "— | "
            for m in methods
        )
        error = row.details.get("relative_weight_error")
        lines.append(
            f"| {index} | {row.name} | {row.engine} | {row.size_bytes / 1e6:.2f}"
            f" | {_percent(row.top1_agreement, row.top1_agreement_interval)}"
            f" | {_percent(row.accuracy, row.accuracy_interval)} | {row.kl_divergence:.3f}"
            f" | {drift}{'—' if error is None else f'{error:.3f}'}"
            f" | {row.latency_ms['batch8']:.1f} | {row.build_seconds:.1f} |"
        )
    return "\n".join(lines)


def _measure(settings: Settings, name: str, variants: list[dict], **options: object):
    model = load_model(name, settings)
    params = RunParams(variants=variants, **options)  # type: ignore[arg-type]
    evaluation = default_evaluation_set(model, params)
    started = time.perf_counter()
    run = run_comparison(settings, model, params, evaluation)
    facts = run.evaluation
    print(
        f"\n## {model.name}: {facts.images} evaluation images, {facts.calibration_images}"
        f" calibration images; {time.perf_counter() - started:.0f} s on {run.machine}\n"
    )
    print(_table(run))
    if run.histogram is not None:
        ranges = {k: tuple(round(v, 2) for v in r) for k, r in run.histogram.ranges.items()}
        print("\nhistogram:", run.histogram.layer, ranges)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes-data", type=Path, help="a data dir with shapes/teacher")
    parser.add_argument("--augmentations", type=int, default=24, help="views per photo")
    parser.add_argument("--methods", default="saliency,grad_cam", help="drift methods")
    parser.add_argument("--drift-images", type=int, default=4)
    parser.add_argument(
        "--runs", default="weights,inputs", help="default-model runs: weights, inputs (or none)"
    )
    parser.add_argument("--out", type=Path, help="also write the runs as JSON")
    args = parser.parse_args()
    options = {
        "methods": [m for m in args.methods.split(",") if m],
        "latency_repeats": 3,
        "drift_images": args.drift_images,
    }
    settings = Settings(data_dir=Path(mkdtemp(prefix="lantern-quant-")))
    chosen = {"weights": WEIGHTS_AND_ENGINES, "inputs": INPUTS_AND_PRUNING}
    runs = [
        _measure(
            settings,
            settings.default_model,
            chosen[name],
            augmentations=args.augmentations,
            **options,
        )
        for name in args.runs.split(",")
        if name in chosen
    ]
    if args.shapes_data:
        shapes = Settings(data_dir=args.shapes_data)
        runs.append(_measure(shapes, "shapes/teacher", SHAPES, **options))
    if args.out:
        args.out.write_text(json.dumps([dataclasses.asdict(run) for run in runs], indent=1))


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
