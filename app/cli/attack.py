"""`lantern attack`: perturb one image within an L∞ budget to change the prediction."""

import argparse
from pathlib import Path

import numpy as np

from app.attacks import ATTACKS, attack
from app.cli._commands import add_command
from app.cli._options import Commands, add_image_options, load_image_and_model, target_of, write
from app.cli._progress import progress_to
from app.imaging import amplify, pixels_to_image

__all__ = ["register"]


def register(commands: Commands) -> None:
    parser = add_command(commands, "attack")
    add_image_options(parser, "an attack parameter (repeatable; see `lantern methods`)")
    parser.add_argument("--png", type=Path, help="write a picture of the result")
    parser.add_argument("--method", required=True, choices=ATTACKS.names())
    parser.add_argument("--epsilon", type=float, required=True, help="L∞ budget in [0, 1] pixels")
    parser.add_argument("--out", type=Path, required=True, help="write the result as .npz")
    parser.set_defaults(run=_attack)


def _attack(args: argparse.Namespace) -> None:
    model, pixels = load_image_and_model(args)
    params = {**dict(args.param), "epsilon": args.epsilon}
    target = target_of(model, args.target)
    with progress_to(args.method) as progress:
        result = attack(model, pixels, args.method, target, params, progress)
    write(args.out, lambda path: np.savez_compressed(path, **result.npz_arrays()))
    if args.png:
        amplified, factor = amplify(result.perturbation)
        strip = np.concatenate([result.input, result.adversarial, amplified], axis=2)
        picture = pixels_to_image(strip)
        write(args.png, lambda path: picture.save(path, format="PNG"))
    before, after = result.label_before, result.label_after
    print(f"{model.name} · {result.method} · ε = {args.epsilon:g} · {result.seconds:.2f} s")
    print(f"before: {before} {model.labels[before]} (p = {result.probs_before[before]:.3f})")
    print(f"after:  {after} {model.labels[after]} (p = {result.probs_after[after]:.3f})")
    print("succeeded" if result.success else "did not succeed")
    print(f"wrote {args.out}")
    if args.png:
        print(f"wrote {args.png} (original | adversarial | perturbation × {factor:.1f})")
