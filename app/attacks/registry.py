"""The only list of attacks."""

from typing import TypeVar

from app.attacks.base import Attack
from app.errors import UnknownAttack
from app.registry import Registry

__all__ = ["ATTACKS", "register_attack"]

ATTACKS: Registry[Attack] = Registry("attack", UnknownAttack)

A = TypeVar("A", bound=type[Attack])


def register_attack(cls: A) -> A:
    ATTACKS.add(cls.name, cls())
    return cls
