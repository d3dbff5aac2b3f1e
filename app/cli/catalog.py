"""`lantern models`, `lantern methods` and `lantern shapley`: what Lantern knows, read from its
registries (and the lecture's Shapley game)."""

import argparse
from typing import Any, get_args

from app.attacks import ATTACKS
from app.cli._commands import add_command
from app.cli._options import Commands, settings_of
from app.explain import METHODS
from app.explain.exact_shapley import LECTURE_GAME, LECTURE_PLAYERS, shapley_values
from app.registry import Registry
from app.shapes.storage import Trained, model_path
from app.zoo import LAB_PREFIX, MODELS

__all__ = ["register"]


def register(commands: Commands) -> None:
    models = add_command(commands, "models")
    models.set_defaults(run=_models)
    methods = add_command(commands, "methods")
    methods.set_defaults(run=_methods)
    shapley = add_command(commands, "shapley")
    shapley.set_defaults(run=_shapley)


def _models(args: argparse.Namespace) -> None:
    settings = settings_of(args)
    for spec in MODELS:
        print(f"{spec.name:32s} {spec.weights_source(settings)}")
    for trained in get_args(Trained):  # the lab's, once trained
        path = model_path(settings, trained)
        if path.is_file():
            print(f"{LAB_PREFIX + trained:32s} Shapes lab, {path}")


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
