"""A small trained Shapes student under a temporary data_dir: the model every audit test runs
(workers load it by name, `shapes/student`, as they would the lab's)."""

from pathlib import Path

import pytest
import torch

from app.settings import Settings
from app.shapes.base import SIZE
from app.shapes.dataset import ShapesDataset
from app.shapes.networks import ShapesStudent
from app.shapes.storage import save_model

MODEL = "shapes/student"


def train_student(settings: Settings, steps: int = 25) -> None:
    """A width-8 student trained a little (about half right), saved where load_trained looks."""
    torch.manual_seed(0)
    network = ShapesStudent(width=8)
    pixels, labels = ShapesDataset(200, SIZE, seed=1).tensors()
    # as_loaded puts ImageNet normalisation in front of the network: train through the same.
    mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
    std = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    pixels = (pixels - mean) / std
    optimiser = torch.optim.Adam(network.parameters(), lr=0.01)
    for step in range(steps):
        chosen = torch.arange(step * 32, step * 32 + 32) % len(labels)
        loss = torch.nn.functional.cross_entropy(network(pixels[chosen]), labels[chosen])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    save_model(settings, "student", network.eval())


@pytest.fixture(scope="session")
def audit_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("audit-data")
    settings = Settings(data_dir=data_dir, fast_forward=False, device="cpu")
    train_student(settings)
    return settings
