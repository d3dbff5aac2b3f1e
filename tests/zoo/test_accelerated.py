"""The GPU forward path: a checked channels-last copy in the first precision that holds the
logits, the model left as it was; graph capture only where CUDA is present."""

import pytest
import torch
from torch import nn

from app.settings import Settings
from app.zoo import fast, load_model
from app.zoo.accelerated import build_accelerated_forward, tune_batch
from app.zoo.spec import CUDA_BATCHES
from tests.models import TinyNet, assert_unchanged, fingerprint, loaded

CPU = torch.device("cpu")


def batch(count: int = 5, size: int = 32) -> torch.Tensor:
    return torch.rand(count, 3, size, size, generator=torch.Generator().manual_seed(3))


class Cancelling(nn.Module):
    """(mean + 256) - 256, times 1000: exact in float32, lost in bfloat16 (spacing 2 at 256)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Linear(3, 3, bias=False)
        nn.init.eye_(self.scale.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale((x.mean(dim=(2, 3)) + 256) - 256) * 1000


class NoHalf(TinyNet):
    """TinyNet whose layers have no float16 kernel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.float16:
            raise RuntimeError("no float16 kernel for this layer")
        return super().forward(x)


def test_float32_copy_equals_the_model_and_leaves_it_alone() -> None:
    model = loaded(TinyNet())
    before = fingerprint(model.module)
    forward, engine = build_accelerated_forward(model.module, 32, CPU, dtypes=(torch.float32,))
    assert forward is not None
    assert engine == "PyTorch CPU, float32, channels-last"
    assert_unchanged(before, fingerprint(model.module))
    assert model.network.conv1.weight.is_contiguous()  # the copy is channels-last, not the model
    x = batch()
    with torch.no_grad():
        expected = model.module(x)
    got = forward(x)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    assert forward(x[:1]).shape == (1, 10)


def test_a_precision_that_loses_the_logits_is_refused() -> None:
    module = Cancelling().eval()
    x = batch()
    with torch.no_grad():
        expected = module(x)
    forward, engine = build_accelerated_forward(module, 32, CPU, (torch.bfloat16, torch.float32))
    assert forward is not None and forward.dtype == torch.float32
    torch.testing.assert_close(forward(x), expected, atol=1e-3, rtol=0)
    forward, engine = build_accelerated_forward(module, 32, CPU, (torch.bfloat16,))
    assert forward is None
    assert engine.startswith("PyTorch (bfloat16 differed by ")


def test_a_precision_that_raises_is_skipped_with_its_reason() -> None:
    module = loaded(NoHalf()).module
    forward, engine = build_accelerated_forward(module, 32, CPU, (torch.float16, torch.float32))
    assert forward is not None and forward.dtype == torch.float32
    forward, engine = build_accelerated_forward(module, 32, CPU, (torch.float16,))
    assert forward is None
    assert engine == "PyTorch (float16 failed: RuntimeError)"


def test_cuda_models_get_the_accelerated_path(monkeypatch) -> None:
    asked = []

    def record(module, size, device, tolerance):
        asked.append((size, device.type, tolerance))
        return None, "PyTorch (recorded)"

    monkeypatch.setattr(fast, "build_accelerated_forward", record)
    model = loaded(TinyNet())
    assert fast.build_fast_forward(model.module, 32, torch.device("cuda")) == (
        None,
        "PyTorch (recorded)",
    )
    assert asked == [(32, "cuda", fast.TOLERANCE)]
    assert fast.build_fast_forward(model.module, 32, torch.device("mps"))[1] == "PyTorch on mps"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_graphs_equal_eager() -> None:
    cuda = torch.device("cuda")
    model = loaded(TinyNet()).module.to(cuda)
    forward, engine = build_accelerated_forward(model, 32, cuda, (torch.float32,))
    assert forward is not None and engine.endswith("CUDA graphs")
    for count in (5, 3, 8, 5):  # padded to 8 and 4: captured once, then replayed
        x = batch(count).to(cuda)
        with torch.no_grad():
            expected = model(x)
        torch.testing.assert_close(forward(x), expected, atol=1e-4, rtol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_default_model_on_cuda_tunes_its_batch(chelsea) -> None:
    model = load_model("efficientnet-lite0", Settings(device="cuda"))
    assert model.ensure_fast_forward() == model.engine
    assert model.forward_batch in CUDA_BATCHES and "batches of" in model.engine
    with torch.no_grad():
        expected = model.module(chelsea[None].cuda())
    scale = max(1.0, float(expected.abs().max()))
    assert float((model.forward_logits(chelsea[None]) - expected).abs().max()) <= 1e-3 * scale


def test_tune_batch_picks_the_fastest_size_per_image() -> None:
    model = loaded(TinyNet())
    seen = []

    def forward(pixels: torch.Tensor) -> torch.Tensor:
        seen.append(len(pixels))
        with torch.no_grad():
            return model.module(pixels)

    best, timings = tune_batch(forward, 32, CPU, (2, 4, 8))
    assert sorted(timings) == [2, 4, 8] and best == min(timings, key=timings.__getitem__)
    assert all(seconds > 0 for seconds in timings.values())
    assert seen == [2, 2, 2, 4, 4, 4, 8, 8, 8]  # one warm-up and two timed runs each


def test_tune_batch_stops_where_memory_runs_out() -> None:
    def forward(pixels: torch.Tensor) -> torch.Tensor:
        if len(pixels) > 4:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return pixels.mean(dim=(1, 2, 3))

    best, timings = tune_batch(forward, 8, CPU, (2, 4, 8, 16))
    assert sorted(timings) == [2, 4] and best in (2, 4)
    with pytest.raises(ValueError, match="no batch size"):
        tune_batch(forward, 8, CPU, (8, 16))
