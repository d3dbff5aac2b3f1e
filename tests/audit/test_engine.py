"""The audit end to end in the plain loop: the report's parts, resuming, a kill in the middle,
hostile files and bad input."""

import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from app.audit import AuditParams, run_audit
from app.errors import BadParameter, UnknownMethod
from app.settings import Settings
from tests.audit.conftest import MODEL
from tests.audit.helpers import assert_same_report

ROOT = Path(__file__).resolve().parents[2]


def _params(**values: object) -> AuditParams:
    defaults: dict[str, object] = {
        "data": "shapes:24",
        "model": MODEL,
        "methods": ["grad_cam"],
        "engine": "plain",
        "shard_size": 8,
        "batch_size": 4,
        "sanity_images": 0,
    }
    return AuditParams.model_validate(defaults | values)


@pytest.fixture(scope="module")
def reference(audit_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("reference")
    return {"out": out, "report": run_audit(_params(), audit_settings, out)}


def test_report_and_images(reference: dict) -> None:
    report, out = reference["report"], reference["out"]
    assert report["images"] == report["scored"] == 24 and report["labelled"]
    assert 0 <= report["classification"]["accuracy"] <= 1
    assert len(report["per_class"]) == 10
    assert len(report["confusion_matrix"]) == 10
    calibration = report["calibration"]
    assert calibration["fit_images"] == 12 and calibration["before"]["images"] == 12
    assert sum(row["count"] for row in calibration["all"]["bins"]) == 24
    assert calibration["temperature"] > 0
    shortcuts = report["shortcuts"]["grad_cam"]
    assert shortcuts["used"] and 0 <= shortcuts["overall"]["mass_inside"] <= 1
    assert report["provenance"]["shards"] == 3 and report["provenance"]["shards_reused"] == 0
    table = pq.read_table(out / "images.parquet").to_pylist()
    assert len(table) == 24
    row = table[0]
    assert row["path"] == "arrow/00009" and row["label"] == 9
    assert len(row["top5_probabilities"]) == 5 and row["loss"] >= 0 and row["margin"] >= 0
    maps = np.load(out / "maps" / "grad_cam.npy")
    assert maps.shape == (24, 32, 32)
    assert row["grad_cam.map_ref"] == "maps/grad_cam.npy#0"
    assert len(list((out / "parts").glob("*.parquet"))) == 3


def test_report_json_is_the_returned_report(reference: dict) -> None:
    on_disk = json.loads((reference["out"] / "report.json").read_text())
    assert on_disk == reference["report"]


def test_rerun_recomputes_nothing(reference: dict, audit_settings: Settings) -> None:
    again = run_audit(_params(), audit_settings, reference["out"])
    assert again["provenance"]["shards_reused"] == 3
    assert again["provenance"]["images_scored_now"] == 0
    assert_same_report(reference["report"], again, tolerance=0)


def test_batch_size_chosen_from_one_images_time(
    reference: dict, audit_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without batch_size the audit times one image: 0.25 s of work an image gives batches of
    about 2 s (8 images), and no batch holds over half a worker's share; the report is the one
    batches of 4 give."""
    from app.audit import engine
    from app.audit.scoring import ModelLoader, Scorer

    score = Scorer.score

    def slow(self: Scorer, batch: dict) -> dict:
        time.sleep(0.25 * len(batch["key"]))
        return score(self, batch)

    monkeypatch.setattr(Scorer, "score", slow)
    model = ModelLoader(MODEL, audit_settings).load()
    methods = {"grad_cam": {}}
    limits = (audit_settings.max_image_bytes, audit_settings.max_image_pixels)
    rows = [{"key": "a/0", "location": "shapes:0:random:0"}]
    assert 6 <= engine.choose_batch_size(rows, model, methods, limits) <= 8
    unreadable = [{"key": "a/0", "location": str(tmp_path / "missing.png")}, *rows]
    assert 6 <= engine.choose_batch_size(unreadable, model, methods, limits) <= 8
    assert engine.choose_batch_size(unreadable[:1], model, methods, limits) == 16
    monkeypatch.setattr(Scorer, "score", score)

    chosen = run_audit(_params(batch_size=None), audit_settings, tmp_path / "chosen")
    assert 1 <= chosen["provenance"]["batch_size"] <= 12  # two batches at least for the worker
    assert reference["report"]["provenance"]["batch_size"] == 4
    assert_same_report(reference["report"], chosen)


def test_other_method_settings_are_other_shards(reference: dict, audit_settings: Settings) -> None:
    out = reference["out"]
    before = set((out / "parts").glob("*.parquet"))
    report = run_audit(_params(methods=["saliency"], limit=8), audit_settings, out)
    assert report["provenance"]["shards_reused"] == 0
    assert len(set((out / "parts").glob("*.parquet")) - before) == 1


_CHILD = """
import sys, time
from pathlib import Path
from app.audit import AuditParams, run_audit
from app.settings import Settings
settings = Settings(data_dir=Path(sys.argv[1]), fast_forward=False, device="cpu")
params = AuditParams.model_validate_json(sys.argv[3])
run_audit(params, settings, Path(sys.argv[2]), progress=lambda done, total: time.sleep(0.3))
"""


def test_killed_run_resumes_to_the_same_report(
    reference: dict, audit_settings: Settings, tmp_path: Path
) -> None:
    params = _params()
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _CHILD,
            str(audit_settings.data_dir),
            str(tmp_path),
            params.model_dump_json(),
        ],
        cwd=ROOT,
    )
    deadline = time.monotonic() + 240
    parts = tmp_path / "parts"
    while not (parts.is_dir() and any(parts.glob("*.parquet"))):
        assert child.poll() is None, "the run ended before its first shard landed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    landed = len(list(parts.glob("*.parquet")))
    assert 1 <= landed < 3
    assert not (tmp_path / "report.json").exists()
    resumed = run_audit(params, audit_settings, tmp_path)
    assert resumed["provenance"]["shards_reused"] == landed
    assert resumed["provenance"]["images_scored_now"] == 24 - 8 * landed
    assert_same_report(reference["report"], resumed)


def _png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_hostile_files_are_skipped_with_reasons(audit_settings: Settings, tmp_path: Path) -> None:
    data = tmp_path / "data"
    for index, name in enumerate(["circle", "square", "star"]):
        (data / name).mkdir(parents=True)
        for k in range(3):
            (data / name / f"{k}.png").write_bytes(_png((40 * index, 80 * k, 100)))
    (data / "circle" / "broken.png").write_bytes(_png((1, 2, 3))[:60])
    (data / "star" / "script.jpg").write_bytes(b"#!/bin/sh\nrm -rf /\n")
    (data / "star" / "notes.txt").write_text("hello")
    report = run_audit(_params(data=str(data), shard_size=4), audit_settings, tmp_path / "out")
    assert report["images"] == 11 and report["scored"] == 9
    reasons = {item["name"]: item["reason"] for item in report["skipped"]}
    assert set(reasons) == {"notes.txt", "circle/broken.png", "star/script.jpg"}
    assert "not an image" in reasons["star/script.jpg"]
    table = pq.read_table(tmp_path / "out" / "images.parquet").to_pylist()
    broken = next(row for row in table if row["path"] == "circle/broken.png")
    assert broken["error"] and broken["prediction"] is None


def test_unlabelled_folder_gives_predictions_only(audit_settings: Settings, tmp_path: Path) -> None:
    data = tmp_path / "flat"
    data.mkdir()
    for k in range(8):
        (data / f"{k}.png").write_bytes(_png((30 * k, 100, 200 - 20 * k)))
    report = run_audit(_params(data=str(data)), audit_settings, tmp_path / "out")
    assert not report["labelled"] and "classification" not in report
    assert len(report["highest_entropy"]) == 8
    assert report["shortcuts"]["grad_cam"]["used"]


def test_bad_input_fails_before_any_work(audit_settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(UnknownMethod):
        run_audit(_params(methods=["no_such_method"]), audit_settings, tmp_path / "a")
    data = tmp_path / "data"
    (data / "giraffe").mkdir(parents=True)
    (data / "giraffe" / "a.png").write_bytes(_png((1, 2, 3)))
    with pytest.raises(BadParameter, match="giraffe"):
        run_audit(_params(data=str(data)), audit_settings, tmp_path / "b")
    with pytest.raises(BadParameter, match="does not answer"):
        run_audit(_params(engine="ray", ray_address="127.0.0.1:9"), audit_settings, tmp_path / "c")
    assert not any((tmp_path / name).exists() for name in "abc")
