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
# The settings measured for docs/shapes.md and docs/trust.md (label smoothing, the bogus model):
# a small student and few images, so that three seeds fit the loaded 2-core machine.
CALIBRATION = {"width": 16, "train_images": 300, "test_images": 200, "epochs": 15, "seeds": 3}
BOGUS = {
    "width": 16,
    "train_images": 150,
    "test_images": 200,
    "epochs": 30,
    "seeds": 3,
    "images": 8,
}


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
        f"{report.params['width']}, seeds {report.seeds}, "
        f"α = {report.params['alpha']}, T = {report.params['temperature']}, "
        f"{report.params['soft_loss']} loss.",
        "",
        "| student | images per epoch | epochs | test accuracy, % (mean ± sd) | per seed, % "
        "| time |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for arm in report.arms:
        seeds = ", ".join(f"{100 * v:.1f}" for v in arm.test_accuracy.values)
        lines.append(
            f"| {arm.title} | {arm.images_per_epoch:,} | {arm.epochs} | {_pm(arm.test_accuracy)} "
            f"| {seeds} "
            f"| {arm.seconds:.0f} s |"
        )
    gains = ", ".join(f"{100 * v:+.1f}" for v in report.gain.values)
    lines += [
        "",
        f"Transfer set minus labels only, paired by seed: {_pm(report.gain)} points ({gains}).",
    ]
    if report.gain_over_same_steps is not None:
        same = ", ".join(f"{100 * v:+.1f}" for v in report.gain_over_same_steps.values)
        lines.append(
            f"Minus labels only with as many steps: {_pm(report.gain_over_same_steps)} points "
            f"({same})."
        )
    lines += [
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


def calibration(settings: Settings) -> tuple[str, Any]:
    report = _run(settings, "calibration", CALIBRATION)
    params = report.params
    lines = [
        f"Student width {params['width']}, {params['train_images']} training images, "
        f"{params['epochs']} epochs, seeds 0…{params['seeds'] - 1}, the same initial weights for "
        f"both runs of a seed; {params['test_images']} test images, 15 bins.",
        "",
        "| run | test accuracy, % | ECE, % | NLL | per seed ECE, % |",
        "|---|---:|---:|---:|---|",
    ]
    smoothed = f"label smoothing ε = {params['label_smoothing']}"
    for kind, title in (("plain", "labels (control)"), ("smoothed", smoothed)):
        per_seed = ", ".join(f"{100 * v:.1f}" for v in report.ece[kind].values)
        lines.append(
            f"| {title} | {_pm(report.test_accuracy[kind])} | {_pm(report.ece[kind])} "
            f"| {report.nll[kind].mean:.3f} ± {report.nll[kind].sd:.3f} | {per_seed} |"
        )
    heads = " | ".join(f"T = {t:g}" for t in report.temperatures)
    lines += [
        "",
        "Mean entropy of softmax(z / T) on the test images, nats "
        f"(all classes equal: log 10 = {report.max_entropy:.3f}):",
        "",
        f"| run, seed | {heads} |",
        "|---|" + "---:|" * len(report.temperatures),
    ]
    for run in report.runs:
        kind = "smoothed" if run.label_smoothing else "plain"
        values = " | ".join(f"{v:.3f}" for v in run.entropy)
        lines.append(f"| {kind}, {run.seed} | {values} |")
    lines.append(f"\nTotal {report.seconds:.0f} s.")
    return "\n".join(lines), report


def bogus(settings: Settings) -> tuple[str, Any]:
    report = _run(settings, "random_labels", BOGUS)
    params = report.params
    lines = [
        f"Student width {params['width']}, {params['train_images']} training images, "
        f"{params['epochs']} epochs, no weight decay, seeds 0…{params['seeds'] - 1}; test: "
        f"{params['test_images']} images; chance {100 * report.chance:.0f} %.",
        "",
        "| model | train accuracy, % | test accuracy, % |",
        "|---|---:|---:|",
        f"| random labels (train: the labels it learnt) | {_pm(report.train_accuracy)} "
        f"| {_pm(report.test_accuracy)} |",
        f"| true labels (control) | {_pm(report.control_train_accuracy)} "
        f"| {_pm(report.control_test_accuracy)} |",
        "",
        f"Maps of the honest model (seed 0) on {params['images']} test images, each model "
        "explaining its own top class; mean similarity to the bogus model's map and, as the "
        "control, to a second honest model's (seed 1):",
        "",
        "| method | rank r of abs, bogus | rank r of abs, other honest "
        "| SSIM, bogus | SSIM, other honest |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in report.methods:
        bogus_map = row.to_random_labels
        other = row.to_other_seed or {"spearman_abs": float("nan"), "ssim": float("nan")}
        lines.append(
            f"| {row.method} | {bogus_map['spearman_abs']:.2f} | {other['spearman_abs']:.2f} "
            f"| {bogus_map['ssim']:.2f} | {other['ssim']:.2f} |"
        )
    lines.append(f"\nTotal {report.seconds:.0f} s.")
    return "\n".join(lines), report


SECTIONS: dict[str, tuple[str, Callable[[Settings], tuple[str, Any]]]] = {
    "distill": ("Distillation that pays (distill_transfer)", distill),
    "noise": ("Noise protects? (noise_robustness)", noise),
    "calibration": ("Label smoothing and temperature (calibration)", calibration),
    "bogus": ("The bogus model (random_labels)", bogus),
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
