"""The model-parameter randomisation test: mechanics on a tiny model, and Adebayo et al.'s
finding reproduced on the default model."""

import numpy as np
import pytest

from app.errors import BadParameter, Cancelled
from app.imaging import sample_image
from app.trust.randomization import PASS_THRESHOLD, randomizable_units, randomization_test
from tests.models import assert_unchanged, fingerprint


def test_units_run_from_the_output_back(tiny) -> None:
    assert randomizable_units(tiny.network) == ["fc", "head", "conv3", "conv2", "conv1"]


def test_cascading_and_independent_leave_the_model_unchanged(tiny, pixels) -> None:
    before = fingerprint(tiny.module)
    cascading = randomization_test(tiny, pixels, "saliency", target=2, steps=5)
    assert cascading.steps == ["fc", "head", "conv3", "conv2", "conv1"]
    assert len(cascading.maps) == 5 and all(m.shape == (32, 32) for m in cascading.maps)
    assert set(cascading.similarity) == {"spearman_abs", "spearman", "ssim", "hog"}
    assert cascading.target == 2 and cascading.threshold == PASS_THRESHOLD
    independent = randomization_test(
        tiny, pixels, "saliency", target=2, mode="independent", steps=5
    )
    # The first step randomises only the top layer in both modes; later steps differ.
    np.testing.assert_allclose(independent.maps[0], cascading.maps[0])
    assert not np.allclose(independent.maps[-1], cascading.maps[-1])
    assert_unchanged(before, fingerprint(tiny.module))


def test_same_seed_same_result_and_bounds(tiny, pixels) -> None:
    first = randomization_test(tiny, pixels, "grad_cam", steps=3, seed=4)
    again = randomization_test(tiny, pixels, "grad_cam", steps=3, seed=4)
    assert first.similarity == again.similarity
    assert first.steps == ["fc", "conv3", "conv1"]  # spread from the top to all layers
    with pytest.raises(BadParameter, match="steps"):
        randomization_test(tiny, pixels, "saliency", steps=1)


def test_cancel_stops_it_and_leaves_the_model_unchanged(tiny, pixels) -> None:
    before = fingerprint(tiny.module)

    def stop(done: int, total: int) -> None:
        if done:
            raise Cancelled("stop")

    with pytest.raises(Cancelled):
        randomization_test(tiny, pixels, "occlusion", steps=4, progress=stop)
    assert_unchanged(before, fingerprint(tiny.module))


@pytest.fixture(scope="module")
def cascades(default_model):
    pixels = default_model.preprocessing.model_view(sample_image("chelsea"))
    return {
        method: randomization_test(default_model, pixels, method, target=285, steps=8)
        for method in ("saliency", "guided_backprop")
    }


@pytest.mark.slow
def test_guided_backprop_ignores_the_top_layers_but_the_gradient_does_not(cascades) -> None:
    """Adebayo et al., Fig. 2: after the classifier and the top blocks are randomised, guided
    backprop's map is nearly unchanged while the plain gradient's is not."""
    gradient = cascades["saliency"].similarity["spearman_abs"]
    guided = cascades["guided_backprop"].similarity["spearman_abs"]
    top = 3  # _fc, then down to _blocks.15 and _blocks.12
    assert min(guided[:top]) > 0.9
    assert max(gradient[:top]) < 0.5
    # Fully randomised, the gradient's map is unrelated to the original; guided backprop's
    # keeps more of it.
    assert gradient[-1] < 0.2 and guided[-1] > gradient[-1] + 0.1
    assert cascades["saliency"].passes and not cascades["guided_backprop"].passes


def test_data_randomization_compares_two_models_maps(tiny, pixels) -> None:
    from app.explain import explain
    from app.trust import data_randomization_test, similarities
    from tests.models import TinyNet, loaded

    other = loaded(TinyNet(), seed=7)
    result = data_randomization_test(tiny, other, pixels, "saliency", target=3)
    expected = similarities(
        explain(tiny, pixels, "saliency", target=3).attribution,
        explain(other, pixels, "saliency").attribution,
    )
    assert result["similarity"] == expected and result["target"] == 3
    same = data_randomization_test(tiny, tiny, pixels, "saliency")  # both: the top class
    assert same["similarity"]["spearman_abs"] == pytest.approx(1.0)


def test_layer_order_ignores_other_threads_using_the_model(tiny, pixels) -> None:
    import threading

    import torch

    alone = randomization_test(tiny, pixels, "saliency", steps=5).steps
    stop = threading.Event()

    def busy() -> None:
        with torch.no_grad():
            while not stop.is_set():
                tiny.module(pixels[None])

    other = threading.Thread(target=busy)
    other.start()
    try:
        together = [randomization_test(tiny, pixels, "saliency", steps=5).steps for _ in range(5)]
    finally:
        stop.set()
        other.join()
    assert all(steps == alone for steps in together)


def test_randomised_copies_of_a_fast_model_use_the_fast_path(pixels, monkeypatch) -> None:
    from app.zoo import LoadedModel
    from tests.models import TinyNet, loaded

    model = loaded(TinyNet())
    model.enable_fast_forward()
    engines = []
    original = LoadedModel.enable_fast_forward

    def record(self: LoadedModel) -> str:
        engines.append(original(self))
        return engines[-1]

    monkeypatch.setattr(LoadedModel, "enable_fast_forward", record)
    randomization_test(model, pixels, "occlusion", params={"window": 8, "stride": 4}, steps=3)
    assert engines == ["ONNX Runtime"] * 3
    randomization_test(model, pixels, "saliency", steps=3)  # gradients: PyTorch, no export
    assert len(engines) == 3
