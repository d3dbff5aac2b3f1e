"""Verdicts in words follow from the numbers, one rule at a time, on hand-made curves."""

import numpy as np
import pytest

from app.trust.faithfulness import Curves, FaithfulnessResult, area_under_curve
from app.trust.randomization import RandomizationResult
from app.trust.verdict import faithfulness_verdict, sanity_verdict

FRACTIONS = [0.0, 0.5, 1.0]


def _curves(deletion: list[float], insertion: list[float]) -> Curves:
    return Curves(
        FRACTIONS,
        deletion,
        insertion,
        area_under_curve(FRACTIONS, deletion),
        area_under_curve(FRACTIONS, insertion),
    )


def _result(own: Curves, random: Curves) -> FaithfulnessResult:
    return FaithfulnessResult("saliency", "tiny", 3, "road", "road", own, random, 0.1)


def test_a_map_that_beats_random_both_ways_is_faithful() -> None:
    own = _curves([0.8, 0.1, 0.0], [0.0, 0.7, 0.8])  # areas 0.25 and 0.55
    random = _curves([0.8, 0.5, 0.0], [0.0, 0.3, 0.8])  # areas 0.45 and 0.35
    verdict = faithfulness_verdict(_result(own, random), "espresso")
    assert verdict.level == "trust" and verdict.headline == "Faithful"
    assert "'espresso' at 25 %" in verdict.sentence and "45 % for random" in verdict.sentence
    assert "keeps 55 %" in verdict.sentence and "35 % for random" in verdict.sentence


@pytest.mark.parametrize(
    ("own_deletion", "own_insertion", "level"),
    [
        ([0.8, 0.1, 0.0], [0.0, 0.2, 0.8], "caution"),  # deletes well, inserts worse than random
        ([0.8, 0.6, 0.0], [0.0, 0.2, 0.8], "distrust"),  # worse than random both ways
        ([0.8, 0.45, 0.0], [0.0, 0.3, 0.8], "distrust"),  # equal to random: no margin, no pass
    ],
)
def test_mixed_and_failing_maps(own_deletion, own_insertion, level) -> None:
    random = _curves([0.8, 0.5, 0.0], [0.0, 0.3, 0.8])
    assert (
        faithfulness_verdict(_result(_curves(own_deletion, own_insertion), random), "x").level
        == level
    )


def test_a_degenerate_reference_is_said_not_scored() -> None:
    """On the cat with black deletion, random removal already collapses the prediction (random
    deletion area 0.015 against 0.36 intact): deletion is left out and insertion decides."""
    own = _curves([0.36, 0.0, 0.0], [0.0, 0.3, 0.36])
    collapsed = _curves([0.36, 0.01, 0.0], [0.0, 0.05, 0.36])
    collapsed = Curves(  # a random deletion area of 0.05, under a quarter of the intact 0.36
        FRACTIONS, collapsed.deletion, collapsed.insertion, 0.05, collapsed.insertion_auc
    )
    verdict = faithfulness_verdict(_result(own, collapsed), "tabby")
    assert verdict.level == "trust" and "random pixels" not in verdict.sentence.split(";")[0]
    both = _curves([0.36, 0.0, 0.0], [0.0, 0.36, 0.36])  # random reveal restores it all
    verdict = faithfulness_verdict(_result(own, both), "tabby")
    assert verdict.level == "inconclusive" and "can't tell" in verdict.headline


def test_an_unsure_prediction_is_inconclusive() -> None:
    flat = _curves([0.03, 0.01, 0.0], [0.0, 0.02, 0.03])
    verdict = faithfulness_verdict(_result(flat, flat), "ping-pong ball")
    assert verdict.level == "inconclusive" and "3 %" in verdict.sentence


def test_sanity_verdicts_follow_the_threshold() -> None:
    def result(correlation: float) -> RandomizationResult:
        return RandomizationResult(
            method="saliency",
            model="tiny",
            target=0,
            mode="cascading",
            steps=["fc"],
            similarity={"spearman_abs": [correlation]},
            mean_rank_correlation=correlation,
            passes=correlation < 0.5,
            threshold=0.5,
            seconds=0.1,
            original=np.zeros((2, 2), dtype=np.float32),
            maps=[np.zeros((2, 2), dtype=np.float32)],
        )

    assert sanity_verdict(result(0.12)).level == "trust"
    failing = sanity_verdict(result(0.83))
    assert failing.level == "distrust" and "0.83" in failing.sentence


def test_the_class_name_keeps_its_capitals() -> None:
    own = _curves([0.8, 0.1, 0.0], [0.0, 0.7, 0.8])
    random = _curves([0.8, 0.5, 0.0], [0.0, 0.3, 0.8])
    sentence = faithfulness_verdict(_result(own, random), "Egyptian cat").sentence
    assert sentence.startswith("Hiding") and "'Egyptian cat'" in sentence
