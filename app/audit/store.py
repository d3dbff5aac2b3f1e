"""Finished audits under `data_dir/audits/ID/` as the page and the API read them: the list, one
report, the images of a class, one image or stored map as a picture, the run's live progress,
and two audits of the same data compared class by class.

Nothing here takes a path from a request: an audit is named by its 24-hex id, an image by its
row number, a method by a name the audit's own manifest lists; the image's location comes from
the manifest the server wrote, and is read only when it is Shapes or lies under data_dir
(`AuditFiles.on_server`). The CLI reads its own run's folder the same way, its images wherever
the user's data is (`AuditFiles(folder)`).
"""

import io
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import torch
from PIL import Image

from app.audit.sources import read_item_bytes
from app.errors import BadParameter, UnknownRun
from app.imaging import Display, render_map
from app.imaging.preprocessing import Preprocessing
from app.settings import Settings

__all__ = [
    "AuditFiles",
    "audit_folder",
    "class_images",
    "compare_audits",
    "image_pixels",
    "list_audits",
    "map_picture",
    "original_image",
    "read_audit",
    "read_progress",
]

_ID = re.compile(r"^[0-9a-f]{24}$")
MAX_LISTED = 200  # images per drill-down page
MIN_PICTURE = 160  # maps are drawn at least this many pixels wide


def audit_folder(settings: Settings, audit_id: str, finished: bool = True) -> Path:
    """The folder of audit `audit_id` (with its report.json when `finished`); else UnknownRun."""
    if not _ID.match(audit_id):
        raise UnknownRun(f"no audit {audit_id!r}: an audit id is 24 hex digits")
    folder = settings.data_dir / "audits" / audit_id
    if not (folder / ("report.json" if finished else "manifest.json")).is_file():
        state = "finished " if finished else ""
        raise UnknownRun(f"no {state}audit {audit_id} on this server")
    return folder


@dataclass(frozen=True)
class AuditFiles:
    """A finished audit's folder, and the folder its images must lie in (None: anywhere)."""

    folder: Path
    images_within: Path | None = None

    @classmethod
    def on_server(cls, settings: Settings, audit_id: str) -> "AuditFiles":
        return cls(audit_folder(settings, audit_id), settings.data_dir)

    @property
    def name(self) -> str:
        return self.folder.name

    def report(self) -> dict[str, Any]:
        path = self.folder / "report.json"
        return _cached_json(str(path), path.stat().st_mtime_ns)


def list_audits(settings: Settings) -> list[dict[str, Any]]:
    """Every finished audit, newest first: id, model, data, images, accuracy, methods, when."""
    root = settings.data_dir / "audits"
    found = []
    for report_path in root.glob("*/report.json") if root.is_dir() else []:
        if not _ID.match(report_path.parent.name):
            continue
        report = read_audit(settings, report_path.parent.name)
        provenance = report.get("provenance", {})
        found.append(
            {
                "id": report_path.parent.name,
                "model": report["model"],
                "data": report["data"],
                "data_hash": provenance.get("data_hash"),
                "images": report["images"],
                "labelled": report["labelled"],
                "accuracy": report.get("classification", {}).get("accuracy"),
                "methods": list(provenance.get("methods", {})),
                "finished": report_path.stat().st_mtime,
            }
        )
    return sorted(found, key=lambda audit: -audit["finished"])


def read_audit(settings: Settings, audit_id: str) -> dict[str, Any]:
    path = audit_folder(settings, audit_id) / "report.json"
    return _cached_json(str(path), path.stat().st_mtime_ns) | {"audit_id": audit_id}


@lru_cache(maxsize=32)
def _cached_json(path: str, modified: int) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(Path(path).read_text())
    return result


def read_progress(settings: Settings, audit_id: str) -> dict[str, Any]:
    """The run's progress.json (images done, per worker, ETA); a run not yet scoring: zeros."""
    path = audit_folder(settings, audit_id, finished=False) / "progress.json"
    if not path.is_file():
        return {"running": True, "done": 0, "total": None, "per_worker": {}, "eta_seconds": None}
    result: dict[str, Any] = json.loads(path.read_text())
    return result


@lru_cache(maxsize=8)
def _table(path: str, modified: int) -> dict[str, list[Any]]:
    columns = ["path", "label", "label_name", "prediction", "confidence", "error"]
    table = pq.read_table(path, columns=columns)
    return {name: table.column(name).to_pylist() for name in columns}


