"""Evaluation data on the tiny test model (32×32): the four sample photos and their views."""

import pytest

from app.compress.base import CompressionData
from app.compress.data import EvaluationSet, build_evaluation_set, gallery_sources
from app.zoo import LoadedModel


@pytest.fixture(scope="module")
def gallery() -> list:
    return gallery_sources()


@pytest.fixture
def evaluation(tiny: LoadedModel, gallery: list) -> EvaluationSet:
    return build_evaluation_set(
        tiny, gallery, "gallery", augmentations=3, calibration_augmentations=4
    )


@pytest.fixture
def data(evaluation: EvaluationSet) -> CompressionData:
    return CompressionData(calibration=evaluation.calibration, evaluation=evaluation.pixels)
