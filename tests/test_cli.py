"""The CLI contract: `lantern models | explain | attack`, files it writes, and bad input."""

import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from app.cli import main
from app.explain import METHODS


@pytest.fixture
def cat_file(tmp_path):
    from app.imaging import sample_image

    path = tmp_path / "cat.jpg"
    sample_image("chelsea").save(path, quality=95)
    return path


def test_models_lists_the_default(capsys) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("efficientnet-lite0")
    assert "torchvision/resnet50" in out


def test_methods_lists_every_registered_method(capsys) -> None:
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    for name in METHODS.names():
        assert f"explain {name}:" in out
    assert "attack fgsm:" in out and "window = 32" in out


def test_shapley(capsys) -> None:
    assert main(["shapley"]) == 0
    assert "Alice: 180" in capsys.readouterr().out


def test_explain_writes_npz_and_png(cat_file, tmp_path, capsys) -> None:
    out, png = tmp_path / "result.npz", tmp_path / "result.png"
    code = main(
        [
            "explain",
            str(cat_file),
            "--method",
            "grad_cam",
            "--target",
            "281",
            "--out",
            str(out),
            "--png",
            str(png),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "class 281 (tabby)" in printed
    data = np.load(out)
    assert data["input"].shape == (3, 224, 224) and data["input"].dtype == np.float32
    assert data["input"].min() >= 0.0 and data["input"].max() <= 1.0
    assert data["attribution"].shape == (224, 224) and data["attribution"].dtype == np.float32
    assert int(data["target"]) == 281
    assert data["probs"].shape == (1000,) and data["probs"].dtype == np.float32
    assert str(data["method"]) == "grad_cam"
    assert json.loads(str(data["params"])) == {"layer": None}
    assert data["raw"].shape == (7, 7)
    assert Image.open(png).size == (224, 224)


def test_explain_with_params_and_class_name(tmp_path, capsys) -> None:
    out = tmp_path / "occlusion.npz"
    code = main(
        [
            "explain",
            "sample:chelsea",
            "--method",
            "occlusion",
            "--target",
            "Egyptian cat",
            "--param",
            "window=112",
            "--param",
            "stride=112",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    data = np.load(out)
    assert int(data["target"]) == 285
    assert json.loads(str(data["params"]))["window"] == 112
    assert "raw" not in data.files


def test_attack_writes_npz(tmp_path, capsys) -> None:
    out, png = tmp_path / "adv.npz", tmp_path / "adv.png"
    code = main(
        [
            "attack",
            "sample:chelsea",
            "--method",
            "fgsm",
            "--epsilon",
            "0.03",
            "--out",
            str(out),
            "--png",
            str(png),
        ]
    )
    assert code == 0
    assert "succeeded" in capsys.readouterr().out
    data = np.load(out)
    for key in ("input", "adversarial", "perturbation", "probs_before", "probs_after", "params"):
        assert key in data.files
    np.testing.assert_allclose(data["adversarial"] - data["input"], data["perturbation"])
    assert np.abs(data["perturbation"]).max() <= 0.03 + 1e-6
    assert data["probs_before"].argmax() == 285 != data["probs_after"].argmax()
    assert json.loads(str(data["params"]))["epsilon"] == 0.03
    assert Image.open(png).size == (672, 224)


def test_panel_shares_the_gradient_pass_and_writes_pictures(tmp_path, capsys) -> None:
    argv = ["panel", "sample:chelsea", "--methods", "saliency", "guided_backprop", "grad_cam"]
    argv += ["occlusion", "--attacks", "fgsm", "--param", "occlusion.window=112"]
    argv += ["--param", "occlusion.stride=56", "--png-dir", str(tmp_path / "maps")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "class 285 (Egyptian cat)" in out
    assert "one shared gradient pass: saliency, guided_backprop, fgsm" in out
    assert "ONNX Runtime" in out
    for name in ("saliency", "guided_backprop", "grad_cam", "occlusion", "fgsm"):
        assert Image.open(tmp_path / "maps" / f"{name}.png").size == (224, 224)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["explain", "{text}", "--method", "saliency"], "not an image"),
        (["explain", "{missing}", "--method", "saliency"], "no such file"),
        (["explain", "{folder}", "--method", "saliency"], "is a directory"),
        (["explain", "sample:dog", "--method", "saliency"], "unknown sample"),
        (["explain", "sample:chelsea", "--method", "saliency", "--model", "nope"], "unknown model"),
        (["explain", "sample:chelsea", "--method", "saliency", "--target", "1000"], "out of range"),
        (["explain", "sample:chelsea", "--method", "saliency", "--target", "no such"], "no class"),
        (["explain", "sample:chelsea", "--method", "occlusion", "--param", "window=0"], "window"),
        (["explain", "sample:chelsea", "--method", "saliency", "--param", "steps=3"], "steps"),
        (["explain", "sample:chelsea", "--method", "saliency", "--out", "{nodir}"], "cannot write"),
        (
            [
                "attack",
                "sample:chelsea",
                "--method",
                "targeted",
                "--epsilon",
                "0.1",
                "--out",
                "{npz}",
            ],
            "needs a target",
        ),
        (
            ["attack", "sample:chelsea", "--method", "fgsm", "--epsilon", "5", "--out", "{npz}"],
            "epsilon",
        ),
        (
            ["explain", "sample:chelsea", "--method", "saliency", "--weights", "{text}"],
            "not a readable",
        ),
        (["panel", "sample:chelsea", "--param", "window=16"], "METHOD.KEY=VALUE"),
        (
            ["panel", "sample:chelsea", "--methods", "saliency", "--param", "occlusion.window=16"],
            "does not run",
        ),
        (["panel", "sample:chelsea", "--param", "occlusion.window=0"], "window"),
        (["panel", "{text}"], "not an image"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, tmp_path, capsys) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    paths = {
        "text": text,
        "missing": tmp_path / "missing.png",
        "folder": tmp_path,
        "nodir": tmp_path / "no" / "such" / "dir.npz",
        "npz": tmp_path / "x.npz",
    }
    argv = [arg.format(**paths) for arg in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("lantern: error: ") and message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["explain", "sample:chelsea", "--method", "nope"],
        ["explain", "sample:chelsea", "--method", "saliency", "--param", "novalue"],
        ["attack", "sample:chelsea", "--method", "fgsm", "--out", "x.npz"],
    ],
)
def test_usage_errors_exit_2(argv, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_installed_entry_point_has_no_traceback(tmp_path) -> None:
    """The console script, as a user runs it: real process, real exit code, stderr only."""
    lantern = shutil.which("lantern") or str(
        __import__("pathlib").Path(sys.executable).with_name("lantern")
    )
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    run = subprocess.run(
        [lantern, "explain", str(bad), "--method", "grad_cam"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert "Traceback" not in run.stderr and run.stderr.startswith("lantern: error: ")
    ok = subprocess.run(
        [
            lantern,
            "explain",
            "sample:coffee",
            "--method",
            "grad_cam",
            "--out",
            str(tmp_path / "coffee.npz"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert "espresso" in ok.stdout


def test_closed_stdout_keeps_the_files(tmp_path) -> None:
    """`lantern explain ... | head -1`: the reader goes away after one line."""
    lantern = str(__import__("pathlib").Path(sys.executable).with_name("lantern"))
    out, png = tmp_path / "cam.npz", tmp_path / "cam.png"
    run = subprocess.run(
        f"'{lantern}' explain sample:chelsea --method grad_cam --out '{out}' --png '{png}' "
        "| head -c 10",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr
    assert out.exists() and png.exists()


@pytest.mark.skipif(
    __import__("torch").cuda.is_available(), reason="checks the message on a machine without CUDA"
)
def test_cuda_on_a_cpu_machine_names_where_it_was_asked(monkeypatch, capsys) -> None:
    assert main(["explain", "sample:chelsea", "--method", "saliency", "--device", "cuda"]) == 2
    assert "--device: device 'cuda' was asked for" in capsys.readouterr().err
    monkeypatch.setenv("LANTERN_DEVICE", "cuda")
    assert main(["models"]) == 2
    assert "LANTERN_DEVICE: device 'cuda'" in capsys.readouterr().err


def test_models_says_where_missing_weights_go(capsys) -> None:
    """Architectures without weights here are one list, with where their weights go."""
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "put a state dict at" in out and "torchvision-NAME.safetensors" in out
    assert "torchvision/resnet50, " in out.splitlines()[-1]


def test_serve_refuses_bad_settings_before_starting(capsys, monkeypatch) -> None:
    import uvicorn

    monkeypatch.setattr(
        uvicorn.Server, "run", lambda *args, **kwargs: pytest.fail("must not start")
    )
    assert main(["serve", "--model", "resnet"]) == 2
    assert "unknown model 'resnet'" in capsys.readouterr().err
    assert main(["serve", "--port", "70000"]) == 2
    assert "--port: 70000 is not a port number" in capsys.readouterr().err


def test_serve_starts_uvicorn_with_the_chosen_model(capsys, monkeypatch, tmp_path) -> None:
    import uvicorn

    started = {}
    monkeypatch.setenv("LANTERN_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(uvicorn.Server, "run", lambda server: started.update(config=server.config))
    assert main(["serve", "--port", "8123", "--model", "torchvision/resnet18"]) == 0
    config = started["config"]
    assert config.port == 8123 and config.host == "127.0.0.1"
    assert config.app.state.workspace.settings.default_model == "torchvision/resnet18"
    assert (tmp_path / "lantern.sqlite3").is_file()
    assert "http://127.0.0.1:8123/" in capsys.readouterr().out


def test_sanity_and_faithfulness_write_json(tmp_path, capsys, default_model, chelsea) -> None:
    from app.trust import faithfulness, randomization_test

    out = tmp_path / "sanity.json"
    picture = tmp_path / "sanity.png"
    argv = ["sanity", "sample:chelsea", "--method", "grad_cam", "--steps", "3"]
    assert main([*argv, "--out", str(out), "--png", str(picture), "--device", "cpu"]) == 0
    written = json.loads(out.read_text())
    expected = randomization_test(default_model, chelsea, "grad_cam", steps=3)
    assert written["steps"] == expected.steps == ["_fc", "_blocks.8", "_conv_stem"]
    # The CLI differentiates the model itself, the library its BatchNorm-folded copy: equal
    # to float rounding (about 1e-7 here).
    assert written["similarity"].keys() == expected.similarity.keys()
    for metric, values in expected.similarity.items():
        assert written["similarity"][metric] == pytest.approx(values, rel=1e-4, abs=1e-6)
    assert written["passes"] == expected.passes
    assert Image.open(picture).size == (224 * 4, 224)
    assert "mean rank correlation" in capsys.readouterr().out

    out = tmp_path / "faithfulness.json"
    argv = ["faithfulness", "sample:chelsea", "--method", "grad_cam", "--steps", "4"]
    assert main([*argv, "--out", str(out), "--device", "cpu"]) == 0
    written = json.loads(out.read_text())
    expected_curves = faithfulness(default_model, chelsea, "grad_cam", steps=4).summary()
    for key in ("deletion_auc", "insertion_auc", "random_deletion_auc", "random_insertion_auc"):
        assert written[key] == pytest.approx(expected_curves[key], rel=1e-5)
    assert written["fractions"] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert "deletion AUC" in capsys.readouterr().out
    assert main(["faithfulness", "sample:chelsea", "--method", "grad_cam", "--steps", "1"]) == 2
    assert "steps: 1 is outside" in capsys.readouterr().err


def test_sanity_with_a_random_labels_model(tmp_path, capsys) -> None:
    from safetensors.torch import save_file

    from app.zoo import get_spec

    untrained = get_spec("efficientnet-lite0").architecture(1000)
    weights = tmp_path / "random-labels.safetensors"
    save_file({k: v.contiguous() for k, v in untrained.state_dict().items()}, str(weights))
    out = tmp_path / "sanity.json"
    argv = ["sanity", "sample:chelsea", "--method", "grad_cam", "--steps", "2", "--device", "cpu"]
    assert main([*argv, "--random-labels-weights", str(weights), "--out", str(out)]) == 0
    data = json.loads(out.read_text())["data_randomization"]
    assert data["target"] == 285 and set(data["similarity"]) == {
        "spearman_abs",
        "spearman",
        "ssim",
        "hog",
    }
    assert "against the model trained on random labels" in capsys.readouterr().out


def test_shapes_generate_writes_a_folder_and_refuses_bad_sizes(tmp_path, capsys) -> None:
    out = tmp_path / "shapes"
    assert main(["shapes", "generate", "--out", str(out), "--count", "12", "--size", "32"]) == 0
    assert (out / "circle" / "00000.png").is_file() and (
        out / "circle" / "00000.mask.png"
    ).is_file()
    assert "12 images with masks" in capsys.readouterr().out
    assert main(["shapes", "generate", "--out", str(out), "--size", "4"]) == 2
    assert "--size must be" in capsys.readouterr().err
    assert main(["shapes", "fewshot", "--param", "shots=0"]) == 2
    assert "shots" in capsys.readouterr().err


def test_version_comes_from_the_package_metadata(capsys) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"lantern {version('lantern')}"


def test_every_experiment_is_a_shapes_command_and_train_is_refused(capsys) -> None:
    from app.shapes import EXPERIMENTS

    with pytest.raises(SystemExit):
        main(["shapes", "--help"])
    # argparse puts a long action's help on the next line: the name ends at a space or newline.
    listed = set(re.findall(r"^    (\S+)(?:\s|$)", capsys.readouterr().out, re.MULTILINE))
    assert {experiment.name for experiment in EXPERIMENTS} <= listed
    assert "train" not in listed
    assert main(["shapes", "train", "--param", "epochs=3"]) == 2
    err = capsys.readouterr().err
    assert err == "lantern: error: `lantern shapes train` is now `lantern shapes transfer`\n"


def test_choices_come_from_the_types(capsys) -> None:
    """What a removed pixel becomes and the devices are read from their types, not re-listed."""
    from typing import get_args, get_type_hints

    from app.settings import Settings
    from app.trust import faithfulness

    for command, option, values in (
        (
            "faithfulness",
            "--deletion-baseline",
            get_args(get_type_hints(faithfulness)["deletion_baseline"]),
        ),
        ("explain", "--device", get_args(Settings.model_fields["device"].annotation)),
    ):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert f"{option} {{{','.join(values)}}}" in capsys.readouterr().out


def test_only_the_cli_package_parses_arguments() -> None:
    from pathlib import Path

    app = Path(__file__).parents[1] / "app"
    for module in app.rglob("*.py"):
        if app / "cli" not in module.parents:
            assert "argparse" not in module.read_text(encoding="utf-8"), module


_IMPORTS_OF = """
import sys
from app.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as stop:
    code = stop.code
heavy = sorted(name for name in ("torch", "torchvision", "onnxruntime") if name in sys.modules)
print("IMPORTED", ",".join(heavy) or "-", code)
"""


@pytest.mark.parametrize("argv", [["--help"], [], ["--version"], ["nonsense"]])
def test_help_and_usage_errors_do_not_import_torch(argv) -> None:
    """By import, not by time: a new Python, and what `lantern ARGV` left in sys.modules."""
    run = subprocess.run(
        [sys.executable, "-c", _IMPORTS_OF, *argv], capture_output=True, text=True, timeout=60
    )
    assert run.stdout.splitlines()[-1].startswith("IMPORTED - "), run.stdout + run.stderr
    if argv == ["--help"]:
        for command in ("serve", "models", "methods", "explain", "compress", "audit"):
            assert f"    {command} " in run.stdout


def test_every_command_is_registered_by_its_group() -> None:
    """The light list of commands names exactly what the groups register."""
    import argparse

    from app.cli import _build_parser
    from app.cli._commands import COMMANDS

    for command in COMMANDS:
        parser = _build_parser(command)
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        assert list(action.choices) == list(COMMANDS)
        # The group's parser, not the placeholder: it runs something or has actions to choose.
        own = action.choices[command]
        runs = own.get_default("run") is not None
        assert runs or any(isinstance(a, argparse._SubParsersAction) for a in own._actions)


def test_progress_is_plain_lines_off_a_terminal_and_a_bar_on_one() -> None:
    import io

    from app.cli._progress import progress_to

    plain = io.StringIO()
    with progress_to("saliency", plain, delay=0) as progress:
        progress(1, 1)
    with progress_to("occlusion", plain) as progress:
        progress(1, 10)
    assert plain.getvalue() == ""  # one step, or quick work: no lines
    with progress_to("occlusion", plain, delay=0) as progress:
        for done in range(101):
            progress(done, 100)
    lines = plain.getvalue().splitlines()
    assert lines[0] == "occlusion: 0 %" and lines[-1] == "occlusion: 100 %" and len(lines) == 11

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    with progress_to("occlusion", terminal, delay=0) as progress:
        progress(5, 10)
        progress(10, 10)
    assert "occlusion:" in terminal.getvalue() and "/10 [" in terminal.getvalue()  # tqdm's bar
