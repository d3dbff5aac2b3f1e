"""Don't trust a map blindly: sanity checks (model randomisation) and faithfulness (deletion and
insertion curves), computed for any registered method."""

from app.trust.faithfulness import Curves, FaithfulnessResult, deletion_insertion, faithfulness
from app.trust.randomization import PASS_THRESHOLD, RandomizationResult, randomization_test
from app.trust.similarity import METRICS, similarities

__all__ = [
    "METRICS",
    "PASS_THRESHOLD",
    "Curves",
    "FaithfulnessResult",
    "RandomizationResult",
    "deletion_insertion",
    "faithfulness",
    "randomization_test",
    "similarities",
]
