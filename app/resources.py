"""Files the product reads at run time, found as package resources (importlib.resources).

The repository keeps templates/ and static/ at its top; app/templates and app/static link to
them, and the wheel carries them as package data (pyproject.toml). So `files("app")` finds them
in an installed wheel and in a checkout alike, wherever either lives.
"""

from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Literal

__all__ = ["resource_folder"]


@cache
def resource_folder(name: Literal["templates", "static"]) -> Path:
    """The folder on disk (Jinja2 and Starlette's StaticFiles read directories)."""
    folder = files("app").joinpath(name)
    if not isinstance(folder, Path) or not folder.is_dir():
        raise RuntimeError(f"Lantern's {name}/ folder is missing from the package ({folder})")
    return folder
