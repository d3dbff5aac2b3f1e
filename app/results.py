"""Result types: the dataclasses a job may store, registered where they are defined.

`@result_type` on a dataclass registers it and, automatically, every dataclass its fields name
(nested, in lists, tuples, dicts or optional), so a type reachable from a stored result can
always be rebuilt. A second class under a registered name is an error. The job store's codec
(app/jobs/codec.py) rebuilds only registered types: a tampered database can at worst give a
wrong number, never run code.
"""

import dataclasses
import types
import typing
from typing import Any, TypeVar

from app.errors import LanternError
from app.registry import Registry

__all__ = ["RESULT_TYPES", "result_type"]


class UnknownResultType(LanternError):
    """A stored result names a type that is not registered."""


RESULT_TYPES: Registry[type] = Registry("result type", UnknownResultType)
"""Every dataclass a stored result may contain, by class name."""

D = TypeVar("D", bound=type)


def result_type(cls: D) -> D:
    """Class decorator: allow `cls` (a dataclass) and the dataclasses its fields name in stored
    results."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__name__} is not a dataclass, so it cannot be a result type")
    if cls.__name__ in RESULT_TYPES:
        if RESULT_TYPES.get(cls.__name__) is not cls:
            raise ValueError(f"result type {cls.__name__!r} is registered twice")
        return cls
    RESULT_TYPES.add(cls.__name__, cls)
    for hint in typing.get_type_hints(cls).values():
        for nested in _dataclasses_in(hint):
            result_type(nested)
    return cls


def _dataclasses_in(hint: Any) -> list[type]:
    """The dataclasses a type hint names: `X`, `list[X]`, `X | None`, `dict[str, X]`, …"""
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return [hint]
    arguments = typing.get_args(hint)
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is not None:
        return [found for argument in arguments for found in _dataclasses_in(argument)]
    return []
