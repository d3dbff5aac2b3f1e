"""Exact Shapley values of a small cooperative game (Shapley, 1953): the idea behind SHAP.

φᵢ = Σ_{S ⊆ N∖{i}} |S|! (n - |S| - 1)! / n! · (v(S ∪ {i}) - v(S)), with v(∅) = 0 unless given.
"""

from collections.abc import Mapping, Sequence
from itertools import combinations, permutations
from math import factorial

__all__ = ["LECTURE_GAME", "LECTURE_PLAYERS", "marginal_contributions", "shapley_values"]

Game = Mapping[frozenset[str], float]

LECTURE_PLAYERS = ("Alice", "Bob", "Carol")
LECTURE_GAME: Game = {
    frozenset({"Alice"}): 400.0,
    frozenset({"Bob"}): 560.0,
    frozenset({"Carol"}): 720.0,
    frozenset({"Alice", "Bob"}): 740.0,
    frozenset({"Alice", "Carol"}): 780.0,
    frozenset({"Bob", "Carol"}): 980.0,
    frozenset({"Alice", "Bob", "Carol"}): 1000.0,
}
_MAX_PLAYERS = 16


def _worth(game: Game, coalition: frozenset[str]) -> float:
    if coalition in game:
        return float(game[coalition])
    if not coalition:
        return 0.0
    raise ValueError(f"the game gives no value for coalition {sorted(coalition)}")


def shapley_values(players: Sequence[str], game: Game) -> dict[str, float]:
    n = len(players)
    if not 0 < n <= _MAX_PLAYERS or len(set(players)) != n:
        raise ValueError(f"need 1 to {_MAX_PLAYERS} distinct players, got {list(players)}")
    values = {}
    for player in players:
        others = [p for p in players if p != player]
        total = 0.0
        for size in range(n):
            weight = factorial(size) * factorial(n - size - 1) / factorial(n)
            for subset in combinations(others, size):
                coalition = frozenset(subset)
                total += weight * (_worth(game, coalition | {player}) - _worth(game, coalition))
        values[player] = total
    return values


def marginal_contributions(
    players: Sequence[str], game: Game
) -> list[tuple[tuple[str, ...], dict[str, float]]]:
    """For each joining order, what each player adds when joining (the table the UI shows)."""
    if len(players) > 8:
        raise ValueError("listing every ordering is only shown for up to 8 players")
    rows = []
    for order in permutations(players):
        seen: frozenset[str] = frozenset()
        added = {}
        for player in order:
            added[player] = _worth(game, seen | {player}) - _worth(game, seen)
            seen = seen | {player}
        rows.append((order, added))
    return rows
