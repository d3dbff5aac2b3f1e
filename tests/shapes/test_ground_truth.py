"""Pointing game, mass inside the mask, cue conflict and few-shot k-NN, on closed cases."""

import numpy as np
import torch
from torch import nn

from app.shapes.dataset import SHAPES, ShapesDataset
from app.shapes.fewshot import FewShotClassifier
from app.shapes.ground_truth import cue_conflict, mass_inside, pointing_hit, score_methods
from app.shapes.networks import ShapesStudent, as_loaded


def test_pointing_game_and_mass_on_synthetic_maps() -> None:
    mask = np.zeros((10, 10), bool)
    mask[2:5, 2:5] = True
    inside = np.zeros((10, 10))
    inside[3, 3] = 1.0
    outside = np.zeros((10, 10))
    outside[8, 8] = 1.0
    assert pointing_hit(inside, mask) and not pointing_hit(outside, mask)
    assert pointing_hit(np.roll(inside, 2, axis=0), mask, tolerance=1)  # (5, 3): next to it
    assert mass_inside(inside, mask) == 1.0 and mass_inside(outside, mask) == 0.0
    uniform = np.ones((10, 10))
    assert mass_inside(uniform, mask) == mask.mean()
    signed = inside - outside  # negative evidence elsewhere is not counted
    assert mass_inside(signed, mask) == 1.0
    assert mass_inside(-uniform, mask) == 0.0


class _Oracle(nn.Module):
    """Logits that name a fixed answer: the label (shape) or the texture, read from a table."""

    def __init__(self, answers: list[int]) -> None:
        super().__init__()
        self.answers = answers
        self.calls = 0
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(len(x), len(SHAPES))
        for row in range(len(x)):
            logits[row, self.answers[self.calls]] = 1.0
            self.calls += 1
        return logits * self.scale


def test_cue_conflict_counts_which_cue_the_model_follows() -> None:
    swapped = ShapesDataset(20, 16, seed=0, cue="swapped")
    shapes = [swapped.sample(i).label for i in range(20)]
    textures = [swapped.sample(i).texture for i in range(20)]
    follows_shape = cue_conflict(as_loaded(_Oracle(shapes), "oracle", 16), swapped)
    assert (follows_shape.follows_shape, follows_shape.follows_texture) == (1.0, 0.0)
    follows_texture = cue_conflict(as_loaded(_Oracle(textures), "oracle", 16), swapped)
    assert (follows_texture.follows_shape, follows_texture.follows_texture) == (0.0, 1.0)


def test_score_methods_runs_every_method_on_a_student() -> None:
    model = as_loaded(ShapesStudent(4).eval(), "shapes/student", 32)
    scores = score_methods(model, ShapesDataset(3, 32), ["saliency", "grad_cam"], count=3)
    assert [s.method for s in scores] == ["saliency", "grad_cam"]
    for score in scores:
        assert score.images == 3 and 0 <= score.pointing_game <= 1 and 0 <= score.mass_inside <= 1
        assert 0 < score.area_share < 1


def test_few_shot_gets_its_own_examples_right() -> None:
    model = as_loaded(ShapesStudent(8).eval(), "features", 32)
    pixels, labels = ShapesDataset(20, 32, seed=4).tensors()
    names = [SHAPES[int(y)] for y in labels]
    classifier = FewShotClassifier(model, pixels, names, k=1)
    predictions = classifier.predict(pixels)
    assert [p.label for p in predictions] == names
    assert all(p.neighbours[0].index == i for i, p in enumerate(predictions))
    assert all(abs(p.neighbours[0].similarity - 1.0) < 1e-5 for p in predictions)
