"""The lecture's claims in the Shapes lab, each measured once with its seeds and printed as the
markdown tables of docs/shapes.md. One section per claim; `--claims` picks some. Each section
runs its registered experiment (app/shapes) with the settings below, so the page and
`lantern shapes NAME --param ...` reproduce it.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/lab_claims.py \
        [--claims distill noise] [--data-dir DIR] [--out run.json]

Sections that need the teacher train it first (`lantern shapes transfer --param modes=finetune`)
unless DIR/shapes/teacher.safetensors exists. Add a claim: a function returning its markdown,
and a line in SECTIONS.
"""

import argparse
import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

import torch

from app.settings import Settings
from app.shapes import EXPERIMENTS, storage
from app.shapes.seeds import Spread

# The settings measured for docs/shapes.md (the experiments' defaults where not named).
DISTILL = {"epochs": 10, "transfer_images": 1000, "augmented_copies": 1, "seeds": 3}
NOISE = {"epochs": 10, "input_noise": 0.1, "seeds": 3, "pgd_steps": 10}


def _pm(value: Spread, scale: float = 100.0) -> str:
    return f"{scale * value.mean:.1f} ± {scale * value.sd:.1f}"


def _run(settings: Settings, name: str, values: dict[str, Any]) -> Any:
    experiment = EXPERIMENTS.get(name)
    for needed in experiment.needs:
        if not storage.model_path(settings, needed).is_file():
            maker = next(e for e in EXPERIMENTS if needed in e.makes)
            print(f"training {needed} with {maker.name} first ...", flush=True)
            maker.run(settings, maker.Params(modes=["finetune"]), None)  # type: ignore[arg-type]
    return experiment.run(settings, experiment.Params(**values), None)  # type: ignore[arg-type]


def distill(settings: Settings) -> tuple[str, Any]:
    report = _run(settings, "distill_transfer", DISTILL)
    lines = [
        f"Teacher: {100 * report.teacher_accuracy:.1f} % test accuracy. Student width "
        f"{report.params['width']}, {report.params['epochs']} epochs each, seeds {report.seeds}, "
        f"α = {report.params['alpha']}, T = {report.params['temperature']}, "
        f"{report.params['soft_loss']} loss.",
        "",
        "| student | images per epoch | test accuracy, % (mean ± sd) | per seed, % | time |",
        "|---|---:|---:|---|---:|",
    ]
    for arm in report.arms:
        seeds = ", ".join(f"{100 * v:.1f}" for v in arm.test_accuracy.values)
        lines.append(
            f"| {arm.title} | {arm.images_per_epoch:,} | {_pm(arm.test_accuracy)} | {seeds} "
            f"| {arm.seconds:.0f} s |"
        )
    gains = ", ".join(f"{100 * v:+.1f}" for v in report.gain.values)
    lines += [
        "",
        f"Transfer set minus labels only, paired by seed: {_pm(report.gain)} points ({gains}).",
        f"Total {report.seconds:.0f} s.",
    ]
    return "\n".join(lines), report


def noise(settings: Settings) -> tuple[str, Any]:
    report = _run(settings, "noise_robustness", NOISE)
    epsilons = report.params["epsilons"]
    lines = [
        f"{report.params['test_images']} test images, {report.params['epochs']} epochs, "
        f"seeds {report.params['seed']}…{report.params['seed'] + report.params['seeds'] - 1}; "
        f"PGD {report.params['pgd_steps']} steps of ε/4. Attack success rate, % (mean ± sd):",
        "",
        "| model | attack | clean accuracy | "
        + " | ".join(f"ε = {e}/255" for e in epsilons)
        + " |",
        "|---|---|---:|" + "---:|" * len(epsilons),
    ]
    for run in report.runs:
        for curve in run.curves:
            rates = " | ".join(_pm(rate) for rate in curve.success_rate)
            lines.append(
                f"| {run.name} | {curve.attack.upper()} | {_pm(run.clean_accuracy)} | {rates} |"
            )
    lines += ["", f"Total {report.seconds:.0f} s."]
    return "\n".join(lines), report


SECTIONS: dict[str, tuple[str, Callable[[Settings], tuple[str, Any]]]] = {
    "distill": ("Distillation that pays (distill_transfer)", distill),
    "noise": ("Noise protects? (noise_robustness)", noise),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", nargs="+", choices=list(SECTIONS), default=list(SECTIONS))
    parser.add_argument("--data-dir", type=Path, default=None, help="default: a new temp folder")
    parser.add_argument("--out", type=Path, default=None, help="also write the reports as JSON")
    args = parser.parse_args()
    data_dir = args.data_dir or Path(mkdtemp(prefix="lab-claims-"))
    settings = Settings(data_dir=data_dir, device="cpu")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, data in {data_dir}")
    reports = {}
    for claim in args.claims:
        title, section = SECTIONS[claim]
        started = time.perf_counter()
        text, report = section(settings)
        reports[claim] = dataclasses.asdict(report)
        print(f"\n## {title} ({time.perf_counter() - started:.0f} s)\n\n{text}", flush=True)
    if args.out:
        args.out.write_text(json.dumps(reports, indent=1))


if __name__ == "__main__":
    main()
