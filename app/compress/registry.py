"""The only list of compression recipes."""

from typing import TypeVar

from app.compress.base import Recipe
from app.errors import UnknownRecipe
from app.registry import Registry

__all__ = ["RECIPES", "register_recipe"]

RECIPES: Registry[Recipe] = Registry("compression recipe", UnknownRecipe)

R = TypeVar("R", bound=type[Recipe])


def register_recipe(cls: R) -> R:
    RECIPES.add(cls.name, cls())
    return cls
