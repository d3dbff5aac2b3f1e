"""Feature visualisation: the objective really rises (against the starting image and against
noise, measured by a separate forward pass), the same seed gives the same image, the cache
answers a repeat, bad requests are refused and the model is left unchanged, also when stopped."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from app.concepts.feature_visualisation import (
    FeatureVisualisationParams,
    _parameterisation,
    channel_activation,
    visualise,
)
from app.concepts.tap import tap
from app.errors import BadParameter, Cancelled
from app.zoo import LoadedModel
from tests.models import assert_unchanged, fingerprint


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny nets step in a millisecond on one thread; two threads on a loaded machine wait on
    each other for far longer (0.2 s against 4 s for 30 steps, measured under load)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


_QUICK = {"size": 32, "steps": 30, "jitter": 2, "learning_rate": 0.1}


def _channel(**extra: object) -> FeatureVisualisationParams:
    return FeatureVisualisationParams(layer="conv2", channel=3, **(_QUICK | extra))  # type: ignore[arg-type]


def test_the_channel_rises_above_the_start_and_above_noise(tiny: LoadedModel) -> None:
    params = _channel()
    result = visualise(tiny, params)
    assert result.image.shape == (32, 32, 3) and result.image.dtype == np.float32
    assert result.image.min() >= 0.0 and result.image.max() <= 1.0
    final = torch.from_numpy(result.image).permute(2, 0, 1)[None]
    initial = _parameterisation(params, torch.device("cpu"))[0]().detach()
    noise = torch.rand(16, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    reached = float(channel_activation(tiny, "conv2", 3, final)[0])
    assert reached > float(channel_activation(tiny, "conv2", 3, initial)[0]) + 0.1
    assert reached > float(channel_activation(tiny, "conv2", 3, noise).max())
    # the reported numbers are the same measurements
    assert result.objective == pytest.approx(reached, abs=0.02)  # the PNG-free image, unrounded
    assert result.start == pytest.approx(float(channel_activation(tiny, "conv2", 3, initial)[0]))
    assert result.steps == 30 and result.size == 32 and result.seconds > 0


def test_a_class_logit_rises(tiny: LoadedModel) -> None:
    params = FeatureVisualisationParams(target=3, **_QUICK)  # type: ignore[arg-type]
    result = visualise(tiny, params)
    pixels = torch.from_numpy(result.image).permute(2, 0, 1)[None]
    noise = torch.rand(16, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        reached = float(tiny.module(pixels)[0, 3])
        assert reached > float(tiny.module(noise)[:, 3].max())
    assert result.objective > result.start and result.target_label == "class 3"


def test_the_same_seed_gives_the_same_image(tiny: LoadedModel) -> None:
    first = visualise(tiny, _channel(steps=5))
    again = visualise(tiny, _channel(steps=5))
    other = visualise(tiny, _channel(steps=5, seed=1))
    np.testing.assert_array_equal(first.image, again.image)
    assert np.abs(first.image - other.image).max() > 1e-3


def test_a_repeat_is_read_from_the_cache(tiny: LoadedModel, tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    first = visualise(tiny, _channel(steps=5), cache_dir=tmp_path)
    assert not first.cached and len(list(tmp_path.glob("*.png"))) == 1
    again = visualise(tiny, _channel(steps=5), lambda d, t: calls.append((d, t)), tmp_path)
    assert again.cached and calls == [(1, 1)]  # no optimisation step ran
    assert again.key == first.key and again.seconds == first.seconds
    np.testing.assert_allclose(again.image, first.image, atol=0.5 / 255 + 1e-6)
    other = visualise(tiny, _channel(steps=6), cache_dir=tmp_path)  # other settings: a new key
    assert not other.cached and other.key != first.key
    (tmp_path / f"{first.key}.json").write_text("{broken")  # an unreadable entry is redone
    assert not visualise(tiny, _channel(steps=5), cache_dir=tmp_path).cached


def test_bad_requests_are_refused(tiny: LoadedModel) -> None:
    for params, words in (
        ({"layer": "nowhere", "channel": 0}, "no layer"),
        ({"layer": "conv3", "channel": 16}, "16 channels"),
        ({"layer": "conv3"}, "needs a channel"),
        ({"target": 10}, "not a class"),
        ({}, "give a layer"),
    ):
        with pytest.raises(BadParameter, match=words):
            visualise(tiny, FeatureVisualisationParams(**params, steps=1, size=32))  # type: ignore[arg-type]


def test_the_model_is_left_unchanged_also_when_stopped(tiny: LoadedModel) -> None:
    tiny.network.get_submodule("conv2").train()  # a module in train mode stays so
    tiny.network.get_submodule("conv1").weight.requires_grad_(True)  # and gets no .grad
    before = fingerprint(tiny.module)
    visualise(tiny, _channel(steps=3))
    assert_unchanged(before, fingerprint(tiny.module))

    def stop(done: int, total: int) -> None:
        if done == 2:
            raise Cancelled("stopped")

    with pytest.raises(Cancelled):
        visualise(tiny, _channel(steps=5), stop)
    assert_unchanged(before, fingerprint(tiny.module))
    with pytest.raises(Cancelled):
        visualise(tiny, FeatureVisualisationParams(target=1, steps=5, size=32), stop)
    assert_unchanged(before, fingerprint(tiny.module))


def test_a_channel_stops_the_forward_pass_after_its_layer(tiny: LoadedModel) -> None:
    """The objective is the tapped activation (after conv2's ReLU6) of a full forward pass, but
    the optimisation's passes stop there: four more steps run conv2 four more times, the head
    and the classifier never (conv3 still starts: its input is the tapped tensor)."""
    pixels = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    with tap(tiny, "conv2") as tapped, torch.no_grad():
        tiny.module(pixels)
    expected = tapped.outputs[-1][:, 3].flatten(1).mean(dim=1)
    torch.testing.assert_close(channel_activation(tiny, "conv2", 3, pixels), expected)
    calls: dict[int, list[str]] = {}
    for steps in (2, 6):
        seen: list[str] = calls.setdefault(steps, [])
        handles = [
            tiny.network.get_submodule(name).register_forward_hook(
                lambda *_, n=name, seen=seen: seen.append(n)
            )
            for name in ("conv2", "head", "fc")
        ]
        try:
            visualise(tiny, _channel(steps=steps))
        finally:
            for handle in handles:
                handle.remove()
    extra = {name: calls[6].count(name) - calls[2].count(name) for name in ("conv2", "head", "fc")}
    assert extra == {"conv2": 4, "head": 0, "fc": 0}


def test_a_channel_off_on_the_starting_image_still_rises(tiny: LoadedModel) -> None:
    """conv2's channel 3 biased so that its ReLU6 is 0 everywhere on the starting image: the
    activation passes no gradient there, its input does, and the channel comes on."""
    params = _channel(steps=40)
    initial = _parameterisation(params, torch.device("cpu"))[0]().detach()
    conv2 = tiny.network.get_submodule("conv2")
    with torch.no_grad():
        hidden = torch.relu(tiny.network.get_submodule("conv1")(tiny.module.normalize(initial)))
        before = conv2(hidden)[0, 3]
        conv2.bias[3] -= float(before.max()) + 0.05
    assert float(channel_activation(tiny, "conv2", 3, initial)[0]) == 0.0
    result = visualise(tiny, params)
    assert result.start == 0.0 and result.objective > 0.05
