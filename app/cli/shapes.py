"""`lantern shapes generate | EXPERIMENT`: the Shapes lab from a shell, one command per
registered experiment (transfer, distill, evaluate, fewshot, ...).

Models and JSON reports go to `LANTERN_DATA_DIR/shapes/`; each command prints its table.
"""

import argparse
from functools import singledispatch
from pathlib import Path
from typing import Any, cast, get_args

from app.cli._commands import add_command
from app.cli._options import Commands, add_device, add_param, settings_of
from app.cli._progress import progress_to
from app.errors import BadParameter
from app.params import parse_params
from app.settings import Settings
from app.shapes import EXPERIMENTS, SIZE, Experiment
from app.shapes.calibration_experiment import CalibrationReport
from app.shapes.dataset import Cue, ShapesDataset, export_folder
from app.shapes.distill import DistillReport
from app.shapes.distill_transfer import DistillTransferReport
from app.shapes.evaluate import EvaluateReport
from app.shapes.fewshot_experiment import FewShotReport
from app.shapes.random_labels import RandomLabelsReport
from app.shapes.robustness import NoiseRobustnessReport
from app.shapes.seeds import Spread
from app.shapes.storage import report_path
from app.shapes.transfer import TransferReport
from app.zoo import LoadedModel, load_model

__all__ = ["register"]

_RENAMED = {"train": "transfer"}  # old command -> its experiment's name


def register(commands: Commands) -> None:
    shapes = add_command(commands, "shapes")
    actions = shapes.add_subparsers(dest="action", required=True, metavar="ACTION")
    generate = actions.add_parser("generate", help="write Shapes images and masks to a folder")
    generate.add_argument(
        "--out", type=Path, required=True, help="folder (one sub-folder per class)"
    )
    generate.add_argument("--count", type=int, default=100)
    generate.add_argument("--size", type=int, default=SIZE)
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--cue", choices=get_args(Cue), default="random")
    generate.set_defaults(run=_generate)
    for experiment in EXPERIMENTS:
        sub = actions.add_parser(experiment.name, help=experiment.description)
        add_param(
            sub,
            "a parameter (repeatable; lists comma-separated): "
            + ", ".join(experiment.Params.model_fields),
        )
        add_device(sub)
        sub.set_defaults(run=_run_experiment)
    for old, new in _RENAMED.items():
        # Not listed in the help; whatever follows the old name, the answer is the new name.
        retired = actions.add_parser(old, add_help=False)
        retired.set_defaults(run=_renamed(old, new), any_arguments=True)


def _renamed(old: str, new: str) -> Any:
    def refuse(args: argparse.Namespace) -> None:
        raise BadParameter(f"`lantern shapes {old}` is now `lantern shapes {new}`")

    return refuse


def _generate(args: argparse.Namespace) -> None:
    if not 8 <= args.size <= 1024 or not 1 <= args.count <= 100_000:
        raise BadParameter("--size must be 8 to 1024 and --count 1 to 100000")
    dataset = ShapesDataset(args.count, args.size, args.seed, args.cue)
    folder = export_folder(dataset, args.out)
    print(f"{args.count} images with masks in {folder}")


def _params(experiment: Experiment, pairs: list[tuple[str, str]]) -> Any:
    """KEY=VALUE pairs as the experiment's Params; a list field is given comma-separated."""
    fields = experiment.Params.model_fields
    values: dict[str, Any] = {}
    for key, value in pairs:
        field = fields.get(key)
        is_list = field is not None and "list" in str(field.annotation)
        values[key] = (
            [item.strip() for item in value.split(",") if item.strip()] if is_list else value
        )
    return parse_params(experiment.Params, values, f"shapes {experiment.name}")


