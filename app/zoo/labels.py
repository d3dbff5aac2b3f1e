"""ImageNet-1k class names, shipped with the package (one per line, index = class id)."""

from functools import cache
from importlib.resources import files
from pathlib import Path

from app.errors import BadWeights

__all__ = ["imagenet_labels", "read_labels"]


@cache
def _imagenet() -> tuple[str, ...]:
    text = files("app.zoo").joinpath("imagenet_classes.txt").read_text(encoding="utf-8")
    return tuple(text.splitlines())


def imagenet_labels() -> list[str]:
    return list(_imagenet())


def read_labels(path: Path) -> list[str]:
    """A labels file: one class name per line, in class-index order."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise BadWeights(f"cannot read labels file {path}: {error}") from None
    labels = [line.strip() for line in lines if line.strip()]
    if not labels:
        raise BadWeights(f"labels file {path} is empty")
    return labels
