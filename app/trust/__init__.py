"""Don't trust a map blindly: sanity checks (model randomisation) and faithfulness (deletion and
insertion curves), computed for any registered method."""

from app.trust.faithfulness import (
    Curves,
    FaithfulnessResult,
    Removal,
    deletion_insertion,
    faithfulness,
)
from app.trust.randomization import (
    PASS_THRESHOLD,
    RandomizationResult,
    data_randomization_test,
    randomization_test,
)
from app.trust.similarity import METRICS, similarities

__all__ = [
    "METRICS",
    "PASS_THRESHOLD",
    "Curves",
    "FaithfulnessResult",
    "RandomizationResult",
    "Removal",
    "data_randomization_test",
    "deletion_insertion",
    "faithfulness",
    "randomization_test",
    "similarities",
]
