"""The one model catalog: its listings are the registries' (checked against them), `lantern
models` and `lantern methods` import no torch (by import, in a new Python), and a user's model
is added and removed by the CLI and then loads by name like any other."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torchvision.models import squeezenet1_1

from app.catalog import builtin_listing_now, catalog, group_of
from app.cli import main
from app.cli.catalog import method_listing, method_listing_now
from app.settings import Settings
from app.zoo import load_model

_IMPORTS_OF = """
import sys
from app.cli import main
code = main(sys.argv[1:])
heavy = sorted(name for name in ("torch", "torchvision", "onnxruntime") if name in sys.modules)
print("IMPORTED", ",".join(heavy) or "-", code)
"""
REGENERATE = "regenerate the listings with: python -m app.catalog"


def test_the_listings_are_the_registries() -> None:
    listed = json.loads((Path(__file__).parents[2] / "app/zoo/builtin_models.json").read_text())
    assert listed == builtin_listing_now(), REGENERATE
    assert method_listing() == method_listing_now(), REGENERATE


def _every_group(data: Path) -> None:
    """A data directory with one model in each group (the listing reads only descriptions)."""
    (data / "models").mkdir(parents=True)
    (data / "models" / "mine.safetensors").write_bytes(b"x" * 10)
    (data / "models" / "mine.json").write_text(
        json.dumps(
            {
                "name": "mine",
                "architecture": "torchvision/resnet18",
                "classes": 3,
                "labels": ["a", "b", "c"],
                "parameters": 11_178_051,
                "file": "mine.pt",
                "uploaded": "2026-01-01T00:00:00+00:00",
            }
        )
    )
    (data / "shapes").mkdir()
    (data / "shapes" / "teacher.safetensors").write_bytes(b"x")
    run = data / "compress" / "runs" / "0123456789ab"
    run.mkdir(parents=True)
    (run / "report.json").write_text("{}")
    (run / "1-int8_static.model.json").write_text(
        json.dumps(
            {
                "name": "compressed/0123456789ab/1-int8_static",
                "title": "int8_static of shapes/teacher",
                "original": "shapes/teacher",
                "engine": "ONNX Runtime int8",
                "gradient_engine": "the fake-quantized twin",
                "artifact": "1-int8_static.onnx",
                "artifact_bytes": 1000,
                "nonzero_parameters": 10,
                "classes": 10,
                "created": "2026-01-01T00:00:00+00:00",
            }
        )
    )


def test_models_and_methods_import_no_torch(tmp_path) -> None:
    """By import, not by time: a new Python, and what `lantern models|methods` left loaded."""
    _every_group(tmp_path / "data")
    environment = {"LANTERN_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    for command, shows in (
        ("models", ["efficientnet-lite0", "mine", "shapes/teacher", "1-int8_static", "int8"]),
        ("methods", ["explain saliency:", "attack fgsm:", "window = 32"]),
    ):
        run = subprocess.run(
            [sys.executable, "-c", _IMPORTS_OF, command],
            capture_output=True,
            text=True,
            timeout=60,
            env=environment,
            cwd=Path(__file__).parents[2],
        )
        assert run.stdout.splitlines()[-1] == "IMPORTED - 0", run.stdout + run.stderr
        for text in shows:
            assert text in run.stdout, (command, text)
    settings = Settings(data_dir=tmp_path / "data", device="cpu")
    groups = {entry.name: entry.group for entry in catalog(settings)}
    assert groups == {
        "efficientnet-lite0": "built-in",
        "mine": "yours",
        "shapes/teacher": "lab",
        "compressed/0123456789ab/1-int8_static": "compressed",
    }
    assert [group_of(name) for name in groups] == list(groups.values())


def test_the_cli_adds_and_removes_a_model_of_yours(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("LANTERN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LANTERN_DEVICE", "cpu")
    torch.manual_seed(0)
    network = squeezenet1_1(num_classes=3).eval()
    weights = tmp_path / "squeeze.safetensors"
    save_file(network.state_dict(), str(weights))
    labels = tmp_path / "labels.txt"
    labels.write_text("ant\nbee\nwasp\n")
    add = ["models", "add", "bugs", "--architecture", "torchvision/squeezenet1_1"]
    assert main([*add, "--weights", str(weights), "--labels", str(labels)]) == 0
    assert "added bugs" in capsys.readouterr().out
    assert main(["models"]) == 0
    assert any(
        line.split()[:2] == ["bugs", "yours"] for line in capsys.readouterr().out.splitlines()
    )
    model = load_model("bugs", Settings(data_dir=tmp_path / "data", device="cpu"))
    assert model.labels == ["ant", "bee", "wasp"] and model.name == "bugs"
    pixels = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(model.network(pixels), network(pixels))
    state = network.state_dict()
    state["classifier.1.weight"] = torch.zeros(5, 512, 1, 1)
    save_file(state, str(weights))
    assert main([*add, "--weights", str(weights)]) == 2
    error = capsys.readouterr().err
    assert "tensor classifier.1.weight: expected shape (3, 512, 1, 1), got (5, 512, 1, 1)" in error
    assert main(["models", "remove", "bugs"]) == 0
    assert main(["models", "remove", "bugs"]) == 2
    assert "no model of yours named 'bugs'" in capsys.readouterr().err
    assert sorted(path.name for path in (tmp_path / "data" / "models").iterdir()) == []
    with pytest.raises(Exception, match="yours: none yet"):
        load_model("bugs", Settings(data_dir=tmp_path / "data", device="cpu"))
