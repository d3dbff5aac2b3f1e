"""Incremental occlusion gives the full passes' map, on ONNX Runtime and on PyTorch, and is
refused (the method falls back to full passes) whenever it could be wrong."""

import dataclasses
import sys

import numpy as np
import pytest
from captum.attr import Occlusion as CaptumOcclusion
from torch import nn

from app.explain import explain
from app.zoo import incremental
from tests.models import TinyNet, assert_unchanged, fingerprint, loaded, staged, tiny_pixels


def occlusion(model, mode: str, window: int, stride: int, **extra):
    params = {"window": window, "stride": stride, "baseline": "black", "mode": mode, **extra}
    return explain(model, tiny_pixels(), "occlusion", target=3, params=params)


def captum(model, window: int, stride: int) -> np.ndarray:
    return (
        CaptumOcclusion(model.module)
        .attribute(
            tiny_pixels()[None],
            sliding_window_shapes=(3, window, window),
            strides=(3, stride, stride),
            baselines=0.0,
            target=3,
        )[0, 0]
        .numpy()
    )


@pytest.mark.parametrize("onnx", [True, False])
@pytest.mark.parametrize(("window", "stride"), [(8, 4), (7, 3), (5, 5), (3, 1), (32, 32), (12, 9)])
def test_incremental_equals_full_and_captum(onnx, window, stride) -> None:
    model = staged()
    if onnx:
        model.enable_fast_forward()
    model.prepare()  # as load_model does; unprepared, a short run would use full passes
    before = fingerprint(model.module)
    fast = occlusion(model, "incremental", window, stride, batch_size=5)
    full = occlusion(model, "full", window, stride)
    assert fast.engine == ("ONNX Runtime" if onnx else "PyTorch") + ", incremental"
    assert "incremental" not in full.engine
    np.testing.assert_allclose(fast.attribution, full.attribution, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fast.attribution, captum(model, window, stride), atol=1e-4)
    assert_unchanged(before, fingerprint(model.module))


def test_an_unprepared_model_prepares_only_for_long_runs() -> None:
    model = staged()
    assert occlusion(model, "incremental", 8, 4).engine == "PyTorch"  # 49 windows
    assert model.incremental_occlusion(prepare=False) == (None, "not prepared")
    assert occlusion(model, "incremental", 2, 1).engine == "PyTorch, incremental"  # 961
    assert model.incremental_occlusion(prepare=False)[0] is not None


def test_measured_reach_and_stride() -> None:
    model = staged()
    engine, _ = model.incremental_occlusion()
    assert engine is not None
    (stage,) = engine._local
    # 3×3, then 3×3 stride 2, then 5×5 at stride 2: reach 1 + 1 + 2·2 = 6 px (+ one stride).
    assert stage.stride == 2
    assert 6 <= stage.before <= 8 and 6 <= stage.after <= 8


def test_models_without_stages_use_full_passes(tiny) -> None:
    assert tiny.incremental_occlusion() == (
        None,
        "tiny declares no stages for incremental occlusion",
    )
    assert occlusion(tiny, "incremental", 8, 4).engine == "PyTorch"


def test_a_stage_that_is_not_local_is_refused() -> None:
    model = staged()

    def global_first(module: nn.Module) -> list[nn.Module]:
        # The first "local" stage ends in a global pool: every output sees the whole image.
        head = nn.Sequential(module.normalize, module.network.early, nn.AdaptiveAvgPool2d(4))
        return [head.eval(), nn.Sequential(*list(module.network.late)[2:]).eval()]

    model = dataclasses.replace(model, spec=dataclasses.replace(model.spec, stages=global_first))
    engine, reason = model.incremental_occlusion()
    assert engine is None and "incremental occlusion unavailable" in reason


def test_a_wrong_engine_is_refused_by_the_self_check(monkeypatch) -> None:
    real = incremental.IncrementalOcclusion.logits
    monkeypatch.setattr(
        incremental.IncrementalOcclusion, "logits", lambda *args: real(*args) + 0.01
    )
    model = staged()
    engine, reason = model.incremental_occlusion()
    assert engine is None and reason.startswith("incremental occlusion differed from the model")
    # The method still gives the exact map, through full passes.
    np.testing.assert_allclose(
        occlusion(model, "incremental", 8, 4).attribution, captum(model, 8, 4), atol=1e-4
    )


def test_a_stage_in_training_mode_is_refused_and_the_model_stays_in_eval() -> None:
    model = staged()
    cut = model.spec.stages
    assert cut is not None
    training = dataclasses.replace(
        model.spec, stages=lambda module: [stage.train() for stage in cut(module)]
    )
    model = dataclasses.replace(model, spec=training)
    model.module.eval()
    before = fingerprint(model.module)
    engine, reason = model.incremental_occlusion()
    assert engine is None and "training mode" in reason
    model.module.eval()  # the test's own stages put it in training mode, not the engine
    assert_unchanged(before, fingerprint(model.module))


def test_without_onnxruntime_it_runs_on_pytorch(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    model = staged()
    model.fast_forward = lambda x: model.module(x)  # as if the fast path were on
    engine, _ = model.incremental_occlusion()
    assert engine is not None and engine.engine == "PyTorch"


def test_a_compressed_variant_never_gets_an_engine_cut_from_its_twin() -> None:
    model = dataclasses.replace(staged(), forward_is_module=False, engine="ONNX Runtime int8")
    engine, reason = model.incremental_occlusion()
    assert engine is None and "ONNX Runtime int8" in reason


def test_drill_down_with_everything_refined_is_exact() -> None:
    model = staged()
    exact = occlusion(model, "full", 6, 2)
    refined = occlusion(model, "drill_down", 6, 2, refine=1.0)
    np.testing.assert_allclose(refined.attribution, exact.attribution, rtol=1e-4, atol=1e-5)
    assert refined.engine.endswith("drill-down")


def test_drill_down_computes_fewer_windows() -> None:
    model = staged()
    counted: list[int] = []
    params = {"window": 6, "stride": 2, "mode": "drill_down", "refine": 0.25}
    explain(
        model,
        tiny_pixels(),
        "occlusion",
        target=3,
        params=params,
        progress=lambda done, total: counted.append(total),
    )
    windows = len(range(0, 32 - 6 + 1, 2)) ** 2  # 14 × 14
    coarse = len(set(range(0, 14, 2)) | {13}) ** 2  # 8 × 8
    assert counted[-1] == coarse + int(np.ceil(0.25 * (windows - coarse)))


@pytest.mark.slow
def test_default_model_incremental_equals_full(default_model, chelsea) -> None:
    engine, name = default_model.incremental_occlusion()
    assert engine is not None and name == "ONNX Runtime"
    params = {"window": 16, "stride": 16, "baseline": "mean"}
    fast = explain(default_model, chelsea, "occlusion", target=285, params=params)
    full = explain(
        default_model, chelsea, "occlusion", target=285, params={**params, "mode": "full"}
    )
    assert fast.engine == "ONNX Runtime, incremental"
    peak = np.abs(full.attribution).max()
    np.testing.assert_allclose(fast.attribution, full.attribution, atol=1e-4 * peak)


def test_tiny_net_fixture_is_not_staged() -> None:
    assert loaded(TinyNet()).spec.stages is None
