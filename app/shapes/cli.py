"""`lantern shapes generate | train | distill | fewshot | evaluate`: the Shapes lab from a shell.

Models and JSON reports go to `LANTERN_DATA_DIR/shapes/`; each command prints its table.
"""

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from app.params import parse_params
from app.settings import Settings
from app.shapes import lab
from app.shapes.dataset import ShapesDataset, export_folder
from app.zoo import load_model

__all__ = ["add_shapes_parser", "run_shapes"]

_PARAMS: dict[str, type[BaseModel]] = {
    "train": lab.TransferParams,
    "distill": lab.DistillLabParams,
    "fewshot": lab.FewShotParams,
    "evaluate": lab.EvaluateParams,
}


def add_shapes_parser(
    commands: Any, parse_param: Callable[[str], tuple[str, str]]
) -> argparse.ArgumentParser:
    shapes = commands.add_parser("shapes", help="the Shapes lab: a generated dataset with masks")
    actions = shapes.add_subparsers(dest="action", required=True, metavar="ACTION")
    generate = actions.add_parser("generate", help="write Shapes images and masks to a folder")
    generate.add_argument(
        "--out", type=Path, required=True, help="folder (one sub-folder per class)"
    )
    generate.add_argument("--count", type=int, default=100)
    generate.add_argument("--size", type=int, default=lab.SIZE)
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--cue", choices=["random", "aligned", "swapped"], default="random")
    helps = {
        "train": "fine-tune the default model on Shapes (head, last blocks, all) vs from scratch",
        "distill": "train a small student from the teacher's soft targets, and from labels",
        "fewshot": "k-nearest neighbours on pretrained features from a few examples per class",
        "evaluate": "pointing game and mass inside the mask for each method, and cue conflict",
    }
    for action, text in helps.items():
        sub = actions.add_parser(action, help=text)
        sub.add_argument(
            "--param",
            action="append",
            type=parse_param,
            default=[],
            metavar="KEY=VALUE",
            help="a parameter (repeatable; lists comma-separated): "
            + ", ".join(_PARAMS[action].model_fields),
        )
        sub.add_argument("--device", choices=["auto", "cpu", "cuda"], help="default: auto")
    return shapes


def _params(action: str, pairs: list[tuple[str, str]]) -> Any:
    model = _PARAMS[action]
    values: dict[str, Any] = {}
    for key, value in pairs:
        field = model.model_fields.get(key)
        is_list = field is not None and "list" in str(field.annotation)
        values[key] = (
            [item.strip() for item in value.split(",") if item.strip()] if is_list else value
        )
    return parse_params(model, values, f"shapes {action}")


def _percent(value: float) -> str:
    return f"{100 * value:5.1f} %"


def run_shapes(args: argparse.Namespace, settings: Settings) -> None:
    if args.action == "generate":
        if not 8 <= args.size <= 1024 or not 1 <= args.count <= 100_000:
            from app.errors import BadParameter

            raise BadParameter("--size must be 8 to 1024 and --count 1 to 100000")
        dataset = ShapesDataset(args.count, args.size, args.seed, args.cue)
        folder = export_folder(dataset, args.out)
        print(f"{args.count} images with masks in {folder}")
        return
    params = _params(args.action, args.param)
    where = (
        settings.data_dir
        / "shapes"
        / f"{'transfer' if args.action == 'train' else args.action}.json"
    )
    if args.action == "train":
        report = lab.transfer(settings, params)
        print(f"Transfer learning on Shapes ({lab.SIZE}×{lab.SIZE}), {report.seconds:.0f} s")
        print("  run            trainable params   validation     test    seconds")
        for run in report.runs:
            print(
                f"  {run.mode:12s} {run.trainable_parameters:>12,d}      "
                f"{_percent(run.validation_accuracy)}  {_percent(run.test_accuracy)}  "
                f"{run.seconds:8.1f}"
            )
        print(f"teacher: {report.teacher} (saved as shapes/teacher)")
    elif args.action == "distill":
        distilled = lab.distill(settings, params)
        print("  model                   test acc   parameters       bytes   latency (batch 1)")
        for facts in (distilled.teacher, distilled.distilled, distilled.from_labels):
            print(
                f"  {facts.name:22s} {_percent(facts.test_accuracy)} {facts.parameters:>12,d}"
                f" {facts.size_bytes:>11,d}   {facts.latency_ms:.2f} ms"
            )
    elif args.action == "fewshot":
        model = load_model(settings.default_model, settings)
        few = lab.fewshot(settings, model, params)
        print(
            f"{params.shots}-shot, k = {params.k}, on {model.name}'s features: "
            f"test accuracy {_percent(few.test_accuracy)} ({few.seconds:.1f} s)"
        )
    else:
        evaluated = lab.evaluate(settings, params)
        for scores in evaluated.models:
            conflict = scores.cue_conflict
            print(
                f"{scores.model}: on cue-conflict images follows the shape "
                f"{_percent(conflict.follows_shape)}, "
                f"the texture {_percent(conflict.follows_texture)}"
            )
            print("  method              pointing game   mass inside   (uniform map)")
            for score in scores.methods:
                print(
                    f"  {score.method:20s} {_percent(score.pointing_game)}      "
                    f"{_percent(score.mass_inside)}     {_percent(score.area_share)}"
                )
    print(f"report: {where}")
