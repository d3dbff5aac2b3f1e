"""`lantern compress --recipe NAME [--param key=value ...] [--model NAME]`: one variant of any
catalog model measured against the original, printed as a table (each agreement and accuracy
with its Wilson 95 % interval) and written as a JSON report (and the variant's file with
--save). A Shapes model is measured on the lab's labelled test split, others on the sample
photos' views. The run is also kept under `LANTERN_DATA_DIR/compress/runs/` like the page's."""

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from app.cli._commands import add_command
from app.cli._options import (
    Commands,
    add_device,
    add_field_option,
    add_model_options,
    add_param,
    settings_of,
)
from app.cli._progress import progress_to
from app.compress.base import RECIPES
from app.compress.comparison import VariantReport
from app.compress.data import build_evaluation_set, folder_sources, zip_sources
from app.compress.runs import (
    RunParams,
    VariantRequest,
    default_evaluation_set,
    run_comparison,
    run_file,
)
from app.errors import BadParameter
from app.params import parse_params
from app.zoo import load_model

__all__ = ["register"]


def register(commands: Commands) -> None:
    parser = add_command(commands, "compress")
    parser.add_argument("--recipe", required=True, choices=RECIPES.names())
    add_param(
        parser, "a recipe parameter (repeatable; see the recipe's fields in /docs or the page)"
    )
    add_model_options(parser)
    add_device(parser)
    parser.add_argument(
        "--eval",
        type=Path,
        help="a folder or zip of images (one sub-folder per class for accuracy); "
        "default: a Shapes model's labelled test split, else the sample photos and their views",
    )
    add_field_option(parser, RunParams, "methods")
    add_field_option(parser, RunParams, "drift_images")
    add_field_option(parser, RunParams, "augmentations")
    add_field_option(parser, RunParams, "shapes_test_images")
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    parser.add_argument("--save", type=Path, help="write the variant's file (.onnx/.safetensors)")
    parser.set_defaults(run=_compress)


def _with_interval(share: float, interval: list[float]) -> str:
    """87.5 % (95 % CI 79.4–92.6 %)."""
    return f"{share:.1%} (95 % CI {interval[0]:.1%}–{interval[1]:.1%})"


def _row(row: VariantReport) -> str:
    drift = ", ".join(f"{m} {v:.3f}" for m, v in row.explanation_drift.items()) or "—"
    accuracy = (
        "—"
        if row.accuracy is None or row.accuracy_interval is None
        else _with_interval(row.accuracy, row.accuracy_interval)
    )
    recovery = ""
    if row.recovery is not None:
        recovery = (
            f"; recovery {row.recovery.agreement_before:.1%} -> {row.recovery.agreement_after:.1%}"
        )
    return (
        f"{row.name}: {row.size_bytes / 1e6:.2f} MB, {row.nonzero_parameters:,}/"
        f"{row.parameters:,} non-zero, {row.latency_ms['batch1']:.1f} ms (batch 1), "
        f"{row.latency_ms['batch8']:.1f} ms (batch 8), agreement "
        f"{_with_interval(row.top1_agreement, row.top1_agreement_interval)}, "
        f"KL {row.kl_divergence:.4f}, accuracy {accuracy}, drift ρ: {drift}{recovery}"
        f" [{row.engine}]"
    )


def _run_params(args: argparse.Namespace) -> RunParams:
    """The run's parameters: one variant, and the options given (RunParams' defaults else)."""
    given: dict[str, Any] = {
        "variants": [VariantRequest(recipe=args.recipe, params=dict(args.param))]
    }
    if args.methods is not None:
        given["methods"] = [m.strip() for m in args.methods.split(",") if m.strip()]
    for name in ("drift_images", "augmentations", "shapes_test_images"):
        if getattr(args, name) is not None:
            given[name] = getattr(args, name)
    return parse_params(RunParams, given, "compress")


def _compress(args: argparse.Namespace) -> None:
    settings = settings_of(args)
    recipe = RECIPES.get(args.recipe)
    params = parse_params(recipe.Params, dict(args.param), args.recipe)
    run_params = _run_params(args)
    model = load_model(
        args.model or settings.default_model, settings, weights=args.weights, labels=args.labels
    )
    limits = settings.max_image_bytes, settings.max_image_pixels
    if args.eval is None:
        evaluation = default_evaluation_set(model, run_params)
    else:
        if args.eval.is_file() and args.eval.suffix.lower() == ".zip":
            sources, source = zip_sources(args.eval.read_bytes(), *limits), str(args.eval)
        elif args.eval.is_dir():
            sources, source = folder_sources(args.eval, *limits), str(args.eval)
        else:
            raise BadParameter(f"--eval {args.eval}: expected a folder or a .zip of images")
        evaluation = build_evaluation_set(
            model, sources, source, run_params.augmentations, run_params.calibration_augmentations
        )
    with progress_to(f"compress ({args.recipe})") as progress:
        run = run_comparison(settings, model, run_params, evaluation, None, progress)
    original, variant = run.rows
    print(_row(original))
    print(_row(variant))
    if variant.gradient_note:
        print(f"note: {variant.gradient_note}")
    for warning in variant.warnings:
        print(f"warning: {warning}")
    report = {
        "run": run.id,
        "model": run.model,
        "machine": run.machine,
        "recipe": args.recipe,
        "params": params.model_dump(mode="json"),
        "evaluation": dataclasses.asdict(run.evaluation),
        "original": dataclasses.asdict(original),
        "variant": dataclasses.asdict(variant),
    }
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
        print(f"wrote {args.out}")
    if args.save:
        args.save.write_bytes(run_file(settings, run.id, variant.file).read_bytes())
        print(f"wrote {args.save} ({variant.artifact_format})")
