import numpy as np
import pytest
import torch
from captum.attr import Occlusion as CaptumOcclusion

from app.explain import explain
from app.explain.occlusion import window_positions


@pytest.mark.parametrize(("window", "stride"), [(8, 4), (7, 3), (32, 32), (5, 5)])
def test_matches_captum_on_tiny_model(window, stride, tiny, pixels) -> None:
    ours = explain(
        tiny,
        pixels,
        "occlusion",
        target=3,
        params={
            "window": window,
            "stride": stride,
            "baseline": "black",
            "batch_size": 7,
        },
    )
    reference = CaptumOcclusion(tiny.module).attribute(
        pixels[None],
        sliding_window_shapes=(3, window, window),
        strides=(3, stride, stride),
        baselines=0.0,
        target=3,
        perturbations_per_eval=16,
    )[0]
    # Captum's window spans all channels, so its map is the same in each channel.
    np.testing.assert_allclose(ours.attribution, reference[0].numpy(), rtol=1e-4, atol=1e-6)


def test_matches_captum_on_default_model(default_model, chelsea) -> None:
    params = {"window": 64, "stride": 48, "baseline": "mean"}
    ours = explain(default_model, chelsea, "occlusion", target=285, params=params)
    mean = torch.tensor(default_model.preprocessing.mean).view(1, 3, 1, 1)
    reference = CaptumOcclusion(default_model.module).attribute(
        chelsea[None],
        sliding_window_shapes=(3, 64, 64),
        strides=(3, 48, 48),
        baselines=mean.expand(1, 3, 224, 224),
        target=285,
        perturbations_per_eval=16,
    )[0, 0]
    np.testing.assert_allclose(ours.attribution, reference.numpy(), rtol=1e-3, atol=1e-4)


def test_closed_form_on_linear_model(pixels) -> None:
    """Linear model, non-overlapping windows: each window's drop is its share of w·(x - b)."""
    from tests.models import LinearNet, linear_gradient, loaded

    model = loaded(LinearNet())
    result = explain(
        model,
        pixels,
        "occlusion",
        target=0,
        params={
            "window": 8,
            "stride": 8,
            "baseline": "black",
        },
    )
    contribution = (linear_gradient(model, 0) * pixels).sum(0)
    blocks = contribution.view(4, 8, 4, 8).sum(dim=(1, 3))
    expected = blocks.repeat_interleave(8, 0).repeat_interleave(8, 1)
    np.testing.assert_allclose(result.attribution, expected.numpy(), rtol=1e-4, atol=1e-5)


def test_window_positions_cover_the_border() -> None:
    assert window_positions(224, 16, 8) == list(range(0, 209, 8))
    assert window_positions(10, 4, 3) == [0, 3, 6]  # the last window ends at the border
    assert window_positions(10, 4, 4) == [0, 4, 8]  # the last window is clipped to 2 pixels
    assert window_positions(8, 8, 8) == [0]


@pytest.mark.parametrize(
    ("method", "params"),
    [("occlusion", {"window": 8, "stride": 8, "mode": "full"}), ("kernel_shap", {"samples": 23})],
)
def test_an_empty_batch_size_takes_the_devices(tiny, pixels, method, params) -> None:
    """batch_size left empty: forward passes of model.forward_batch images (tuned on CUDA)."""
    sizes = []
    forward = tiny.forward_logits

    def spy(batch: torch.Tensor) -> torch.Tensor:
        sizes.append(len(batch))
        return forward(batch)

    tiny.forward_batch = 5
    tiny.forward_logits = spy
    result = explain(tiny, pixels, method, target=3, params=params | {"batch_size": None})
    assert result.params["batch_size"] is None
    assert max(sizes) == 5 and sum(sizes) >= 16
    sizes.clear()
    explain(tiny, pixels, method, target=3, params=params | {"batch_size": 3})
    assert max(sizes) == 3
