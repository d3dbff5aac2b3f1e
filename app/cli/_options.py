"""Options and helpers every command shares, defined once.

Choices, defaults and help come from where the values are defined: the registries, the Settings
fields, a function's signature or a Params model's fields; no name is listed here.
"""

import argparse
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

import torch
from pydantic import BaseModel

from app.cli._commands import Commands
from app.cli._settings import settings_of
from app.errors import BadParameter
from app.imaging import read_image, sample_image
from app.imaging.samples import SAMPLES
from app.settings import Settings
from app.zoo import LoadedModel, load_model

__all__ = [
    "Commands",
    "add_device",
    "add_field_option",
    "add_image_options",
    "add_model_options",
    "add_param",
    "add_signature_option",
    "load_image_and_model",
    "settings_of",
    "target_of",
    "write",
]


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    return key.strip(), value.strip()


def add_param(parser: argparse.ArgumentParser, help: str) -> None:
    """`--param KEY=VALUE`, repeatable; `args.param` is a list of (key, value) pairs."""
    parser.add_argument(
        "--param",
        action="append",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help=help,
    )


def add_device(parser: argparse.ArgumentParser) -> None:
    field = Settings.model_fields["device"]
    parser.add_argument(
        "--device",
        choices=get_args(field.annotation),
        help=f"default: LANTERN_DEVICE, else {field.default}; {field.description}",
    )


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """--model, --weights, --labels: which network, and optionally the user's own files for it."""
    parser.add_argument("--model", help="model name (see `lantern models`)")
    parser.add_argument("--weights", type=Path, help="your own weights for that architecture")
    parser.add_argument("--labels", type=Path, help="class names, one per line")


def add_image_options(parser: argparse.ArgumentParser, param_help: str) -> None:
    """The options of a command that runs a model on one image (see `load_image_and_model`)."""
    parser.add_argument(
        "image", help=f"an image file, or sample:NAME ({', '.join(SAMPLES)})", metavar="IMAGE"
    )
    add_model_options(parser)
    add_device(parser)
    parser.add_argument("--target", help="class index or exact class name")
    add_param(parser, param_help)


def _option_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_signature_option(
    parser: argparse.ArgumentParser, function: Callable[..., Any], name: str, help: str
) -> None:
    """`--NAME` for the parameter `name` of `function`: its type, its default, and its choices
    when it is a Literal."""
    annotation = get_type_hints(function)[name]
    default = inspect.signature(function).parameters[name].default
    help = f"{help} (default {default})"
    if get_origin(annotation) is Literal:
        parser.add_argument(
            _option_name(name), choices=get_args(annotation), default=default, help=help
        )
    else:
        parser.add_argument(_option_name(name), type=annotation, default=default, help=help)


def add_field_option(parser: argparse.ArgumentParser, model: type[BaseModel], name: str) -> None:
    """`--NAME` for the field `name` of a Params model, with its description and default; None
    when not given (the model applies its own default and checks the range). A list field is
    given comma-separated."""
    field = model.model_fields[name]
    default = field.default
    if isinstance(default, list):
        default = ",".join(str(item) for item in default)
    kind: type = int if field.annotation is int else float if field.annotation is float else str
    parser.add_argument(
        _option_name(name), type=kind, help=f"{field.description} (default {default})"
    )


def load_image_and_model(args: argparse.Namespace) -> tuple[LoadedModel, torch.Tensor]:
    """(model, (3, H, W) pixels as the model sees them)."""
    settings = settings_of(args)
    if args.image.startswith("sample:"):
        image = sample_image(args.image.removeprefix("sample:"))
    else:
        image = read_image(Path(args.image), settings.max_image_bytes, settings.max_image_pixels)
    model = load_model(
        args.model or settings.default_model, settings, weights=args.weights, labels=args.labels
    )
    # One command's few gradient passes: the folded copy's build and check would cost more
    # (seen 0.3 s unloaded) than the passes save (~15 ms each on the default model).
    model.skip_gradient_copy("one command: not worth building")
    return model, model.preprocessing.model_view(image)


def target_of(model: LoadedModel, text: str | None) -> int | None:
    """--target: a class index, or a class name (case-insensitive, exact)."""
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


def write(path: Path, writer: Callable[[Path], object]) -> None:
    """Write a file; an unwritable path is bad input (one line), not an internal error."""
    try:
        writer(path)
    except OSError as error:
        raise BadParameter(f"cannot write {path}: {error.strerror or error}") from None
