"""TCAV: the scores are Captum's own on the same sets, the test is Student's t, and a planted
concept (a Shapes model trained with cue=aligned: class k always on texture k) is found."""

import math
import random
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from app.concepts.data import smooth_noise
from app.concepts.tcav import ConceptSet, run_tcav, significance
from app.errors import BadParameter
from app.imaging.preprocessing import Normalize
from app.shapes.dataset import TEXTURES, ShapesDataset, texture_image
from app.shapes.networks import ShapesStudent
from tests.concepts.test_index import BlockNet
from tests.models import assert_unchanged, fingerprint, loaded


def _noise_sets(count: int, images: int, size: int) -> list[ConceptSet]:
    return [ConceptSet(f"noise:{k}", smooth_noise(images, size, k)) for k in range(count)]


def test_scores_are_captums_own(tmp_path) -> None:
    from captum.concept import TCAV, Concept

    model = loaded(BlockNet(), grad_cam_layer="conv3")
    generator = torch.Generator().manual_seed(5)
    inputs = torch.rand(5, 3, 32, 32, generator=generator)
    concept = ConceptSet("bright", 0.5 + 0.5 * torch.rand(9, 3, 32, 32, generator=generator))
    randoms = _noise_sets(3, 9, 32)
    before = fingerprint(model.module)
    result = run_tcav(model, inputs, 4, concept, randoms, ["conv2"], seed=3)
    assert_unchanged(before, fingerprint(model.module))

    # The same experiment written against Captum's documented API, seeded the same way.
    sets = [concept, *randoms]
    concepts = [Concept(k, s.name.replace(":", "_"), [s.pixels]) for k, s in enumerate(sets)]
    experiments = [[concepts[0], concepts[i]] for i in (1, 2, 3)]
    experiments += [[concepts[1], concepts[2]], [concepts[1], concepts[3]]]
    experiments += [[concepts[2], concepts[3]]]
    random.seed(3)
    np.random.seed(3)
    torch.manual_seed(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tcav = TCAV(model.module, ["network.conv2"], save_path=str(tmp_path) + "/")
        scores = tcav.interpret(inputs, experiments, target=4)
    direct = [
        float(scores["-".join(str(c.id) for c in pair)]["network.conv2"]["sign_count"][0])
        for pair in experiments
    ]
    layer = result["layers"]["conv2"]
    assert layer["concept_scores"] + layer["random_scores"] == direct
    assert layer["score"] == pytest.approx(np.mean(direct[:3]))


def test_significance_is_students_two_sided_t_test() -> None:
    concept, null = [0.9, 1.0, 0.8, 1.0], [0.2, 0.6, 0.4, 0.0, 0.5, 0.3]
    n, m = len(concept), len(null)
    pooled = ((n - 1) * np.var(concept, ddof=1) + (m - 1) * np.var(null, ddof=1)) / (n + m - 2)
    t = (np.mean(concept) - np.mean(null)) / math.sqrt(pooled * (1 / n + 1 / m))
    # Two-sided p from the t distribution with n + m - 2 degrees of freedom (8): closed form
    # for even degrees of freedom, so no scipy on this side.
    x = 8 / (8 + t * t)
    tail = math.sqrt(1 - x) * (1 + x / 2 + 3 * x * x / 8 + 5 * x**3 / 16)  # I_{1-x}(1/2, 4)
    got_t, got_p = significance(concept, null)
    assert got_t == pytest.approx(t)
    assert got_p == pytest.approx(1 - tail, rel=1e-6)
    assert significance([1.0], null) == (None, None)


def test_bad_sets_are_refused() -> None:
    model = loaded(BlockNet(), grad_cam_layer="conv3")
    concept = ConceptSet("c", torch.rand(5, 3, 32, 32))
    with pytest.raises(BadParameter, match="at least one random"):
        run_tcav(model, torch.rand(2, 3, 32, 32), 0, concept, [], ["conv2"])
    with pytest.raises(BadParameter, match="under 3 images"):
        tiny = [ConceptSet("r", torch.rand(2, 3, 32, 32))]
        run_tcav(model, torch.rand(2, 3, 32, 32), 0, concept, tiny, ["conv2"])


@pytest.mark.slow
def test_planted_texture_drives_its_class() -> None:
    """A small Shapes student trained with cue=aligned follows the texture (it fails on swapped
    textures); TCAV must find texture k significant, and positive, for class k."""
    torch.manual_seed(0)
    size, k = 32, 5  # class 5 (ring) always on texture 5 (horizontal gradient)
    pixels, labels = ShapesDataset(300, size, 0, "aligned", 0).tensors()
    model = loaded(ShapesStudent(width=8), grad_cam_layer=None)
    network = model.network
    normalize = Normalize(model.preprocessing)
    for parameter in network.parameters():
        parameter.requires_grad_(True)
    network.train()
    optimiser = torch.optim.Adam(network.parameters(), 1e-2)
    for _ in range(4):
        for start in range(0, len(pixels), 50):
            batch = slice(start, start + 50)
            loss = F.cross_entropy(network(normalize(pixels[batch])), labels[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    network.eval()
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    test, test_labels = ShapesDataset(100, size, 0, "aligned", 10_000).tensors()
    assert (model.module(test).argmax(1) == test_labels).float().mean() > 0.7

    def textures(kind: int) -> torch.Tensor:
        images = [texture_image(kind, size, seed=100 + i) for i in range(10)]
        return torch.stack([torch.from_numpy(i).permute(2, 0, 1).float() / 255 for i in images])

    inputs = test[test_labels == k][:6]
    randoms = _noise_sets(8, 10, size)  # 8 scores against 28 random-vs-random ones
    planted = ConceptSet(TEXTURES[k], textures(k))
    result = run_tcav(model, inputs, k, planted, randoms, ["features.8"])["layers"]["features.8"]
    assert result["p"] is not None and result["p"] < 0.05
    assert result["score"] > result["random_mean"]
