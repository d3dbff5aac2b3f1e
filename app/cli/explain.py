"""`lantern explain` (one method) and `lantern panel` (several methods and attacks sharing one
gradient pass) on one image."""

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from app.attacks import ATTACKS
from app.cli._commands import add_command
from app.cli._options import Commands, add_image_options, load_image_and_model, target_of, write
from app.cli._progress import progress_to
from app.errors import BadParameter
from app.explain import METHODS, explain
from app.imaging import pixels_to_image, render_overlay
from app.panel import run_panel
from app.zoo import LoadedModel

__all__ = ["register"]


def register(commands: Commands) -> None:
    parser = add_command(commands, "explain")
    add_image_options(parser, "a method parameter (repeatable; see `lantern methods`)")
    parser.add_argument("--png", type=Path, help="write a picture of the result")
    parser.add_argument("--method", required=True, choices=METHODS.names())
    parser.add_argument("--out", type=Path, help="write the result as .npz")
    parser.set_defaults(run=_explain)

    panel = add_command(commands, "panel")
    add_image_options(panel, "METHOD.KEY=VALUE, a parameter of one method or attack (repeatable)")
    panel.add_argument(
        "--methods",
        nargs="+",
        choices=METHODS.names(),
        default=[method.name for method in METHODS if method.in_default_panel],
        help="default: the dashboard's default panel",
    )
    panel.add_argument("--attacks", nargs="*", choices=ATTACKS.names(), default=[])
    panel.add_argument("--png-dir", type=Path, help="write each map (and attack) as NAME.png here")
    panel.set_defaults(run=_panel)


def _top(model: LoadedModel, probs: np.ndarray, count: int = 5) -> str:
    order = np.argsort(probs)[::-1][:count]
    return "\n".join(f"  {index:>5}  {probs[index]:6.3f}  {model.labels[index]}" for index in order)


def _explain(args: argparse.Namespace) -> None:
    model, pixels = load_image_and_model(args)
    target = target_of(model, args.target)
    with progress_to(args.method) as progress:
        result = explain(model, pixels, args.method, target, dict(args.param), progress)
    # Files first, so a closed stdout (`| head`) cannot lose the result.
    if args.out:
        write(args.out, lambda path: np.savez_compressed(path, **result.npz_arrays()))
    if args.png:
        picture = render_overlay(result.input, result.attribution, signed=result.signed)
        write(args.png, lambda path: picture.save(path, format="PNG"))
    print(f"{model.name} · {result.method} · {result.device} · {result.seconds:.2f} s")
    print(
        f"explaining class {result.target} ({result.target_label}), "
        f"p = {result.probs[result.target]:.3f}; top 5:"
    )
    print(_top(model, result.probs))
    print(f"parameters: {json.dumps(result.params)}")
    for warning in result.warnings:
        print(f"warning: {warning}")
    for path in (args.out, args.png):
        if path:
            print(f"wrote {path}")


def _panel_params(pairs: list[tuple[str, str]]) -> dict[str, dict[str, str]]:
    """METHOD.KEY=VALUE pairs -> {method: {key: value}}."""
    params: dict[str, dict[str, str]] = {}
    for key, value in pairs:
        method, dot, name = key.partition(".")
        if not dot or not name:
            raise BadParameter(
                f"panel parameters are METHOD.KEY=VALUE (e.g. occlusion.window=16), not {key}"
            )
        params.setdefault(method, {})[name] = value
    return params


def _panel(args: argparse.Namespace) -> None:
    model, pixels = load_image_and_model(args)
    params = _panel_params(args.param)
    unknown = set(params) - set(args.methods) - set(args.attacks)
    if unknown:
        raise BadParameter(
            f"parameters for {', '.join(sorted(unknown))}, which this panel does not run"
        )
    result = run_panel(
        model, pixels, args.methods, args.attacks, target_of(model, args.target), params
    )
    pictures: dict[str, Image.Image] = {
        name: render_overlay(item.input, item.attribution, signed=item.signed)
        for name, item in result.explanations.items()
    }
    pictures |= {name: pixels_to_image(item.adversarial) for name, item in result.attacks.items()}
    written: list[Path] = []
    if args.png_dir:
        write(args.png_dir, lambda path: path.mkdir(parents=True, exist_ok=True))
        for name, picture in pictures.items():
            path = args.png_dir / f"{name}.png"
            write(path, picture.save)
            written.append(path)
    first = next(iter(result.explanations.values()), None)
    print(
        f"{model.name} · {len(result.explanations)} maps, {len(result.attacks)} attacks"
        f" · {result.seconds:.2f} s"
    )
    if first is not None:
        print(
            f"explaining class {first.target} ({first.target_label}),"
            f" p = {first.probs[first.target]:.3f}"
        )
    shared = ", ".join(result.shared) or "none"
    print(f"one shared gradient pass: {shared}")
    for name, explanation in result.explanations.items():
        print(f"  {name:<22} {explanation.seconds:6.2f} s  {explanation.engine}")
        for warning in explanation.warnings:
            print(f"    warning: {warning}")
    for name, attacked in result.attacks.items():
        after = attacked.label_after
        print(f"  {name:<22} {attacked.seconds:6.2f} s  -> {after} {model.labels[after]}")
    for path in written:
        print(f"wrote {path}")
