"""Compressed variants as models: a variant kept by a run and loaded back by name
(`compressed/RUN/VARIANT`) computes what the variant built in the process computed, on the
same engine; a deleted run's variant is a 404 naming it."""

import json
import shutil

import pytest
import torch

from app.catalog import catalog
from app.compress.base import CompressionData
from app.compress.runs import compress
from app.compress.saved import keep_variant, load_variant
from app.errors import UnknownModel, http_status
from app.settings import Settings
from app.zoo import LoadedModel, load_model
from app.zoo.pool import ModelPool

RUN = "0123456789ab"


@pytest.fixture
def data() -> CompressionData:
    generator = torch.Generator().manual_seed(1)
    pixels = torch.rand(16, 3, 32, 32, generator=generator)
    return CompressionData(calibration=pixels[:8], evaluation=pixels[8:])


def _keep(settings: Settings, tiny: LoadedModel, recipe: str, params: dict, data) -> tuple:
    """Build a variant in the process and keep it as a run would; (variant, its name)."""
    variant = compress(tiny, recipe, params, data)
    folder = settings.data_dir / "compress" / "runs" / RUN
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"1-{recipe}"
    (folder / f"{stem}.{variant.artifact_format}").write_bytes(variant.artifact)
    keep_variant(folder, stem, recipe, tiny, variant)
    (folder / "report.json").write_text(json.dumps({"id": RUN, "rows": []}))
    return variant, f"compressed/{RUN}/{stem}"


@pytest.mark.parametrize(
    ("recipe", "params"),
    [
        ("int8_static", {"per_channel": False}),
        ("prune_channels", {"ratio": 0.5, "round_to": 1}),
        ("half_precision", {"dtype": "bfloat16"}),
    ],
)
def test_a_kept_variant_loads_back_on_its_engine_with_its_gradients(
    settings: Settings, tiny: LoadedModel, data, pixels, recipe: str, params: dict
) -> None:
    variant, name = _keep(settings, tiny, recipe, params, data)
    loaded = load_variant(settings, name, lambda original: tiny)
    assert loaded.name == name and loaded.engine == variant.engine
    assert loaded.num_classes == tiny.num_classes and not loaded.forward_is_module
    batch = torch.cat([pixels[None], data.evaluation[:3]])
    # The forward engine: the very int8 graph / pruned network / 16-bit copy.
    torch.testing.assert_close(
        loaded.forward_logits(batch), variant.model.forward_logits(batch), atol=1e-5, rtol=1e-4
    )
    # What gradient methods differentiate: the same twin, with the same input gradients.
    inputs = [batch.clone().requires_grad_(True) for _ in range(2)]
    for model, image in zip((loaded, variant.model), inputs, strict=True):
        model.module(image)[:, 3].sum().backward()
    torch.testing.assert_close(inputs[0].grad, inputs[1].grad, atol=1e-5, rtol=1e-4)
    assert loaded.gradient_engine is not None
    entry = next(entry for entry in catalog(settings) if entry.name == name)
    assert entry.group == "compressed" and entry.engine == variant.engine
    assert entry.bytes == len(variant.artifact) and entry.classes == tiny.num_classes


def test_a_deleted_runs_variant_is_a_404_naming_it(
    settings: Settings, tiny: LoadedModel, data
) -> None:
    _, name = _keep(settings, tiny, "int8_dynamic", {}, data)
    pool = ModelPool(settings, load_model, preloaded=[tiny])
    assert pool.get(name).engine == "ONNX Runtime dynamic int8"  # its original from the pool
    shutil.rmtree(settings.data_dir / "compress" / "runs" / RUN)  # as old runs are forgotten
    with pytest.raises(UnknownModel, match=f"{name}.*was deleted") as error:
        pool.get(name)  # not the copy loaded before
    assert http_status(error.value) == 404
    assert name not in [entry.name for entry in catalog(settings)]
    with pytest.raises(UnknownModel, match="compressed/RUN/VARIANT"):
        load_model("compressed/nope", settings)
