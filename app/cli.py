"""`lantern serve | explain | attack | compress | ...`: the product, as commands.

Bad input ends with one line on stderr and exit code 2; never a traceback (unless --debug).
"""

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from pydantic import ValidationError

from app.attacks import ATTACKS, attack
from app.compress.cli import add_compress_parser, run_compress
from app.errors import BadParameter, LanternError
from app.explain import METHODS, explain
from app.explain.exact_shapley import LECTURE_GAME, LECTURE_PLAYERS, shapley_values
from app.imaging import amplify, pixels_to_image, read_image, render_overlay, sample_image
from app.imaging.overlay import scale_map
from app.panel import run_panel
from app.registry import Registry
from app.settings import Settings, get_settings
from app.shapes.cli import add_shapes_parser, run_shapes
from app.trust import METRICS, data_randomization_test, faithfulness, randomization_test
from app.zoo import MODELS, LoadedModel, get_spec, load_model

__all__ = ["main"]

_BAD_INPUT = 2
_INTERNAL = 1
_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports
_PICTURE = "write a picture of the result"


def _parse_param(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    return key.strip(), value.strip()


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lantern",
        description="See what an image classifier looks at, and how it can be fooled.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="start the web dashboard")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument("--model", help="model loaded at start-up (see `lantern models`)")
    serve.add_argument("--device", choices=["auto", "cpu", "cuda"], help="default: auto")
    commands.add_parser("models", help="list the models and where their weights come from")
    commands.add_parser("methods", help="list explanation methods and attacks with parameters")
    commands.add_parser("shapley", help="exact Shapley values of the lecture's three-person game")

    def add_common(sub: argparse.ArgumentParser, png: str = _PICTURE) -> None:
        sub.add_argument("image", help="an image file, or sample:NAME (chelsea, coffee, ...)")
        sub.add_argument("--model", help="model name (see `lantern models`)")
        sub.add_argument("--weights", type=Path, help="your own weights for that architecture")
        sub.add_argument("--labels", type=Path, help="class names, one per line")
        sub.add_argument("--device", choices=["auto", "cpu", "cuda"], help="default: auto")
        sub.add_argument("--target", help="class index or exact class name")
        sub.add_argument(
            "--param",
            action="append",
            type=_parse_param,
            default=[],
            metavar="KEY=VALUE",
            help="a method parameter (repeatable; see `lantern methods`)",
        )
        if png:
            sub.add_argument("--png", type=Path, help=png)

    explain = commands.add_parser("explain", help="explain one class of the prediction")
    add_common(explain)
    explain.add_argument("--method", required=True, choices=METHODS.names())
    explain.add_argument("--out", type=Path, help="write the result as .npz")

    panel = commands.add_parser(
        "panel", help="several methods (and attacks) on one image, sharing the gradient pass"
    )
    add_common(panel, png="")
    panel.add_argument(
        "--methods",
        nargs="+",
        choices=METHODS.names(),
        default=[method.name for method in METHODS if method.in_default_panel],
        help="default: the dashboard's default panel",
    )
    panel.add_argument("--attacks", nargs="*", choices=ATTACKS.names(), default=[])
    panel.add_argument("--png-dir", type=Path, help="write each map (and attack) as NAME.png here")

    attack = commands.add_parser("attack", help="perturb the image to change the prediction")
    add_common(attack)
    attack.add_argument("--method", required=True, choices=ATTACKS.names())
    attack.add_argument("--epsilon", type=float, required=True, help="L∞ budget in [0, 1] pixels")
    attack.add_argument("--out", type=Path, required=True, help="write the result as .npz")

    sanity = commands.add_parser(
        "sanity", help="does the map change when the model's weights are randomised?"
    )
    add_common(sanity, png="write the original map and each randomised one, side by side")
    sanity.add_argument("--method", required=True, choices=METHODS.names())
    sanity.add_argument("--mode", choices=["cascading", "independent"], default="cascading")
    sanity.add_argument("--steps", type=int, default=8, help="points of the cascade (2 to 100)")
    sanity.add_argument("--seed", type=int, default=0)
    sanity.add_argument("--out", type=Path, help="write the similarities per layer as JSON")
    sanity.add_argument(
        "--random-labels-weights",
        type=Path,
        help="also the data randomisation test: weights of the same architecture trained on "
        "randomly permuted labels",
    )

    faithful = commands.add_parser(
        "faithfulness", help="deletion and insertion curves of the map, against a random map"
    )
    add_common(faithful, png="")
    faithful.add_argument("--method", required=True, choices=METHODS.names())
    faithful.add_argument("--steps", type=int, default=32, help="points per curve - 1")
    faithful.add_argument("--seed", type=int, default=0, help="seed of the random map")
    baselines = ["black", "white", "mean", "blur"]
    faithful.add_argument(
        "--deletion-baseline", choices=baselines, default="black", help="removed pixels become"
    )
    faithful.add_argument(
        "--insertion-baseline", choices=baselines, default="blur", help="insertion starts from"
    )
    faithful.add_argument("--out", type=Path, help="write the curves and AUCs as JSON")
    add_shapes_parser(commands, _parse_param)
    add_compress_parser(commands, _parse_param)
    return parser


def _describe(error: ValidationError, name: Callable[[str], str]) -> str:
    """One line per bad setting, named as the user set it (`name(field)`)."""
    return "; ".join(
        f"{name(str(issue['loc'][0]))}: {issue['msg'].removeprefix('Value error, ')}"
        for issue in error.errors()
    )


def _settings(args: argparse.Namespace) -> Settings:
    try:
        settings = get_settings()
    except ValidationError as error:
        raise BadParameter(_describe(error, lambda field: f"LANTERN_{field.upper()}")) from None
    device = getattr(args, "device", None)
    if device:
        try:
            settings = Settings(**{**settings.model_dump(), "device": device})
        except ValidationError as error:
            raise BadParameter(_describe(error, lambda field: f"--{field}")) from None
    return settings


def _load(args: argparse.Namespace) -> tuple[LoadedModel, torch.Tensor]:
    """(model, (3, H, W) pixels as the model sees them)."""
    settings = _settings(args)
    if args.image.startswith("sample:"):
        image = sample_image(args.image.removeprefix("sample:"))
    else:
        image = read_image(Path(args.image), settings.max_image_bytes, settings.max_image_pixels)
    model = load_model(
        args.model or settings.default_model, settings, weights=args.weights, labels=args.labels
    )
    return model, model.preprocessing.model_view(image)


def _target(model: LoadedModel, text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    matches = [index for index, label in enumerate(model.labels) if label.lower() == text.lower()]
    if not matches:
        raise BadParameter(f"no class named {text!r}; give a class index or an exact class name")
    return matches[0]


def _top(model: LoadedModel, probs: np.ndarray, count: int = 5) -> str:
    order = np.argsort(probs)[::-1][:count]
    return "\n".join(f"  {index:>5}  {probs[index]:6.3f}  {model.labels[index]}" for index in order)


def _write(path: Path, write: Callable[[Path], object]) -> None:
    try:
        write(path)
    except OSError as error:
        raise BadParameter(f"cannot write {path}: {error.strerror or error}") from None


def _explain(args: argparse.Namespace) -> None:
    model, pixels = _load(args)
    result = explain(model, pixels, args.method, _target(model, args.target), dict(args.param))
    # Files first, so a closed stdout (`| head`) cannot lose the result.
    if args.out:
        _write(args.out, lambda path: np.savez_compressed(path, **result.npz_arrays()))
    if args.png:
        picture = render_overlay(result.input, result.attribution, signed=result.signed)
        _write(args.png, lambda path: picture.save(path, format="PNG"))
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
    model, pixels = _load(args)
    params = _panel_params(args.param)
    unknown = set(params) - set(args.methods) - set(args.attacks)
    if unknown:
        raise BadParameter(
            f"parameters for {', '.join(sorted(unknown))}, which this panel does not run"
        )
    result = run_panel(
        model, pixels, args.methods, args.attacks, _target(model, args.target), params
    )
    pictures: dict[str, Image.Image] = {
        name: render_overlay(item.input, item.attribution, signed=item.signed)
        for name, item in result.explanations.items()
    }
    pictures |= {name: pixels_to_image(item.adversarial) for name, item in result.attacks.items()}
    written: list[Path] = []
    if args.png_dir:
        _write(args.png_dir, lambda path: path.mkdir(parents=True, exist_ok=True))
        for name, picture in pictures.items():
            path = args.png_dir / f"{name}.png"
            _write(path, picture.save)
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


def _attack(args: argparse.Namespace) -> None:
    model, pixels = _load(args)
    params = {**dict(args.param), "epsilon": args.epsilon}
    result = attack(model, pixels, args.method, _target(model, args.target), params)
    _write(args.out, lambda path: np.savez_compressed(path, **result.npz_arrays()))
    if args.png:
        amplified, factor = amplify(result.perturbation)
        strip = np.concatenate([result.input, result.adversarial, amplified], axis=2)
        picture = pixels_to_image(strip)
        _write(args.png, lambda path: picture.save(path, format="PNG"))
    before, after = result.label_before, result.label_after
    print(f"{model.name} · {result.method} · ε = {args.epsilon:g} · {result.seconds:.2f} s")
    print(f"before: {before} {model.labels[before]} (p = {result.probs_before[before]:.3f})")
    print(f"after:  {after} {model.labels[after]} (p = {result.probs_after[after]:.3f})")
    print("succeeded" if result.success else "did not succeed")
    print(f"wrote {args.out}")
    if args.png:
        print(f"wrote {args.png} (original | adversarial | perturbation × {factor:.1f})")


def _serve(args: argparse.Namespace) -> None:
    from app.main import serve

    settings = _settings(args)
    if args.model:
        get_spec(args.model)  # an unknown name fails here, with suggestions, not in the server
        settings = settings.model_copy(update={"default_model": args.model})
    if not 0 < args.port < 65536:
        raise BadParameter(f"--port: {args.port} is not a port number (1 to 65535)")
    print(f"Lantern: http://{args.host}:{args.port}/  (model {settings.default_model})")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    serve(settings, args.host, args.port)


def _sanity(args: argparse.Namespace) -> None:
    model, pixels = _load(args)
    result = randomization_test(
        model,
        pixels,
        args.method,
        _target(model, args.target),
        dict(args.param),
        args.mode,
        args.steps,
        args.seed,
    )
    summary = result.summary()
    if args.random_labels_weights:
        settings = _settings(args)
        other = load_model(model.name, settings, weights=args.random_labels_weights)
        target = _target(model, args.target)
        data = data_randomization_test(model, other, pixels, args.method, target, dict(args.param))
        summary["data_randomization"] = data
    if args.out:
        _write(args.out, lambda path: path.write_text(json.dumps(summary, indent=2)))
    if args.png:
        maps = [result.original, *result.maps]
        strip = np.concatenate([scale_map(np.abs(m), signed=False) for m in maps], axis=1)
        picture = pixels_to_image(np.repeat(strip[None], 3, axis=0))
        _write(args.png, lambda path: picture.save(path, format="PNG"))
    print(f"{model.name} · {result.method} · {result.mode} randomisation · {result.seconds:.1f} s")
    print("  randomised to     rank |r|   rank r    SSIM    HOG")
    for index, layer in enumerate(result.steps):
        values = [result.similarity[metric][index] for metric in METRICS]
        print(f"  {layer:16s}" + "".join(f"{value:9.3f}" for value in values))
    verdict = "passes" if result.passes else "fails"
    print(
        f"mean rank correlation {result.mean_rank_correlation:.3f}: {verdict} "
        f"(passes below {result.threshold})"
    )
    if "data_randomization" in summary:
        values = summary["data_randomization"]["similarity"]
        print(
            "against the model trained on random labels: "
            + ", ".join(f"{metric} {values[metric]:.3f}" for metric in METRICS)
        )


def _faithfulness(args: argparse.Namespace) -> None:
    model, pixels = _load(args)
    result = faithfulness(
        model,
        pixels,
        args.method,
        _target(model, args.target),
        dict(args.param),
        steps=args.steps,
        deletion_baseline=args.deletion_baseline,
        insertion_baseline=args.insertion_baseline,
        seed=args.seed,
    )
    summary = result.summary()
    if args.out:
        _write(args.out, lambda path: path.write_text(json.dumps(summary, indent=2)))
    print(f"{model.name} · {result.method} · class {result.target} · {result.seconds:.1f} s")
    print("                  deletion AUC (lower is better)   insertion AUC (higher is better)")
    print(f"  {result.method:16s}{summary['deletion_auc']:14.3f}{summary['insertion_auc']:34.3f}")
    print(
        f"  {'random map':16s}{summary['random_deletion_auc']:14.3f}"
        f"{summary['random_insertion_auc']:34.3f}"
    )


def _models(args: argparse.Namespace) -> None:
    settings = _settings(args)
    for spec in MODELS:
        print(f"{spec.name:32s} {spec.weights_source(settings)}")


def _methods(args: argparse.Namespace) -> None:
    registries: tuple[tuple[str, Registry[Any]], ...] = (("explain", METHODS), ("attack", ATTACKS))
    for kind, registry in registries:
        for item in registry:
            print(f"{kind} {item.name}: {item.title} ({item.reference})")
            for name, field in item.Params.model_fields.items():
                print(f"    {name} = {field.default!r}  {field.description or ''}")


def _shapley(args: argparse.Namespace) -> None:
    for coalition, worth in LECTURE_GAME.items():
        members = " + ".join(player for player in LECTURE_PLAYERS if player in coalition)
        print(f"  v({members}) = {worth:g}")
    for player, value in shapley_values(LECTURE_PLAYERS, LECTURE_GAME).items():
        print(f"{player}: {value:g}")


_COMMANDS = {
    "serve": _serve,
    "shapes": lambda args: run_shapes(args, _settings(args)),
    "compress": lambda args: run_compress(args, _settings(args)),
    "explain": _explain,
    "attack": _attack,
    "panel": _panel,
    "sanity": _sanity,
    "faithfulness": _faithfulness,
    "models": _models,
    "methods": _methods,
    "shapley": _shapley,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        _COMMANDS[args.command](args)
    except LanternError as error:
        if args.debug:
            raise
        print(f"lantern: error: {error}", file=sys.stderr)
        return _BAD_INPUT
    except KeyboardInterrupt:
        print("lantern: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader closed stdout (`lantern ... | head`): stop quietly, as a shell tool would.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return _BROKEN_PIPE
    except Exception as error:  # a bug, not bad input: one line, and --debug for the traceback
        if args.debug:
            raise
        print(
            f"lantern: internal error: {type(error).__name__}: {error} "
            "(run with --debug for the traceback)",
            file=sys.stderr,
        )
        return _INTERNAL
    return 0


if __name__ == "__main__":
    sys.exit(main())
