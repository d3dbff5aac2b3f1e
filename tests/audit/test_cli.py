"""`lantern audit`: the headline on success; bad input is one line on stderr and exit 2."""

from pathlib import Path

import pytest
from PIL import Image

from app.cli import main
from app.settings import Settings
from tests.audit.conftest import MODEL


@pytest.fixture
def environment(audit_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANTERN_DATA_DIR", str(audit_settings.data_dir))
    monkeypatch.setenv("LANTERN_FAST_FORWARD", "false")
    monkeypatch.setenv("LANTERN_DEVICE", "cpu")


@pytest.mark.usefixtures("environment")
def test_audit_writes_the_report_and_prints_the_headline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(
        [
            "audit",
            "shapes:12",
            "--out",
            str(out),
            "--model",
            MODEL,
            "--engine",
            "plain",
            "--methods",
            "grad_cam",
            "--seed",
            "3",
            "--limit",
            "10",
            "--shard-size",
            "5",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "10 of 10 images scored by shapes/student" in printed
    assert "accuracy" in printed and "mass inside the object" in printed
    assert (out / "report.json").is_file() and (out / "images.parquet").is_file()
    assert f"report: {out / 'report.html'}" in printed


@pytest.mark.usefixtures("environment")
def test_audit_of_a_folder_anywhere_writes_a_self_contained_html_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The data outside the data directory (the server reads only what lies in it; the CLI
    reads the user's own folder): report.html shows its thumbnails inline."""
    import json
    from datetime import UTC, datetime

    from app.shapes.dataset import SHAPES, ShapesDataset
    from tests.browser.report_checks import check_self_contained

    data = tmp_path / "elsewhere"
    dataset = ShapesDataset(12, 64, seed=5)
    for index in range(12):
        drawn = dataset.sample(index)
        folder = data / SHAPES[drawn.label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(drawn.image).save(folder / f"{index}.png")
    out = tmp_path / "out"
    arguments = ["audit", str(data), "--out", str(out), "--model", MODEL, "--engine", "plain"]
    code = main([*arguments, "--batch-size", "5", "--methods", "grad_cam"])
    assert code == 0, capsys.readouterr().err
    html = (out / "report.html").read_text()
    report = json.loads((out / "report.json").read_text())
    check_self_contained(f"lantern-audit-{datetime.now(UTC):%Y-%m-%d}.html", html)
    assert report["scored"] == 12 and report["provenance"]["batch_size"] == 5
    assert f"Accuracy {100 * report['classification']['accuracy']:.1f} %" in html
    mistakes = min(12, len(report["confident_mistakes"]))
    assert html.count("data:image/png") >= mistakes > 0


@pytest.mark.usefixtures("environment")
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--methods", "grad_cam,telepathy"], "unknown explanation method 'telepathy'"),
        (["--workers", "0"], "--workers: Input should be greater than or equal to 1"),
        (["--engine", "ray", "--ray-address", "127.0.0.1:9"], "does not answer"),
        (["--model", "no-such-model"], "unknown model"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = ["audit", "shapes:4", "--out", str(tmp_path / "out"), "--model", MODEL]
    code = main(arguments + extra)
    error = capsys.readouterr().err
    assert code == 2
    assert message in error and error.count("\n") == 1


@pytest.mark.usefixtures("environment")
def test_empty_folder_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    code = main(["audit", str(tmp_path / "empty"), "--out", str(tmp_path / "o"), "--model", MODEL])
    assert code == 2
    assert "no images found" in capsys.readouterr().err


@pytest.mark.usefixtures("environment")
def test_ray_address_from_the_environment_is_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """LANTERN_RAY_ADDRESS stands in for --ray-address; a cluster that does not answer is one
    line and exit 2, before any image is scored (port 9, discard: nothing listens)."""
    monkeypatch.setenv("LANTERN_RAY_ADDRESS", "127.0.0.1:9")
    out = tmp_path / "out"
    code = main(["audit", "shapes:4", "--out", str(out), "--model", MODEL, "--engine", "ray"])
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1
    assert "the Ray cluster at 127.0.0.1:9 does not answer" in error
    assert not (out / "parts").exists()
