"""lantern concepts index | image | tcav on a tiny model (load_model replaced): files written,
bad input one line and exit 2."""

import json

import pytest
from PIL import Image

import app.cli._options
import app.zoo
from app.cli import main
from tests.models import TinyNet, loaded


@pytest.fixture(autouse=True)
def _tiny_model(monkeypatch) -> None:
    model = loaded(TinyNet())

    def load_model(name, settings, weights=None, labels=None, prepare=False):
        return model

    monkeypatch.setattr(app.zoo, "load_model", load_model)
    monkeypatch.setattr(app.cli._options, "load_model", load_model)


@pytest.fixture
def folder(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for k in range(5):
        Image.new("RGB", (40, 36), (40 * k, 200 - 30 * k, 90)).save(images / f"{k}.png")
    return images


def test_index_writes_the_index(folder, tmp_path, capsys) -> None:
    out = tmp_path / "index"
    argv = ["concepts", "index", str(folder), "--layer", "conv1", "--layer", "head"]
    assert main([*argv, "--top", "3", "--out", str(out)]) == 0
    index = json.loads((out / "index.json").read_text())
    assert index["images"] == 5 and set(index["layers"]) == {"conv1", "head"}
    assert len(index["layers"]["head"]["exemplars"]["0"]) == 3
    assert (out / "crops" / "head" / "0_2.png").is_file()
    assert "5 images indexed" in capsys.readouterr().out


def test_image_writes_json(tmp_path, capsys) -> None:
    out = tmp_path / "x.json"
    argv = ["concepts", "image", "sample:coffee", "--layer", "conv3", "--top", "2"]
    assert main([*argv, "--target", "4", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["class"] == 4 and len(result["channels"]) == 2
    assert "class 4" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["index", "{folder}", "--layer", "nope"], "has no layer 'nope'"),
        (["index", "{missing}", "--layer", "conv1"], "no such folder or file"),
        (["index", "shapes:x", "--layer", "conv1"], "write shapes:COUNT"),
        (["image", "sample:coffee", "--layer", "act", "--out", "{out}"], "runs 2 times"),
        (
            [
                *["tcav", "--concept", "texture:zebra", "--random", "noise:1"],
                *["--layer", "conv3", "--target", "1", "--out", "{out}"],
            ],
            "unknown texture",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, folder, tmp_path, capsys) -> None:
    paths = {"folder": folder, "missing": tmp_path / "missing", "out": tmp_path / "o.json"}
    assert main(["concepts", *(arg.format(**paths) for arg in argv)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lantern: error: ") and message in err
    assert len(err.strip().splitlines()) == 1