def class_images(
    settings: Settings,
    audit_id: str,
    class_index: int,
    role: str = "label",
    limit: int = 60,
    predicted: int | None = None,
) -> dict[str, Any]:
    """Images whose label (`role` label) or prediction (`role` prediction) is `class_index`
    (and, given `predicted`, predicted as that class: one confusion), mistakes first, then by
    confidence; at most `limit` (MAX_LISTED)."""
    if role not in ("label", "prediction"):
        raise BadParameter("role: label or prediction")
    report = read_audit(settings, audit_id)
    if not 0 <= class_index < report["classes"]:
        raise BadParameter(f"class: 0 to {report['classes'] - 1}")
    path = audit_folder(settings, audit_id) / "images.parquet"
    table = _table(str(path), path.stat().st_mtime_ns)
    names = report.get("label_names") or [str(i) for i in range(report["classes"])]
    rows = []
    for index, value in enumerate(table[role]):
        if value != class_index or table["prediction"][index] is None:
            continue
        if predicted is not None and table["prediction"][index] != predicted:
            continue
        rows.append(
            {
                "index": index,
                "name": table["path"][index],
                "label": table["label"][index],
                "label_name": table["label_name"][index],
                "prediction": table["prediction"][index],
                "prediction_name": names[table["prediction"][index]],
                "confidence": round(float(table["confidence"][index]), 6),
                "correct": table["label"][index] == table["prediction"][index],
            }
        )
    rows.sort(key=lambda row: (row["correct"], -row["confidence"]))
    return {
        "class": class_index,
        "role": role,
        "total": len(rows),
        "images": rows[: max(1, min(limit, MAX_LISTED))],
    }


def _locations(folder: Path) -> list[str]:
    path = folder / "manifest.json"
    manifest = _cached_json(str(path), path.stat().st_mtime_ns)
    return [location for shard in manifest["shards"] for location in shard.get("locations", [])]


def _location(files: AuditFiles, index: int) -> tuple[str, str]:
    """(location, name) of image `index`: Shapes, or a file (or zip) in files.images_within."""
    locations = _locations(files.folder)
    if not 0 <= index < len(locations):
        raise UnknownRun(f"audit {files.name} has no image {index} (it has {len(locations)})")
    location = locations[index]
    if not location.startswith("shapes:") and files.images_within is not None:
        file = Path(location.split("::", 1)[0]).resolve()
        if not file.is_relative_to(files.images_within.resolve()):
            raise UnknownRun(f"image {index} of audit {files.name} is not on this server")
    shards = _manifest(files.folder)["shards"]
    name = [name for shard in shards for name in shard["images"]][index]
    return location, name


def original_image(settings: Settings, files: AuditFiles, index: int) -> tuple[bytes, str]:
    """Image `index` as a file (its own bytes; Shapes drawn as PNG) and its file name."""
    from app.audit.scoring import read_image

    location, name = _location(files, index)
    file_name = name.replace("/", "-")
    if location.startswith("shapes:"):
        image, _ = read_image(location, settings.max_image_bytes, settings.max_image_pixels)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue(), f"{file_name}.png"
    return read_item_bytes(location, settings.max_image_bytes), file_name


def image_pixels(
    settings: Settings, files: AuditFiles, index: int, preprocessing: Preprocessing
) -> tuple[np.ndarray, str]:
    """Image `index` of the audit as its model saw it (`preprocessing`: the model's):
    (S, S, 3) uint8, and its name."""
    from app.audit.scoring import decode_batch, item_columns

    location, name = _location(files, index)
    batch = decode_batch(
        item_columns([location]),
        preprocessing,
        settings.max_image_bytes,
        settings.max_image_pixels,
    )
    if batch["error"][0]:
        error = batch["error"][0]
        raise UnknownRun(f"image {index} of audit {files.name} cannot be read: {error}")
    return batch["pixels"][0], name


