import pytest
import torch

from app.imaging import sample_image
from app.settings import Settings
from app.zoo import LoadedModel, load_model
from tests.models import ReluNet, TinyNet, loaded, tiny_pixels

# The browser fixtures (one chromium for the whole session) are defined once, here for every
# folder: a module that imported them would make a second session browser, whose open
# Playwright loop breaks the first (tests/audit's page test once did).
pytest_plugins = ["tests.browser.fixtures"]


@pytest.fixture(autouse=True)
def _deterministic() -> None:
    torch.manual_seed(0)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", weights_dir=tmp_path / "weights", device="cpu")


@pytest.fixture
def tiny() -> LoadedModel:
    return loaded(TinyNet())


@pytest.fixture
def relu_net() -> LoadedModel:
    return loaded(ReluNet(), grad_cam_layer="head")


@pytest.fixture
def pixels() -> torch.Tensor:
    return tiny_pixels()


@pytest.fixture(scope="session")
def default_model() -> LoadedModel:
    return load_model("efficientnet-lite0", Settings(device="cpu"), prepare=True)


@pytest.fixture(scope="session")
def chelsea(default_model: LoadedModel) -> torch.Tensor:
    """The cat photo as the default model sees it: (3, 224, 224) in [0, 1]."""
    return default_model.preprocessing.model_view(sample_image("chelsea"))
