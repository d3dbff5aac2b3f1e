"""Verdicts in words: what a faithfulness or sanity result means for someone who has not read
the papers. The numbers stay under Details; a verdict says whether to trust the map and why.

Levels: `trust` (the test supports the map), `caution` (mixed evidence), `distrust` (the test
speaks against it), `inconclusive` (this image cannot tell: the reference itself is degenerate).
"""

from dataclasses import dataclass
from typing import Literal

from app.trust.faithfulness import FaithfulnessResult
from app.trust.randomization import PASS_THRESHOLD, RandomizationResult

__all__ = [
    "FAITHFULNESS_EXPLAINER",
    "SANITY_EXPLAINER",
    "Verdict",
    "faithfulness_verdict",
    "sanity_verdict",
]

Level = Literal["trust", "caution", "distrust", "inconclusive"]

FAITHFULNESS_EXPLAINER = (
    "We hide the pixels the map says matter most, a growing share at a time, and watch the "
    "model's confidence in the class. If the map is right, confidence drops faster than when we "
    "hide random pixels; and showing only the pixels the map ranks highest keeps more of it than "
    "showing random ones. Hidden pixels are filled in from their neighbours (ROAD, Rong et al. "
    "2022) unless you choose black or blur, so the model is not just reacting to black holes."
)
SANITY_EXPLAINER = (
    "We scramble the model's learned weights, layer by layer from the top, and draw the map "
    "again. A map that explains the model must change when the model is destroyed. A map that "
    "stays the same is showing the photo's edges, not what the model learned (Adebayo et al., "
    "'Sanity Checks for Saliency Maps', 2018)."
)

# A reference that leaves less than this share of the class's probability on average (random
# removal) or restores more than the complement (random reveal) cannot separate a good map from
# a bad one on this image.
_DEGENERATE = 0.25
_MARGIN = 0.1  # the map must beat the random reference by 10 % of the reference's area
_TOO_UNSURE = 0.05  # below this probability on the intact image, removal shows nothing


@dataclass(frozen=True)
class Verdict:
    level: Level
    headline: str  # a few words: "Faithful", "Not faithful", "This image can't tell"
    sentence: str  # one plain sentence with the evidence
    explainer: str  # "what does this mean?"


def _percent(probability: float) -> str:
    return f"{probability * 100:.0f} %"


def faithfulness_verdict(result: FaithfulnessResult, label: str) -> Verdict:
    """The deletion and insertion areas of the map against a random map's, in words. `label`
    names the explained class."""
    own, random = result.curves, result.random
    intact = own.deletion[0]
    if intact < _TOO_UNSURE:
        return Verdict(
            "inconclusive",
            "This image can't tell",
            f"The model gives '{label}' only {_percent(intact)} on this photo, too little for "
            "hiding pixels to show which ones it relied on.",
            FAITHFULNESS_EXPLAINER,
        )
    deletion_informative = random.deletion_auc > _DEGENERATE * intact
    insertion_informative = random.insertion_auc < (1 - _DEGENERATE) * intact
    deletion_ok = own.deletion_auc < (1 - _MARGIN) * random.deletion_auc
    insertion_ok = own.insertion_auc > (1 + _MARGIN) * random.insertion_auc
    evidence = []
    if deletion_informative:
        evidence.append(
            f"hiding the pixels it ranks highest leaves '{label}' at {_percent(own.deletion_auc)} "
            f"on average, against {_percent(random.deletion_auc)} for random pixels"
        )
    if insertion_informative:
        evidence.append(
            f"showing only those pixels keeps {_percent(own.insertion_auc)} on average, "
            f"against {_percent(random.insertion_auc)} for random ones"
        )
    checks = [
        ok
        for ok, informative in (
            (deletion_ok, deletion_informative),
            (insertion_ok, insertion_informative),
        )
        if informative
    ]
    if not checks:
        return Verdict(
            "inconclusive",
            "This image can't tell",
            f"On this photo even random pixels {'destroy' if not deletion_informative else 'keep'} "
            f"the prediction ('{label}', {_percent(intact)}), so the map cannot beat them by much.",
            FAITHFULNESS_EXPLAINER,
        )
    text = "; ".join(evidence)
    text = text[0].upper() + text[1:] + "."
    if all(checks):
        return Verdict("trust", "Faithful", text, FAITHFULNESS_EXPLAINER)
    if any(checks):
        return Verdict("caution", "Partly faithful", text, FAITHFULNESS_EXPLAINER)
    return Verdict("distrust", "Not faithful", text, FAITHFULNESS_EXPLAINER)


def sanity_verdict(result: RandomizationResult) -> Verdict:
    """The model-randomisation test in words."""
    similarity = result.mean_rank_correlation
    if result.passes:
        return Verdict(
            "trust",
            "Depends on the model",
            f"With the model's weights scrambled the map changes: its similarity to the original "
            f"falls to {similarity:.2f} (0 = unrelated, 1 = the same; passing is below "
            f"{PASS_THRESHOLD}).",
            SANITY_EXPLAINER,
        )
    return Verdict(
        "distrust",
        "Ignores the model",
        f"With the model's weights scrambled the map looks much the same (similarity "
        f"{similarity:.2f}; passing is below {PASS_THRESHOLD}), so it shows the photo's edges "
        "more than what the model learned.",
        SANITY_EXPLAINER,
    )
