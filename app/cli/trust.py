"""`lantern sanity` (does the map depend on the weights?) and `lantern faithfulness` (do the
pixels it ranks first matter to the model?) for one method on one image."""

import argparse
import json
from pathlib import Path

import numpy as np

from app.cli._commands import add_command
from app.cli._options import (
    Commands,
    add_image_options,
    add_signature_option,
    load_image_and_model,
    settings_of,
    target_of,
    write,
)
from app.cli._progress import progress_to
from app.explain import METHODS
from app.imaging import pixels_to_image
from app.imaging.overlay import scale_map
from app.trust import METRICS, data_randomization_test, faithfulness, randomization_test
from app.zoo import LAB_PREFIX, LoadedModel, load_model

__all__ = ["register"]

_PARAM_HELP = "a method parameter (repeatable; see `lantern methods`)"


def register(commands: Commands) -> None:
    sanity = add_command(commands, "sanity")
    add_image_options(sanity, _PARAM_HELP)
    sanity.add_argument(
        "--png", type=Path, help="write the original map and each randomised one, side by side"
    )
    sanity.add_argument("--method", required=True, choices=METHODS.names())
    add_signature_option(
        sanity, randomization_test, "mode", "layers randomised together or one at a time"
    )
    add_signature_option(sanity, randomization_test, "steps", "points of the cascade (2 to 100)")
    add_signature_option(sanity, randomization_test, "seed", "seed of the new weights")
    sanity.add_argument("--out", type=Path, help="write the similarities per layer as JSON")
    sanity.add_argument(
        "--random-labels-weights",
        type=Path,
        help="also the data randomisation test: weights of the same architecture trained on "
        "randomly permuted labels (for shapes/student: the Shapes lab's random_labels experiment "
        "writes DATA_DIR/shapes/random-labels.safetensors)",
    )
    sanity.set_defaults(run=_sanity)

    faithful = add_command(commands, "faithfulness")
    add_image_options(faithful, _PARAM_HELP)
    faithful.add_argument("--method", required=True, choices=METHODS.names())
    add_signature_option(faithful, faithfulness, "steps", "points per curve - 1")
    add_signature_option(faithful, faithfulness, "seed", "seed of the random map")
    add_signature_option(faithful, faithfulness, "deletion_baseline", "removed pixels become")
    add_signature_option(faithful, faithfulness, "insertion_baseline", "insertion starts from")
    faithful.add_argument("--out", type=Path, help="write the curves and AUCs as JSON")
    faithful.set_defaults(run=_faithfulness)


def _sanity(args: argparse.Namespace) -> None:
    model, pixels = load_image_and_model(args)
    target = target_of(model, args.target)
    # Loaded first: weights that don't fit fail before minutes of randomisation.
    other = _random_labels_model(model, args) if args.random_labels_weights else None
    with progress_to(f"sanity of {args.method}") as progress:
        result = randomization_test(
            model,
            pixels,
            args.method,
            target,
            dict(args.param),
            args.mode,
            args.steps,
            args.seed,
            progress,
        )
    summary = result.summary()
    if other is not None:
        data = data_randomization_test(model, other, pixels, args.method, target, dict(args.param))
        summary["data_randomization"] = data
    if args.out:
        write(args.out, lambda path: path.write_text(json.dumps(summary, indent=2)))
    if args.png:
        maps = [result.original, *result.maps]
        strip = np.concatenate([scale_map(np.abs(m), signed=False) for m in maps], axis=1)
        picture = pixels_to_image(np.repeat(strip[None], 3, axis=0))
        write(args.png, lambda path: picture.save(path, format="PNG"))
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
    if summary.get("data_randomization") is not None:  # summary() keeps the key, None
        values = summary["data_randomization"]["similarity"]
        print(
            "against the model trained on random labels: "
            + ", ".join(f"{metric} {values[metric]:.3f}" for metric in METRICS)
        )


def _random_labels_model(model: LoadedModel, args: argparse.Namespace) -> LoadedModel:
    """`model`'s architecture with the --random-labels-weights (a Shapes lab model: its own
    network with them, e.g. data_dir/shapes/random-labels.safetensors for shapes/student)."""
    settings = settings_of(args)
    if model.name.startswith(LAB_PREFIX):
        from app.shapes.random_labels import load_random_labels_weights

        return load_random_labels_weights(settings, model, args.random_labels_weights)
    return load_model(model.name, settings, weights=args.random_labels_weights)


def _faithfulness(args: argparse.Namespace) -> None:
    model, pixels = load_image_and_model(args)
    target = target_of(model, args.target)
    with progress_to(f"faithfulness of {args.method}") as progress:
        result = faithfulness(
            model,
            pixels,
            args.method,
            target,
            dict(args.param),
            steps=args.steps,
            deletion_baseline=args.deletion_baseline,
            insertion_baseline=args.insertion_baseline,
            seed=args.seed,
            progress=progress,
        )
    summary = result.summary()
    if args.out:
        write(args.out, lambda path: path.write_text(json.dumps(summary, indent=2)))
    print(f"{model.name} · {result.method} · class {result.target} · {result.seconds:.1f} s")
    print("                  deletion AUC (lower is better)   insertion AUC (higher is better)")
    print(f"  {result.method:16s}{summary['deletion_auc']:14.3f}{summary['insertion_auc']:34.3f}")
    print(
        f"  {'random map':16s}{summary['random_deletion_auc']:14.3f}"
        f"{summary['random_insertion_auc']:34.3f}"
    )