def _manifest(folder: Path) -> dict[str, Any]:
    path = folder / "manifest.json"
    return _cached_json(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _maps(path: str, modified: int) -> np.ndarray:
    return np.load(path, mmap_mode="r")


def map_picture(
    settings: Settings,
    files: AuditFiles,
    method: str,
    index: int,
    preprocessing: Preprocessing,
    legend: bool = False,
) -> Image.Image:
    """The stored map of `method` for image `index` (of its predicted class, positive part,
    upsampled from its 32×32 pool) over the image."""
    methods = _manifest(files.folder)["methods"]
    if method not in methods:
        known = ", ".join(methods)
        raise UnknownRun(f"audit {files.name} has no {method!r} maps (it has {known})")
    path = files.folder / "maps" / f"{method}.npy"
    maps = _maps(str(path), path.stat().st_mtime_ns)
    pixels, _ = image_pixels(settings, files, index, preprocessing)
    stored = torch.from_numpy(np.asarray(maps[index], np.float32))[None, None]
    scale = -(-MIN_PICTURE // pixels.shape[0])  # small inputs (Shapes: 64 px) drawn larger,
    pixels = pixels.repeat(scale, axis=0).repeat(scale, axis=1)  # so the colour bar's words fit
    size = pixels.shape[:2]
    upsampled = torch.nn.functional.interpolate(stored, size=size, mode="bilinear")[0, 0]
    positive = np.clip(upsampled.numpy(), 0, None)
    image = torch.from_numpy(pixels).permute(2, 0, 1).float().numpy() / 255.0
    return render_map(image, positive, False, Display(legend=legend))


def compare_audits(settings: Settings, first_id: str, second_id: str) -> dict[str, Any]:
    """Two labelled audits of the same data (same data hash), e.g. a model and its compressed
    copy: headline and per-class deltas (second minus first), and how many images the two
    models predict differently."""
    first, second = read_audit(settings, first_id), read_audit(settings, second_id)
    for report in (first, second):
        if not report["labelled"]:
            raise BadParameter(f"audit {report['audit_id']} is unlabelled: nothing to compare")
    if first["provenance"]["data_hash"] != second["provenance"]["data_hash"]:
        raise BadParameter(
            f"audits {first_id} and {second_id} are of different data "
            f"({first['data']} vs {second['data']}): compare audits of the same images"
        )
    if first["classes"] != second["classes"]:
        raise BadParameter("the two models have different classes")

    def delta(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else round(b - a, 6)

    classes = []
    a_rows = {row["class"]: row for row in first["per_class"]}
    b_rows = {row["class"]: row for row in second["per_class"]}
    for index in sorted(set(a_rows) | set(b_rows)):
        a, b = a_rows.get(index, {}), b_rows.get(index, {})
        either = a or b
        row: dict[str, Any] = {"class": index, "label": either["label"]}
        row["support"] = either["support"]  # the same images: the same support
        for key in ("precision", "recall", "f1", "mean_confidence"):
            row[key] = [a.get(key, 0.0), b.get(key, 0.0), delta(a.get(key, 0.0), b.get(key, 0.0))]
        classes.append(row)
    headline: dict[str, Any] = {}
    for key in ("accuracy", "top5"):
        a_value, b_value = first["classification"][key], second["classification"][key]
        headline[key] = [a_value, b_value, delta(a_value, b_value)]
    for key in ("ece", "adaptive_ece", "brier", "nll"):
        a_value = first["calibration"]["all"][key]
        b_value = second["calibration"]["all"][key]
        headline[key] = [a_value, b_value, delta(a_value, b_value)]
    headline["label_issues"] = [
        first["label_issues"]["count"],
        second["label_issues"]["count"],
        second["label_issues"]["count"] - first["label_issues"]["count"],
    ]
    shortcuts: dict[str, Any] = {}
    for method in set(first["shortcuts"]) & set(second["shortcuts"]):
        a_result, b_result = first["shortcuts"][method], second["shortcuts"][method]
        if not (a_result["used"] and b_result["used"]):
            continue
        a_overall, b_overall = a_result["overall"], b_result["overall"]
        shortcuts[method] = {
            key: [a_overall[key], b_overall[key], delta(a_overall[key], b_overall[key])]
            for key in ("mass_inside", "pointing_game", "border_ratio", "corner_ratio")
            if key in a_overall and key in b_overall
        }
    first_path = audit_folder(settings, first_id) / "images.parquet"
    second_path = audit_folder(settings, second_id) / "images.parquet"
    a_table = _table(str(first_path), first_path.stat().st_mtime_ns)
    b_table = _table(str(second_path), second_path.stat().st_mtime_ns)
    a_by_name = dict(zip(a_table["path"], a_table["prediction"], strict=True))
    b_by_name = dict(zip(b_table["path"], b_table["prediction"], strict=True))
    both = [n for n in a_by_name if a_by_name[n] is not None and b_by_name.get(n) is not None]
    differ = sum(a_by_name[n] != b_by_name[n] for n in both)
    return {
        "first": {"id": first_id, "model": first["model"], "data": first["data"]},
        "second": {"id": second_id, "model": second["model"], "data": second["data"]},
        "images": len(both),
        "predictions_differ": differ,
        "headline": headline,
        "per_class": classes,
        "shortcuts": shortcuts,
    }
