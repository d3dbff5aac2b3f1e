"""The lab on the default model (EfficientNet-Lite0, ImageNet) and the sample photos: per-channel
int8 beats the naive per-tensor recipe, channel pruning really removes parameters, and the CLI
writes the report the issue names."""

import json

import onnx
import pytest
import torch

from app.cli import main
from app.compress import compress
from app.compress.base import CompressionData
from app.compress.data import build_evaluation_set, gallery_sources
from app.compress.measure import agreement, logits_of
from app.zoo import LoadedModel
from tests.models import assert_unchanged, fingerprint


@pytest.fixture(scope="module")
def gallery_data(default_model: LoadedModel) -> CompressionData:
    evaluation = build_evaluation_set(default_model, gallery_sources(), "gallery", 3, 4)
    return CompressionData(calibration=evaluation.calibration, evaluation=evaluation.pixels)


def _agreement(model: LoadedModel, variant, data: CompressionData) -> float:
    return agreement(
        logits_of(model.forward_logits, data.evaluation),
        logits_of(variant.model.forward_logits, data.evaluation),
    )


@pytest.mark.slow
def test_per_channel_int8_agrees_more_than_per_tensor(default_model, gallery_data) -> None:
    before = fingerprint(default_model.module)
    per_tensor = compress(default_model, "int8_static", {"per_channel": False}, gallery_data)
    per_channel = compress(default_model, "int8_static", {"per_channel": True}, gallery_data)
    assert_unchanged(before, fingerprint(default_model.module))
    naive, better = (
        _agreement(default_model, per_tensor, gallery_data),
        _agreement(default_model, per_channel, gallery_data),
    )
    assert better > naive and better >= 0.75, (naive, better)
    int8 = [
        t
        for t in onnx.load_from_string(per_channel.artifact).graph.initializer
        if t.data_type == onnx.TensorProto.INT8
    ]
    convolutions = [m for m in default_model.module.modules() if isinstance(m, torch.nn.Conv2d)]
    assert sum(1 for t in int8 if len(t.dims) == 4) == len(convolutions) == 49


def test_channel_pruning_removes_parameters_from_the_default_model(
    default_model, gallery_data
) -> None:
    variant = compress(default_model, "prune_channels", {"ratio": 0.3}, gallery_data)
    network = variant.model.module.network
    assert network._conv_head.weight.shape[0] < default_model.network._conv_head.weight.shape[0]
    assert network._fc.weight.shape[0] == 1000  # every class kept; its inputs shrink too
    assert variant.parameters < 0.7 * sum(p.numel() for p in default_model.module.parameters())


@pytest.mark.slow
def test_cli_writes_the_report_and_the_variant(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("LANTERN_DATA_DIR", str(tmp_path / "data"))
    out, saved = tmp_path / "report.json", tmp_path / "variant.onnx"
    argv = [
        "compress",
        "--recipe",
        "int8_static",
        "--param",
        "per_channel=false",
        "--methods",
        "saliency",
        "--drift-images",
        "1",
        "--augmentations",
        "1",
        "--out",
        str(out),
        "--save",
        str(saved),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "int8_static (per_channel=False)" in printed and "agreement" in printed
    report = json.loads(out.read_text())
    assert report["recipe"] == "int8_static" and report["params"]["per_channel"] is False
    for row in (report["original"], report["variant"]):
        for key in (
            "recipe",
            "params",
            "size_bytes",
            "parameters",
            "nonzero_parameters",
            "latency_ms",
            "top1_agreement",
            "kl_divergence",
            "accuracy",
            "explanation_drift",
        ):
            assert key in row
        assert (
            set(row["latency_ms"]) == {"batch1", "batch8"}
            and "saliency" in row["explanation_drift"]
        )
    assert report["original"]["top1_agreement"] == 1.0
    assert saved.stat().st_size == report["variant"]["size_bytes"]
    assert report["variant"]["size_bytes"] < report["original"]["size_bytes"] / 3


def test_cli_refuses_bad_input_in_one_line(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("LANTERN_DATA_DIR", str(tmp_path / "data"))
    assert main(["compress", "--recipe", "prune_channels", "--param", "ratio=2"]) == 2
    assert "ratio" in capsys.readouterr().err
    assert main(["compress", "--recipe", "int8_static", "--eval", str(tmp_path / "missing")]) == 2
    assert "expected a folder or a .zip" in capsys.readouterr().err
