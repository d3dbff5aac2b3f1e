"""The only list of explanation methods; the CLI, the API and the contract tests read it."""

from typing import TypeVar

from app.errors import UnknownMethod
from app.explain.base import Method
from app.registry import Registry

__all__ = ["METHODS", "register_method"]

METHODS: Registry[Method] = Registry("explanation method", UnknownMethod)

M = TypeVar("M", bound=type[Method])


def register_method(cls: M) -> M:
    METHODS.add(cls.name, cls())
    return cls
