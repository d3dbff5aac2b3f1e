"""`lantern concepts index | image | tcav`: what layers and channels respond to (app/concepts/).

    lantern concepts index DATA --layer L [--layer L2 ...] [--top 9] [--out DIR] [--model NAME]
    lantern concepts image IMAGE --layer L [--top 5] [--target CLASS] --out x.json
    lantern concepts tcav --concept SET --random SET [--random SET ...] --layer L
                          --target CLASS --out x.json [--inputs DATA] [--count 30]

DATA: a folder, a .zip, `samples` or `shapes:COUNT`; a SET is DATA, `texture:NAME` or
`noise:SEED` (app/concepts/data.py).
"""

import argparse
import json
from pathlib import Path
from typing import Any

import torch

from app.cli._commands import add_command
from app.cli._options import (
    Commands,
    add_device,
    add_model_options,
    load_image_and_model,
    settings_of,
    target_of,
    write,
)
from app.cli._progress import progress_to
from app.errors import BadParameter

__all__ = ["register"]

_DATA = "a folder, a .zip, samples (the sample photos and augmentations) or shapes:COUNT"
_SET = f"{_DATA}, texture:NAME (stripes, dots, waves, …) or noise:SEED"


def register(commands: Commands) -> None:
    concepts = add_command(commands, "concepts")
    actions = concepts.add_subparsers(dest="action", required=True, metavar="ACTION")

    index = actions.add_parser("index", help="top images of every channel of the layers")
    index.add_argument("data", metavar="DATA", help=_DATA)
    index.add_argument("--layer", action="append", required=True, help="a layer (repeatable)")
    index.add_argument("--top", type=int, default=9, help="exemplars per channel (default 9)")
    index.add_argument(
        "--out", type=Path, help="folder for index.json and the crops (default: the server's)"
    )
    add_model_options(index)
    add_device(index)
    index.set_defaults(run=_index)

    image = actions.add_parser("image", help="the channels of a layer carrying one prediction")
    image.add_argument(
        "image", metavar="IMAGE", help="an image file, or sample:NAME (chelsea, coffee, …)"
    )
    add_model_options(image)
    add_device(image)
    image.add_argument("--target", help="class index or exact class name (default: predicted)")
    image.add_argument("--layer", required=True, help="a layer of the model")
    image.add_argument("--top", type=int, default=5, help="channels to list (default 5)")
    image.add_argument("--out", type=Path, required=True, help="JSON file to write")
    image.set_defaults(run=_image)

    tcav = actions.add_parser("tcav", help="TCAV: does a concept drive a class? (t-test)")
    tcav.add_argument("--concept", required=True, help=f"the concept's images: {_SET}")
    tcav.add_argument(
        "--random", action="append", required=True, help=f"a random set (repeatable): {_SET}"
    )
    tcav.add_argument("--layer", action="append", required=True, help="a layer (repeatable)")
    tcav.add_argument("--target", required=True, help="class index or exact class name")
    tcav.add_argument(
        "--inputs",
        default="samples",
        help=f"images scored for the target class: {_DATA} (default samples)",
    )
    tcav.add_argument("--count", type=int, default=30, help="images per set (default 30)")
    tcav.add_argument("--seed", type=int, default=0, help="seed of the CAV classifiers")
    tcav.add_argument("--out", type=Path, required=True, help="JSON file to write")
    add_model_options(tcav)
    add_device(tcav)
    tcav.set_defaults(run=_tcav)


def _model(args: argparse.Namespace) -> Any:
    from app.zoo import load_model

    settings = settings_of(args)
    model = load_model(
        args.model or settings.default_model, settings, weights=args.weights, labels=args.labels
    )
    model.skip_gradient_copy("one command: not worth building")
    return settings, model


def _index(args: argparse.Namespace) -> None:
    from app.concepts.data import reference_images
    from app.concepts.index import build_index, index_folder, write_index

    settings, model = _model(args)
    total, images = reference_images(args.data, model, settings)
    out = args.out or index_folder(settings, model.name)
    with progress_to("concepts index") as progress:
        index = build_index(model, images, args.layer, args.top, progress, total, args.data)
    try:
        path = write_index(index, out)
    except OSError as error:
        raise BadParameter(f"cannot write {out}: {error.strerror or error}") from None
    for layer, entry in index["layers"].items():
        print(f"{layer}: {entry['channels']} channels, read at its {entry['tapped_as']}")
    print(f"{index['images']} images indexed by {model.name}; wrote {path}")


def _image(args: argparse.Namespace) -> None:
    from app.concepts.breakdown import breakdown

    model, pixels = load_image_and_model(args)
    result = breakdown(model, pixels, args.layer, target_of(model, args.target), args.top)
    write(args.out, lambda path: path.write_text(json.dumps(result)))
    print(
        f"{model.name} · {result['layer']} · class {result['class']} ({result['label']}), "
        f"p = {result['probability']:.3f} · {result['method']}"
    )
    for row in result["channels"]:
        print(f"channel {row['channel']:>5}: {row['contribution']:+.4f} ({row['share']:+.1%})")
    print(f"wrote {args.out}")


def _tcav(args: argparse.Namespace) -> None:
    from app.concepts.data import concept_set
    from app.concepts.tcav import ConceptSet, run_tcav

    settings, model = _model(args)
    if not 3 <= args.count <= 500:
        raise BadParameter("--count must be between 3 and 500")
    target = target_of(model, args.target)
    assert target is not None
    concept = ConceptSet(args.concept, concept_set(args.concept, model, settings, args.count))
    randoms = [
        ConceptSet(spec, concept_set(spec, model, settings, args.count)) for spec in args.random
    ]
    inputs = concept_set(args.inputs, model, settings, 500)
    inputs = _of_class(model, inputs, target)
    with progress_to("tcav") as progress:
        result = run_tcav(model, inputs, target, concept, randoms, args.layer, args.seed, progress)
    result["inputs_from"] = args.inputs
    write(args.out, lambda path: path.write_text(json.dumps(result, indent=1)))
    print(
        f"TCAV of {args.concept!r} for class {target} ({result['label']}), "
        f"{result['inputs']} inputs, {len(randoms)} random sets"
    )
    for layer, row in result["layers"].items():
        p = "no test" if row["p"] is None else f"p = {row['p']:.3g}"
        verdict = "significant" if row["significant"] else "not significant"
        print(
            f"{layer}: score {row['score']:.2f} vs random {row['random_mean'] or 0:.2f}, "
            f"{p} ({verdict})"
        )
    print(f"wrote {args.out}")


def _of_class(model: Any, inputs: torch.Tensor, target: int) -> torch.Tensor:
    """The inputs the model predicts as `target`; all of them when none is (said on stderr)."""
    import sys

    predicted = model.forward_logits(inputs).argmax(dim=1).cpu()
    chosen = inputs[predicted == target]
    if chosen.shape[0] == 0:
        print(
            f"note: no input is predicted as class {target}; scoring all {inputs.shape[0]}",
            file=sys.stderr,
        )
        return inputs
    return chosen
