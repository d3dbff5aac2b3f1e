"""The README's "Extend Lantern" snippets are real code: each runs, registers what it says, and
works through the product's own entry points; everything registered is removed afterwards."""

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from app.attacks import ATTACKS, attack
from app.compress import RECIPES
from app.compress.base import CompressionData
from app.compress.runs import compress
from app.explain import METHODS, explain
from app.jobs.codec import decode_result, encode_result
from app.jobs.kinds import JOB_KINDS
from app.results import RESULT_TYPES
from app.shapes import EXPERIMENTS
from tests.models import LinearNet, linear_gradient, loaded

README = Path(__file__).parents[1].joinpath("README.md").read_text(encoding="utf-8")


def _run(heading: str) -> dict[str, object]:
    """Execute the python block under `### heading`; its names."""
    section = README.split(f"### {heading}\n", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    snippet = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert snippet is not None, heading
    names: dict[str, object] = {}
    exec(compile(snippet.group(1), f"README.md ({heading})", "exec"), names)
    return names


@pytest.fixture
def registered() -> Iterator[list[tuple[object, str]]]:
    """(registry, name) pairs the test adds; removed afterwards so no other test sees them."""
    added: list[tuple[object, str]] = []
    yield added
    for registry, name in added:
        registry.remove(name)  # type: ignore[attr-defined]


def test_add_a_method(pixels, registered) -> None:
    registered.append((METHODS, "gradient_x_input"))
    _run("Add a method in three steps")
    model = loaded(LinearNet())
    result = explain(model, pixels, "gradient_x_input", target=1)
    expected = linear_gradient(model, 1) * pixels
    np.testing.assert_allclose(result.raw, expected.numpy(), rtol=1e-5, atol=1e-7)
    assert "'cat'" in METHODS.get("gradient_x_input").caption.format(label="cat")


def test_add_an_attack(pixels, registered) -> None:
    registered.append((ATTACKS, "random_sign"))
    _run("Add an attack")
    model = loaded(LinearNet())
    result = attack(model, pixels, "random_sign", params={"epsilon": 0.03, "seed": 2})
    change = np.abs(result.adversarial - result.input)
    assert change.max() <= 0.03 + 1e-6 and result.adversarial.min() >= 0
    assert np.isclose(change, 0.03, atol=1e-6).mean() > 0.5  # ±ε where the clamp allows


def test_add_a_recipe(registered, tiny) -> None:
    registered.append((RECIPES, "round_weights"))
    _run("Add a compression recipe")
    pixels = torch.rand(
        4, 3, tiny.input_size, tiny.input_size, generator=torch.Generator().manual_seed(0)
    )
    variant = compress(tiny, "round_weights", {"bits": 4}, CompressionData(pixels, pixels))
    for weight in variant.model.module.parameters():
        torch.testing.assert_close(weight * 16, torch.round(weight * 16))
    assert variant.recipe == "round_weights" and variant.artifact_format == "safetensors"


def test_add_an_experiment(registered, tmp_path, tiny) -> None:
    from app.settings import Settings

    registered.append((EXPERIMENTS, "class_count"))
    registered.append((RESULT_TYPES, "ClassCountReport"))
    _run("Add a lab experiment")
    experiment = EXPERIMENTS.get("class_count")
    report = experiment.run(Settings(data_dir=tmp_path), experiment.Params(images=40), tiny)
    assert sum(report.counts) == 40 and len(report.counts) == 10
    assert decode_result(encode_result(report), lambda _: None) == report


def test_add_a_job_kind(registered, tmp_path, tiny) -> None:
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.settings import Settings
    from app.zoo import load_model
    from app.zoo.pool import ModelPool
    from tests.api.helpers import upload, wait_job

    settings = Settings(data_dir=tmp_path / "data", device="cpu", default_model="tiny")
    registered.append((JOB_KINDS, "brightness"))
    registered.append((RESULT_TYPES, "Brightness"))
    names = _run("Add a job kind")
    app = create_app(settings, ModelPool(settings, load_model, preloaded=[tiny]))
    app.include_router(names["router"], prefix="/api")  # type: ignore[arg-type]
    with TestClient(app) as client:
        image = upload(client)
        started = client.post(f"/api/brightness/{image['id']}")
        assert started.status_code == 201, started.text
        job = wait_job(client, started.json()["id"])
        assert job["kind"] == "brightness" and job["status"] == "done"
        seen = client.app.state.workspace.images.get(image["id"]).model_view(tiny)
        assert job["result"]["mean"] == pytest.approx(float(seen.mean()), rel=1e-6)
