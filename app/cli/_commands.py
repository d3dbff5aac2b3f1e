"""The commands and the group module that registers each, with their one line of help.

Kept apart from the group modules so that `lantern --help` (and a usage error) can list every
command without importing them: they import torch, which takes seconds. Only the group of the
command being run is imported (`app/cli/__init__.py`).
"""

import argparse
from typing import Any

__all__ = ["COMMANDS", "Commands", "add_command"]

Commands = Any  # argparse's subparsers action (its class is private)

# command: (module in app.cli that registers it, help); in `lantern --help` order.
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("serve", "start the web dashboard"),
    "models": ("catalog", "list the models and where their weights come from"),
    "methods": ("catalog", "list explanation methods and attacks with parameters"),
    "shapley": ("catalog", "exact Shapley values of the lecture's three-person game"),
    "explain": ("explain", "explain one class of the prediction"),
    "panel": (
        "explain",
        "several methods (and attacks) on one image, sharing the gradient pass",
    ),
    "attack": ("attack", "perturb the image to change the prediction"),
    "sanity": ("trust", "does the map change when the model's weights are randomised?"),
    "faithfulness": (
        "trust",
        "deletion and insertion curves of the map, against a random map",
    ),
    "shapes": ("shapes", "the Shapes lab: a generated dataset with masks"),
    "compress": ("compress", "build a compressed variant and measure it against the original"),
    "audit": (
        "audit",
        "a dataset through a model: accuracy, calibration, label issues, shortcut evidence",
    ),
    "concepts": (
        "concepts",
        "what channels respond to: channel index, concept breakdown, TCAV",
    ),
}


def add_command(commands: Commands, name: str, **options: Any) -> argparse.ArgumentParser:
    """The parser of command `name`, with its help from COMMANDS."""
    parser: argparse.ArgumentParser = commands.add_parser(name, help=COMMANDS[name][1], **options)
    return parser
