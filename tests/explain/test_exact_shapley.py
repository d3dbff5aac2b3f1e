import pytest

from app.explain.exact_shapley import (
    LECTURE_GAME,
    LECTURE_PLAYERS,
    marginal_contributions,
    shapley_values,
)


def test_lecture_example() -> None:
    values = shapley_values(LECTURE_PLAYERS, LECTURE_GAME)
    assert values["Alice"] == pytest.approx(180.0)
    # By hand: Bob = 400/3 + 340/6 + 200/6 + 220/3 + ... the same sum over his orderings.
    assert values["Bob"] == pytest.approx(
        560 / 3 + (740 - 400) / 6 + (980 - 720) / 6 + (1000 - 780) / 3
    )
    assert sum(values.values()) == pytest.approx(1000.0)  # efficiency: the grand coalition's worth


def test_average_of_orderings_equals_the_formula() -> None:
    rows = marginal_contributions(LECTURE_PLAYERS, LECTURE_GAME)
    assert len(rows) == 6
    values = shapley_values(LECTURE_PLAYERS, LECTURE_GAME)
    for player in LECTURE_PLAYERS:
        average = sum(added[player] for _, added in rows) / len(rows)
        assert average == pytest.approx(values[player])


def test_symmetric_and_null_players() -> None:
    game = {
        frozenset("a"): 1.0,
        frozenset("b"): 1.0,
        frozenset("c"): 0.0,
        frozenset("ab"): 3.0,
        frozenset("ac"): 1.0,
        frozenset("bc"): 1.0,
        frozenset("abc"): 3.0,
    }
    values = shapley_values(["a", "b", "c"], game)
    assert values["a"] == pytest.approx(values["b"]) == pytest.approx(1.5)
    assert values["c"] == pytest.approx(0.0)


def test_missing_coalition_is_an_error() -> None:
    with pytest.raises(ValueError, match="no value for coalition"):
        shapley_values(["a", "b"], {frozenset("a"): 1.0})
