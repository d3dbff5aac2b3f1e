"""The settings a command runs with, read without importing torch (`lantern models` stays quick)."""

import argparse
from collections.abc import Callable

from pydantic import ValidationError

from app.errors import BadParameter
from app.settings import Settings, get_settings

__all__ = ["describe_error", "settings_of"]


def describe_error(error: ValidationError, name: Callable[[str], str]) -> str:
    """One line per bad setting, named as the user set it (`name(field)`)."""
    return "; ".join(
        f"{name(str(issue['loc'][0]))}: {issue['msg'].removeprefix('Value error, ')}"
        for issue in error.errors()
    )


def settings_of(args: argparse.Namespace) -> Settings:
    """The settings from the environment, with --device when given; a bad value is one line
    naming the variable or the option it came from."""
    try:
        settings = get_settings()
    except ValidationError as error:
        raise BadParameter(
            describe_error(error, lambda field: f"LANTERN_{field.upper()}")
        ) from None
    device = getattr(args, "device", None)
    if device:
        try:
            settings = Settings(**{**settings.model_dump(), "device": device})
        except ValidationError as error:
            raise BadParameter(describe_error(error, lambda field: f"--{field}")) from None
    return settings
