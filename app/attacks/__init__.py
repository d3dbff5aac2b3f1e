"""Adversarial attacks: one module each, one registry, one result type, one verb."""

from app.attacks import fgsm, pgd, targeted  # noqa: F401  (registers them, in menu order)
from app.attacks.base import ATTACKS, Attack, AttackParams, AttackResult
from app.attacks.engine import attack

__all__ = ["ATTACKS", "Attack", "AttackParams", "AttackResult", "attack"]
