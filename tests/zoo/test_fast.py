"""The ONNX Runtime forward path equals eager PyTorch, and falls back to it with a reason."""

import dataclasses
import sys

import numpy as np
import pytest
import torch

from app.explain import explain
from app.settings import Settings
from app.zoo import fast, load_model
from tests.models import TinyNet, assert_unchanged, fingerprint, loaded, tiny_pixels


def batch(size: int = 32, count: int = 5) -> torch.Tensor:
    return torch.rand(count, 3, size, size, generator=torch.Generator().manual_seed(3))


def test_tiny_model_fast_path_equals_eager() -> None:
    model = loaded(TinyNet())
    before = fingerprint(model.module)
    assert model.enable_fast_forward() == "ONNX Runtime"
    assert_unchanged(before, fingerprint(model.module))
    x = batch()
    with torch.no_grad():
        expected = model.module(x)
    np.testing.assert_allclose(model.forward_logits(x), expected, atol=1e-5, rtol=0)
    # Other batch sizes than the export's probe work too.
    assert model.forward_logits(x[:1]).shape == (1, 10)


def test_without_onnxruntime_the_model_stays_on_pytorch(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    model = loaded(TinyNet())
    assert model.enable_fast_forward() == "PyTorch (onnxruntime is not installed)"
    x = batch()
    with torch.no_grad():
        assert torch.equal(model.forward_logits(x), model.module(x))


def test_a_failed_export_falls_back(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise RuntimeError("operator not supported")

    monkeypatch.setattr(torch.onnx, "export", refuse)
    model = loaded(TinyNet())
    assert model.enable_fast_forward() == "PyTorch (ONNX export failed: RuntimeError)"
    assert model.fast_forward is None


def test_a_mismatching_export_is_not_used(monkeypatch) -> None:
    original = fast._OnnxRuntimeForward.__call__
    monkeypatch.setattr(
        fast._OnnxRuntimeForward, "__call__", lambda self, x: original(self, x) + 0.5
    )
    model = loaded(TinyNet())
    assert model.enable_fast_forward().startswith("PyTorch (ONNX Runtime differed by 0.5")


def test_settings_can_turn_it_off() -> None:
    model = load_model("efficientnet-lite0", Settings(device="cpu", fast_forward=False))
    assert model.engine == "PyTorch" and model.fast_forward is None


def test_default_model_fast_path_equals_eager(default_model, chelsea) -> None:
    assert default_model.engine == "ONNX Runtime"
    x = torch.cat([chelsea[None], batch(224, 3)])
    with torch.no_grad():
        expected = default_model.module(x)
    assert float((default_model.forward_logits(x) - expected).abs().max()) < 1e-4


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "params"),
    [("occlusion", {"window": 32, "stride": 16}), ("kernel_shap", {"samples": 64})],
)
def test_perturbation_maps_equal_the_eager_maps(default_model, chelsea, method, params) -> None:
    eager = dataclasses.replace(default_model, fast_forward=None, engine="PyTorch")
    fast_map = explain(default_model, chelsea, method, target=285, params=params)
    eager_map = explain(eager, chelsea, method, target=285, params=params)
    assert fast_map.engine.startswith("ONNX Runtime") and eager_map.engine.startswith("PyTorch")
    peak = np.abs(eager_map.attribution).max()
    np.testing.assert_allclose(fast_map.attribution, eager_map.attribution, atol=1e-4 * peak)
    # Gradient methods always run on PyTorch.
    assert explain(default_model, chelsea, "saliency").engine == "PyTorch"


def test_tiny_pixels_run_through_the_fast_path() -> None:
    model = loaded(TinyNet())
    model.enable_fast_forward()
    eager = dataclasses.replace(model, fast_forward=None, engine="PyTorch")
    params = {"window": 8, "stride": 4}
    result = explain(model, tiny_pixels(), "occlusion", target=1, params=params)
    expected = explain(eager, tiny_pixels(), "occlusion", target=1, params=params)
    assert result.engine == "ONNX Runtime"
    np.testing.assert_allclose(result.attribution, expected.attribution, atol=1e-5)


def test_the_fast_path_is_built_on_first_need(monkeypatch) -> None:
    """Deferred at load: a gradient method (and a one-image prediction) never pays the export;
    the first forward-only method builds it, once."""
    exports: list[int] = []
    export = fast._export_any_size
    monkeypatch.setattr(fast, "_export_any_size", lambda *a: exports.append(1) or export(*a))
    model = loaded(TinyNet())
    model.defer_fast_forward()
    assert explain(model, tiny_pixels(), "saliency", target=1).engine == "PyTorch"
    model.forward_logits(tiny_pixels()[None])
    assert model.fast_forward is None and exports == []
    params = {"window": 8, "stride": 4}
    assert explain(model, tiny_pixels(), "occlusion", target=1, params=params).engine.startswith(
        "ONNX Runtime"
    )
    explain(model, tiny_pixels(), "kernel_shap", target=1, params={"samples": 16})
    assert model.fast_forward is not None and exports == [1]


def test_threads_asking_at_once_build_the_fast_path_once(monkeypatch) -> None:
    import threading

    exports: list[int] = []
    export = fast._export_any_size
    monkeypatch.setattr(fast, "_export_any_size", lambda *a: exports.append(1) or export(*a))
    model = loaded(TinyNet())
    model.defer_fast_forward()
    threads = [threading.Thread(target=model.forward_logits, args=(batch(),)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert exports == [1] and model.engine == "ONNX Runtime"


def test_load_model_defers_the_fast_path_unless_asked_to_prepare() -> None:
    model = load_model("efficientnet-lite0", Settings(device="cpu"))
    assert model.fast_forward is None and model.engine == "PyTorch"
    assert model.ensure_fast_forward() == "ONNX Runtime"
