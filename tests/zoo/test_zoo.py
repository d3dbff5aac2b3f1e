import io
import pickle
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn
from torchvision.models import get_model, get_model_weights

from app.errors import BadWeights, UnknownModel
from app.zoo import MODELS, get_spec, load_model
from app.zoo.torchvision_models import _cached_file


def test_default_model(default_model) -> None:
    assert default_model.name == "efficientnet-lite0"
    assert default_model.num_classes == 1000
    assert default_model.labels[285] == "Egyptian cat"
    assert len(set(default_model.labels)) == 1000
    activations = [
        m for m in default_model.network.modules() if "swish" in type(m).__name__.lower()
    ]
    assert activations == []  # ReLU6 stays: set_swish() is never called
    assert sum(isinstance(m, nn.ReLU6) for m in default_model.network.modules()) > 10
    assert not default_model.module.training


def test_every_registered_spec_is_complete() -> None:
    names = MODELS.names()
    assert names[0] == "efficientnet-lite0"
    assert "torchvision/resnet50" in names
    for spec in MODELS:
        assert spec.preprocessing.crop <= spec.preprocessing.resize
        assert spec.description


@pytest.mark.parametrize(
    "name",
    [
        "resnet18",
        "mobilenet_v3_small",
        "vgg11",
        "densenet121",
        "efficientnet_b0",
        "regnet_y_400mf",
        "shufflenet_v2_x0_5",
        "squeezenet1_0",
        "mnasnet0_5",
        "alexnet",
    ],
)
def test_torchvision_grad_cam_layers_exist(name: str) -> None:
    spec = get_spec(f"torchvision/{name}")
    network = spec.architecture(1000)
    assert spec.grad_cam_layer is not None
    network.get_submodule(spec.grad_cam_layer)


def _random_resnet18(classes: int = 1000) -> dict[str, torch.Tensor]:
    torch.manual_seed(3)
    return get_model("resnet18", weights=None, num_classes=classes).state_dict()


def _outputs(model, state) -> tuple[torch.Tensor, torch.Tensor]:
    reference = get_model("resnet18", weights=None, num_classes=model.num_classes).eval()
    reference.load_state_dict(state)
    pixels = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        return model.module(pixels), reference(model.module.normalize(pixels))


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_torchvision_from_local_file(suffix, settings) -> None:
    state = _random_resnet18()
    settings.weights_dir.mkdir(parents=True)
    path = settings.weights_dir / f"torchvision-resnet18{suffix}"
    if suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save(state, path)
    model = load_model("torchvision/resnet18", settings)
    assert model.weights == str(path)
    assert model.labels[0] == "tench"
    ours, reference = _outputs(model, state)
    torch.testing.assert_close(ours, reference)


def test_torchvision_from_hub_cache_without_download(settings, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def no_download(*args, **kwargs):
        raise AssertionError("Lantern must never download weights")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_download)
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    cached = _cached_file(get_model_weights("resnet18").DEFAULT)
    assert cached.parent == tmp_path / "hub" / "checkpoints"
    with pytest.raises(BadWeights, match="never downloads"):
        load_model("torchvision/resnet18", settings)
    cached.parent.mkdir(parents=True)
    state = _random_resnet18()
    torch.save(state, cached)
    model = load_model("torchvision/resnet18", settings)
    ours, reference = _outputs(model, state)
    torch.testing.assert_close(ours, reference)


@pytest.mark.slow
def test_user_weights_with_other_class_count(settings, tmp_path) -> None:
    state = _random_resnet18(classes=5)
    path = tmp_path / "mine.safetensors"
    save_file(state, str(path))
    model = load_model("torchvision/resnet18", settings, weights=path)
    assert model.num_classes == 5
    assert model.labels == [f"class {index}" for index in range(5)]
    labels = tmp_path / "labels.txt"
    labels.write_text("cat\ndog\nbird\nfish\nfrog\n")
    named = load_model("torchvision/resnet18", settings, weights=path, labels=labels)
    assert named.labels == ["cat", "dog", "bird", "fish", "frog"]
    labels.write_text("cat\ndog\n")
    with pytest.raises(BadWeights, match="5 outputs but has 2 class names"):
        load_model("torchvision/resnet18", settings, weights=path, labels=labels)


