"""The compression lab on the default model, end to end: every recipe (with and without
recovery) measured against the original on this machine, printed as the markdown table in
docs/compression.md. The reference is the original model measured in the same run.

    .venv/bin/python benchmarks/compression.py [--drift-images 4] [--out run.json]
"""

import argparse
import dataclasses
import json
import time
from pathlib import Path
from tempfile import mkdtemp

import torch

from app.compress.data import build_evaluation_set, gallery_sources
from app.compress.runs import RunParams, run_comparison
from app.settings import Settings
from app.zoo import load_model

VARIANTS = [
    {"recipe": "int8_static", "params": {"per_channel": False}},
    {"recipe": "int8_static", "params": {}},
    {"recipe": "int8_static", "params": {"calibration": "percentile"}},
    {"recipe": "int8_static", "params": {"per_channel": False, "recovery_epochs": 5}},
    {"recipe": "int8_static", "params": {"recovery_epochs": 3}},
    {"recipe": "int8_dynamic", "params": {}},
    {"recipe": "half_precision", "params": {}},
    {"recipe": "prune_magnitude", "params": {"sparsity": 0.3}},
    {"recipe": "prune_magnitude", "params": {"sparsity": 0.3, "recovery_epochs": 5}},
    {"recipe": "prune_channels", "params": {"ratio": 0.3}},
    {"recipe": "prune_channels", "params": {"ratio": 0.3, "recovery_epochs": 10}},
    {"recipe": "prune_iterative", "params": {"step": 0.05}},
]


def _table(run) -> str:
    methods = run.params["methods"]
    original = run.rows[0]
    lines = [
        "| # | variant | engine | file MB | non-zero params | batch 1 ms | batch 8 ms"
        " | speed-up (b8) | top-1 agreement (95 % interval) | KL | "
        + " | ".join(f"{m} ρ / top-10 %" for m in methods)
        + " | recovery (agreement before → after) | build s |",
        "|" + "---|" * (11 + len(methods)) + "---|",
    ]
    for index, row in enumerate(run.rows):
        recovery = "—"
        if row.recovery is not None:
            done = row.recovery
            recovery = (
                f"{done.agreement_before:.1%} → {done.agreement_after:.1%}"
                f" ({done.epochs} ep, {done.seconds:.0f} s)"
            )
        drift = " | ".join(
            f"{row.explanation_drift[m]:.3f} / {row.explanation_overlap[m]:.2f}"
            if m in row.explanation_drift
            else "skipped"
            for m in methods
        )
        speedup = original.latency_ms["batch8"] / row.latency_ms["batch8"]
        lines.append(
            f"| {index} | {row.name} | {row.engine} | {row.size_bytes / 1e6:.2f}"
            f" | {row.nonzero_parameters:,} | {row.latency_ms['batch1']:.1f}"
            f" | {row.latency_ms['batch8']:.1f} | {speedup:.2f}× | {row.top1_agreement:.1%}"
            f" ({row.top1_agreement_interval[0]:.0%}–{row.top1_agreement_interval[1]:.0%})"
            f" | {row.kl_divergence:.3f} | {drift} | {recovery} | {row.build_seconds:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drift-images", type=int, default=4)
    parser.add_argument("--out", type=Path, help="also write the whole run as JSON")
    args = parser.parse_args()
    settings = Settings(data_dir=Path(mkdtemp(prefix="lantern-compress-")))
    model = load_model(settings.default_model, settings)
    params = RunParams(variants=VARIANTS, drift_images=args.drift_images, sensitivity_sparsity=0.5)
    evaluation = build_evaluation_set(
        model, gallery_sources(), "gallery", params.augmentations, params.calibration_augmentations
    )
    started = time.perf_counter()
    run = run_comparison(settings, model, params, evaluation)
    print(f"{model.name} on {run.machine}, engine of the original: {model.engine}")
    facts = run.evaluation
    print(
        f"{facts.images} evaluation images, {facts.calibration_images} calibration views, drift"
        f" over {len(facts.drift_images)} photos; {time.perf_counter() - started:.0f} s\n"
    )
    print(_table(run))
    worst = sorted(run.sensitivity, key=lambda s: s.agreement)[:5]
    print(
        "\nmost sensitive layers (pruned alone to 50 %):",
        ", ".join(f"{s.layer} {s.agreement:.0%}" for s in worst),
    )
    print(
        "histogram:",
        run.histogram.layer,
        {k: tuple(round(v, 2) for v in r) for k, r in run.histogram.ranges.items()},
    )
    if args.out:
        args.out.write_text(json.dumps(dataclasses.asdict(run), indent=2))


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
