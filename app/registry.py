"""A named registry: the only list of models, methods, attacks, recipes, experiments, result
types and job kinds (after torchvision's register_model).

Classes register themselves where they are defined, with the registry's decorator:

    @METHODS.register
    class Saliency(GradientMethod):
        name = "saliency"
"""

from collections.abc import Callable, Iterator
from difflib import get_close_matches
from typing import Any, Generic, TypeVar

from app.errors import LanternError

__all__ = ["Registry"]

T = TypeVar("T")
C = TypeVar("C", bound=type)


class Registry(Generic[T]):
    """Items by name; a duplicate name is an error, an unknown one a `unknown` with suggestions.

    `build` turns a registered class into the item (default: an instance of it)."""

    def __init__(
        self,
        kind: str,
        unknown: type[LanternError],
        build: Callable[[Any], T] = lambda cls: cls(),
    ) -> None:
        self._kind = kind
        self._unknown = unknown
        self._build = build
        self._items: dict[str, T] = {}

    def register(self, cls: C) -> C:
        """Class decorator: register `build(cls)` under the class's `name`."""
        self.add(getattr(cls, "name"), self._build(cls))  # noqa: B009 (C is any class)
        return cls

    def add(self, name: str, item: T) -> T:
        if name in self._items:
            raise ValueError(f"{self._kind} {name!r} is registered twice")
        self._items[name] = item
        return item

    def remove(self, name: str) -> None:
        self._items.pop(name, None)

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise self._unknown(self._unknown_message(name)) from None

    def _unknown_message(self, name: str) -> str:
        close = [item for item in self._items if item.endswith("/" + name)]
        close = close or get_close_matches(name, self._items, n=3, cutoff=0.6)
        if close:
            return f"unknown {self._kind} {name!r}; did you mean {' or '.join(close)}?"
        known = list(self._items)
        shown = ", ".join(known[:10]) or "none"
        more = f" and {len(known) - 10} more" if len(known) > 10 else ""
        return f"unknown {self._kind} {name!r}; known: {shown}{more}"

    def names(self) -> list[str]:
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[T]:
        return iter(self._items.values())
