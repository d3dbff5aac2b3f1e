"""An app on the tiny test model (fast), and a method whose steps the test lets through."""

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from fastapi.testclient import TestClient

from app.explain import METHODS
from app.explain.base import Attribution, Method
from app.main import create_app
from app.params import Params, Progress
from app.settings import Settings
from app.zoo import LoadedModel, load_model
from app.zoo.pool import ModelPool
from tests.models import TinyNet, loaded


@pytest.fixture
def api_settings(tmp_path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        weights_dir=tmp_path / "weights",
        device="cpu",
        default_model="tiny",
        max_image_bytes=200_000,
        max_image_pixels=1_000_000,
        job_workers=1,
        max_queued_jobs=2,
    )


@pytest.fixture
def tiny_model() -> LoadedModel:
    return loaded(TinyNet())


@pytest.fixture
def client(api_settings: Settings, tiny_model: LoadedModel) -> Iterator[TestClient]:
    pool = ModelPool(api_settings, load_model, preloaded=[tiny_model])
    with TestClient(create_app(api_settings, pool)) as test_client:
        yield test_client


class GateParams(Params):
    steps: int = 50


class Gated(Method):
    """A method that waits for the test before each step: deterministic progress and cancel."""

    name = "gated"
    title = "Gated (test)"
    reference = "tests"
    Params = GateParams
    signed = False
    gate = threading.Semaphore(0)
    started = threading.Event()
    calls = 0

    def attribute(
        self, model: LoadedModel, pixels: torch.Tensor, target: int, params: Any, progress: Progress
    ) -> Attribution:
        type(self).calls += 1
        type(self).started.set()
        for step in range(params.steps):
            progress(step, params.steps)
            assert type(self).gate.acquire(timeout=20), "the test never opened the gate"
        return Attribution(map=pixels[0].mean(dim=0))


@pytest.fixture
def gated() -> Iterator[type[Gated]]:
    Gated.gate = threading.Semaphore(0)
    Gated.started = threading.Event()
    Gated.calls = 0
    METHODS.register(Gated)
    try:
        yield Gated
    finally:
        for _ in range(1000):
            Gated.gate.release()
        METHODS.remove("gated")
