"""`lantern audit`: the headline on success; bad input is one line on stderr and exit 2."""

from pathlib import Path

import pytest

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