def test_weights_for_the_wrong_architecture(settings, tmp_path) -> None:
    path = tmp_path / "resnet.safetensors"
    save_file(_random_resnet18(), str(path))
    with pytest.raises(BadWeights, match="does not fit this architecture"):
        load_model("efficientnet-lite0", settings, weights=path)


class _Canary:
    """A pickle that would write a file when unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.write_text, (self.path, "pwned"))


def _forge_zip_sizes(state: dict) -> bytes:
    """torch.save's zip with every central-directory entry claiming about 4 GB."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = bytearray(buffer.getvalue())
    start = data.find(b"PK\x01\x02")
    while start >= 0:
        data[start + 20 : start + 28] = struct.pack("<II", 0xFFFFFFF0, 0xFFFFFFF0)
        start = data.find(b"PK\x01\x02", start + 4)
    return bytes(data)


def test_hostile_weight_files_are_refused(settings, tmp_path) -> None:
    canary = tmp_path / "canary.txt"
    hostile = tmp_path / "hostile.pth"
    torch.save({"weight": torch.zeros(2), "payload": _Canary(canary)}, hostile)
    raw_pickle = tmp_path / "raw.pth"
    raw_pickle.write_bytes(pickle.dumps(_Canary(canary)))
    whole_module = tmp_path / "module.pth"
    torch.save(nn.Linear(2, 2), whole_module)
    scripted = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(nn.Linear(2, 2)), str(scripted))
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\xff" * 64)
    forged_header = tmp_path / "forged.safetensors"
    forged_header.write_bytes((2**40).to_bytes(8, "little") + b"{}")
    not_a_dict = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], not_a_dict)
    forged_zip = tmp_path / "forged-size.pth"
    forged_zip.write_bytes(_forge_zip_sizes(nn.Linear(2, 2).state_dict()))
    huge_header = tmp_path / "huge-header.safetensors"
    huge_header.write_bytes((50_000_000).to_bytes(8, "little") + b'{"a":' + b" " * 1000)
    for path, message in [
        (hostile, "never unpickles"),
        (raw_pickle, "never unpickles|not a readable"),
        (whole_module, "never unpickles"),
        (scripted, "TorchScript"),
        (garbage, "not a valid safetensors"),
        (forged_header, "not a valid safetensors"),
        (not_a_dict, "does not hold a state dict"),
        (forged_zip, "not a readable PyTorch weights file"),
        (huge_header, "not a valid safetensors"),
        (tmp_path / "missing.pth", "no such weights file"),
    ]:
        with pytest.raises(BadWeights, match=message):
            load_model("efficientnet-lite0", settings, weights=path)
    assert not canary.exists()


def test_weights_size_limit(tmp_path) -> None:
    from app.settings import Settings

    path = tmp_path / "big.safetensors"
    save_file({"weight": torch.zeros(1000)}, str(path))
    small = Settings(device="cpu", max_weights_bytes=100)
    with pytest.raises(BadWeights, match="over the limit"):
        load_model("efficientnet-lite0", small, weights=path)


def test_unknown_model(settings) -> None:
    with pytest.raises(UnknownModel, match="did you mean torchvision/resnet50"):
        load_model("resnet50", settings)


def test_the_labs_trained_models_load_by_name(tmp_path, capsys, monkeypatch) -> None:
    """shapes/teacher and shapes/student: one name in load_model (CLI, API pool), listed by
    `lantern models` once trained; their 10 classes and 64-px input."""
    from app.cli import main
    from app.errors import BadParameter, UnknownModel
    from app.settings import Settings
    from app.shapes.networks import ShapesStudent
    from app.shapes.storage import save_model

    settings = Settings(data_dir=tmp_path, device="cpu")
    with pytest.raises(BadParameter, match="no Shapes student yet"):
        load_model("shapes/student", settings)
    with pytest.raises(UnknownModel, match="shapes/teacher, shapes/student"):
        load_model("shapes/pupil", settings)
    save_model(settings, "student", ShapesStudent(8))
    student = load_model("shapes/student", settings)
    assert student.name == "shapes/student" and student.num_classes == 10
    assert student.input_size == 64 and student.fast_forward is None  # deferred
    with pytest.raises(BadParameter, match="no --weights"):
        load_model("shapes/student", settings, labels=tmp_path / "labels.txt")
    monkeypatch.setenv("LANTERN_DATA_DIR", str(tmp_path))
    assert main(["models"]) == 0
    assert "shapes/student" in capsys.readouterr().out