class _DefaultModel:
    """The default model, loaded when an experiment first reads it: `run` takes the server's
    default model, which only some experiments use (few-shot's features), and loading it costs
    seconds that the others should not pay."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._model: LoadedModel | None = None

    def __getattr__(self, name: str) -> Any:
        if self._model is None:
            self._model = load_model(self._settings.default_model, self._settings)
        return getattr(self._model, name)


def _run_experiment(args: argparse.Namespace) -> None:
    experiment = EXPERIMENTS.get(args.action)
    params = _params(experiment, args.param)
    settings = settings_of(args)
    model = cast(LoadedModel, _DefaultModel(settings))
    with progress_to(experiment.name) as progress:
        report = experiment.run(settings, params, model, progress)
    _print_report(report)
    print(f"report: {report_path(settings, experiment.name)}")


def _percent(value: float) -> str:
    return f"{100 * value:5.1f} %"


@singledispatch
def _print_report(report: object) -> None:
    """The report as a table (an experiment without one here: only the report's path)."""


@_print_report.register
def _(report: TransferReport) -> None:
    print(f"Transfer learning on Shapes ({SIZE}×{SIZE}), {report.seconds:.0f} s")
    print("  run            trainable params   validation     test    seconds")
    for run in report.runs:
        print(
            f"  {run.mode:12s} {run.trainable_parameters:>12,d}      "
            f"{_percent(run.validation_accuracy)}  {_percent(run.test_accuracy)}  "
            f"{run.seconds:8.1f}"
        )
    print(f"teacher: {report.teacher} (saved as shapes/teacher)")


@_print_report.register
def _(report: DistillReport) -> None:
    print("  model                   test acc   parameters       bytes   latency (batch 1)")
    for facts in (report.teacher, report.distilled, report.from_labels):
        print(
            f"  {facts.name:22s} {_percent(facts.test_accuracy)} {facts.parameters:>12,d}"
            f" {facts.size_bytes:>11,d}   {facts.latency_ms:.2f} ms"
        )


def _spread(value: Spread) -> str:
    """Mean ± sd over seeds, in percent (or percentage points)."""
    return f"{100 * value.mean:5.1f} ± {100 * value.sd:4.1f}"


@_print_report.register
def _(report: DistillTransferReport) -> None:
    print(f"teacher: test accuracy {_percent(report.teacher_accuracy)}; seeds {report.seeds}")
    print("  student" + " " * 58 + "images/epoch  epochs  test acc % (mean ± sd)")
    for arm in report.arms:
        print(
            f"  {arm.title:64s} {arm.images_per_epoch:>12,d}  {arm.epochs:>6d}"
            f"   {_spread(arm.test_accuracy)}"
        )
    print(f"transfer set minus labels only, paired by seed: {_spread(report.gain)} points")
    if report.gain_over_same_steps is not None:
        same = _spread(report.gain_over_same_steps)
        print(f"transfer set minus labels only with as many steps: {same} points")


@_print_report.register
def _(report: NoiseRobustnessReport) -> None:
    print("Attack success rate, % (mean ± sd over seeds), per ε:")
    header = "".join(f"{f'{round(255 * e)}/255':>14s}" for e in report.epsilons)
    print(f"  {'model':16s} {'attack':6s} {'clean acc %':>13s}{header}")
    for run in report.runs:
        for curve in run.curves:
            rates = "".join(f"{_spread(rate):>14s}" for rate in curve.success_rate)
            print(f"  {run.name:16s} {curve.attack:6s} {_spread(run.clean_accuracy):>13s}{rates}")


@_print_report.register
def _(report: FewShotReport) -> None:
    print(
        f"{report.params['shots']}-shot, k = {report.params['k']}, on {report.model}'s features: "
        f"test accuracy {_percent(report.test_accuracy)} ({report.seconds:.1f} s)"
    )


@_print_report.register
def _(report: EvaluateReport) -> None:
    for scores in report.models:
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


@_print_report.register
def _(report: CalibrationReport) -> None:
    smoothing = report.params["label_smoothing"]
    print("  student                      test acc % (mean ± sd)   ECE % (15 bins)")
    for kind, title in (("plain", "labels (control)"), ("smoothed", f"smoothing ε = {smoothing}")):
        accuracy, ece = _spread(report.test_accuracy[kind]), _spread(report.ece[kind])
        print(f"  {title:28s} {accuracy:>16s}   {ece}")
    heads = "".join(f"{f'T = {t:g}':>9s}" for t in report.temperatures)
    print(f"  mean entropy (nats)   {heads}")
    for run in report.runs:
        kind = "smoothed" if run.label_smoothing else "plain"
        print(f"  {kind:9s} seed {run.seed:<6d}" + "".join(f"{v:9.3f}" for v in run.entropy))


@_print_report.register
def _(report: RandomLabelsReport) -> None:
    print(f"  student (chance {100 * report.chance:.0f} %)        train acc %     test acc %")
    print(
        f"  {'random labels':28s} {_spread(report.train_accuracy)}   "
        f"{_spread(report.test_accuracy)}"
    )
    print(
        f"  {'true labels (control)':28s} {_spread(report.control_train_accuracy)}   "
        f"{_spread(report.control_test_accuracy)}"
    )
    print("  method                rank r of |map| to the bogus model's   to another honest one's")
    for row in report.methods:
        other = f"{row.to_other_seed['spearman_abs']:.2f}" if row.to_other_seed else "—"
        print(f"  {row.method:22s}{row.to_random_labels['spearman_abs']:>10.2f}{other:>30s}")
    print(f"bogus model: {report.model}")
