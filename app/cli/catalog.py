"""`lantern models [add | remove]`, `lantern methods` and `lantern shapley`: what Lantern knows
(and the lecture's Shapley game).

`models` and `methods` answer without importing torch: the model catalog reads files
(app/catalog.py) and the methods come from their listing (app/cli/methods.json, written from
the registries by `python -m app.catalog`; a test checks that it matches them). Only `models
add`, which checks the weights, and `shapley` import the heavy modules, when they run.
"""

import argparse
import json
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from app.catalog import GROUPS, architectures, catalog
from app.cli._commands import Commands, add_command
from app.cli._settings import settings_of

__all__ = ["method_listing", "method_listing_now", "register"]


def register(commands: Commands) -> None:
    models = add_command(commands, "models")
    models.set_defaults(run=_models)
    actions = models.add_subparsers(dest="action", metavar="ACTION")
    add = actions.add_parser("add", help="add a model of yours: a state dict for an architecture")
    add.add_argument("name", help="its name in every menu (lower-case letters, digits, _ . -)")
    add.add_argument(
        "--architecture",
        required=True,
        help="the default model's name or a torchvision one (listed by lantern models)",
    )
    add.add_argument(
        "--weights", required=True, type=Path, help="safetensors or weights-only torch file"
    )
    add.add_argument("--labels", type=Path, help="class names, one a line, in index order")
    add.set_defaults(run=_add_model)
    remove = actions.add_parser("remove", help="remove a model of yours")
    remove.add_argument("name")
    remove.set_defaults(run=_remove_model)
    methods = add_command(commands, "methods")
    methods.set_defaults(run=_methods)
    shapley = add_command(commands, "shapley")
    shapley.set_defaults(run=_shapley)


def _size(entry: Any) -> str:
    parts = []
    if entry.classes is not None:
        parts.append(f"{entry.classes} classes")
    if entry.parameters is not None:
        parts.append(f"{entry.parameters / 1e6:.2f} M parameters")
    if entry.bytes is not None:
        parts.append(f"{entry.bytes / 1e6:.1f} MB")
    return ", ".join(parts)


def _models(args: argparse.Namespace) -> None:
    settings = settings_of(args)
    entries = catalog(settings)
    listed = {entry.name for entry in entries}
    for entry in entries:
        print(f"{entry.name:40s} {entry.group:10s} {entry.description}")
        print(f"{'':40s} {'':10s} {_size(entry)}; from {entry.source}")
        if entry.group == "compressed":
            print(f"{'':40s} {'':10s} runs on {entry.engine}; {entry.gradient_engine}")
    for group in GROUPS:
        if not any(entry.group == group for entry in entries):
            print(f"{'(none yet)':40s} {group}")
    weightless = [name for name in architectures() if name not in listed]
    if weightless:
        print(
            f"\narchitecture only, upload weights ({len(weightless)}): lantern models add NAME "
            "--architecture A --weights FILE, or put a state dict at "
            f"{settings.weights_dir / 'torchvision-NAME.safetensors'} for A's own weights:"
        )
        print("  " + ", ".join(weightless))


def _add_model(args: argparse.Namespace) -> None:
    from app.zoo.user_models import add_user_model  # imports torch: only when adding

    settings = settings_of(args)
    added = add_user_model(settings, args.name, args.architecture, args.weights, args.labels)
    print(
        f"added {added['name']}: {added['architecture']}, {added['classes']} classes "
        f"(use --model {added['name']})"
    )


def _remove_model(args: argparse.Namespace) -> None:
    from app.zoo.user_models import remove_user_model

    remove_user_model(settings_of(args), args.name)
    print(f"removed {args.name}")


@cache
def method_listing() -> list[dict[str, Any]]:
    """The explanation methods and attacks with their parameters, as `lantern methods` shows
    them (from app/cli/methods.json)."""
    listing: list[dict[str, Any]] = json.loads(
        files("app.cli").joinpath("methods.json").read_text(encoding="utf-8")
    )
    return listing


def method_listing_now() -> list[dict[str, Any]]:
    """The same listing from the registries (imports torch)."""
    from app.attacks import ATTACKS
    from app.explain import METHODS

    listing = []
    for kind, registry in (("explain", METHODS), ("attack", ATTACKS)):
        for item in registry:
            listing.append(
                {
                    "kind": kind,
                    "name": item.name,
                    "title": item.title,
                    "reference": item.reference,
                    "params": [
                        {"name": name, "default": repr(field.default), "help": field.description}
                        for name, field in item.Params.model_fields.items()
                    ],
                }
            )
    return listing


def _methods(args: argparse.Namespace) -> None:
    for item in method_listing():
        print(f"{item['kind']} {item['name']}: {item['title']} ({item['reference']})")
        for param in item["params"]:
            print(f"    {param['name']} = {param['default']}  {param['help'] or ''}")


def _shapley(args: argparse.Namespace) -> None:
    from app.explain.exact_shapley import LECTURE_GAME, LECTURE_PLAYERS, shapley_values

    for coalition, worth in LECTURE_GAME.items():
        members = " + ".join(player for player in LECTURE_PLAYERS if player in coalition)
        print(f"  v({members}) = {worth:g}")
    for player, value in shapley_values(LECTURE_PLAYERS, LECTURE_GAME).items():
        print(f"{player}: {value:g}")
