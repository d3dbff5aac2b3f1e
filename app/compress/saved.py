"""A compression run's variants as models: `compressed/RUN/VARIANT` in every page, the API and
the CLI (`--model`).

A run keeps, next to each variant's artifact (`VARIANT.onnx` or `.safetensors`, what a user
would ship), `VARIANT.model.safetensors` (the float weights its gradient methods differentiate)
and `VARIANT.model.json` (how to rebuild it: recipe, parameters, engine, fake quantization).
VARIANT is the artifact's stem, e.g. `1-int8_static`. Loading one rebuilds it on its real
engine: `forward_logits` runs the artifact (int8 on ONNX Runtime, the pruned network, half
precision) and gradient methods differentiate the saved network (the fake-quantized twin for
int8).
"""

import dataclasses
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from safetensors.torch import save_file
from torch import nn

from app.catalog import COMPRESSED_PREFIX
from app.compress._variants import as_variant, editable_copy
from app.compress.base import RECIPES, CompressedModel
from app.compress.fake_quant import FAKE_QUANTIZATION, fake_quantize
from app.errors import UnknownModel
from app.params import parse_params
from app.settings import Settings
from app.zoo import LoadedModel
from app.zoo.weights import apply_state_dict, load_state_dict

__all__ = ["COMPRESSED_PREFIX", "keep_variant", "load_variant", "parse_variant_name"]

_PARAMETRIZED = ".parametrizations.weight.original"
_NAME = re.compile(r"compressed/([0-9a-f]{12})/([0-9]{1,3}-[a-z0-9_]{1,60})")


def parse_variant_name(name: str) -> tuple[str, str]:
    """(run id, variant stem) of `compressed/RUN/VARIANT`, or UnknownModel saying the form."""
    match = _NAME.fullmatch(name)
    if match is None:
        raise UnknownModel(
            f"unknown model {name!r}; compressed variants are named compressed/RUN/VARIANT, "
            "e.g. compressed/0123456789ab/1-int8_static (lantern models lists them)"
        )
    return match.group(1), match.group(2)


def _runs(settings: Settings) -> Path:
    return settings.data_dir / "compress" / "runs"


def keep_variant(
    folder: Path, stem: str, label: str, original: LoadedModel, variant: CompressedModel
) -> None:
    """Write what load_variant needs to rebuild `variant` (row `label` of the run in `folder`)."""
    module = variant.model.module
    quantization = getattr(module, FAKE_QUANTIZATION, None)
    # A twin's float weights under their plain names (stripping a copy of the twin would
    # change the parametrized class it shares with the twin itself).
    state = {
        key.replace(_PARAMETRIZED, ".weight"): value.detach().contiguous().cpu()
        for key, value in module.state_dict().items()
    }
    save_file(state, str(folder / f"{stem}.model.safetensors"))
    artifact = f"{stem}.{variant.artifact_format}"
    description = {
        "name": f"{COMPRESSED_PREFIX}{folder.name}/{stem}",
        "title": f"{label} of {original.name}",
        "recipe": variant.recipe,
        "params": variant.params,
        "original": original.name,
        "engine": variant.engine,
        "gradient_engine": variant.gradient_note
        or "gradient methods differentiate the compressed network itself",
        "artifact": artifact,
        "artifact_bytes": len(variant.artifact),
        "parameters": variant.parameters,
        "nonzero_parameters": variant.nonzero_parameters,
        "classes": original.num_classes,
        "input_size": original.input_size,
        "fake_quantization": quantization,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (folder / f"{stem}.model.json").write_text(json.dumps(description, indent=1))


def load_variant(
    settings: Settings, name: str, original_of: Callable[[str], LoadedModel]
) -> LoadedModel:
    """The saved variant `compressed/RUN/VARIANT` on its real engine; `original_of(name)` gives
    the model it was made from (its architecture). UnknownModel (404) naming it when its run was
    deleted or it was never kept."""
    run_id, stem = parse_variant_name(name)
    folder = _runs(settings) / run_id
    described = folder / f"{stem}.model.json"
    if not (folder / "report.json").is_file():
        raise UnknownModel(
            f"no compressed model {name!r}: compression run {run_id} was deleted "
            "(or never finished); lantern models lists the kept ones"
        )
    if not described.is_file():
        raise UnknownModel(
            f"no compressed model {name!r}: run {run_id} has no variant {stem!r} kept as a model"
        )
    description: dict[str, Any] = json.loads(described.read_text())
    original = original_of(description["original"])
    recipe = RECIPES.get(description["recipe"])
    params = parse_params(recipe.Params, description["params"], recipe.name)
    network = recipe.restore_network(editable_copy(original), params, original.input_size)
    weights = folder / f"{stem}.model.safetensors"
    apply_state_dict(network, load_state_dict(weights, settings.max_weights_bytes), name)
    module: nn.Module = network
    quantization = description.get("fake_quantization")
    if quantization is not None:
        # fake_quantize's arguments as it recorded them (app/compress/fake_quant.py).
        arguments = dict(quantization)
        ranges = arguments.pop("ranges")
        layers = arguments.pop("layers")
        module = fake_quantize(
            network,
            {layer: (low, high) for layer, (low, high) in ranges.items()},
            layers=None if layers is None else set(layers),
            **arguments,
        )
    forward = recipe.restore_forward(
        module, folder / description["artifact"], params, original.input_size
    )
    loaded = as_variant(original, module, forward, description["engine"], description["title"])
    loaded.spec = dataclasses.replace(original.spec, name=name, description=description["title"])
    loaded.weights = f"compression run {run_id}, {description['artifact']}"
    loaded.gradient_engine = description["gradient_engine"]
    return loaded
