"""From the shards' parts to `report.json`, `images.parquet` and `maps/METHOD.npy`.

Everything here is a function of the parts and the listing only (never of how or where they were
computed), so a local run, a cluster run and a resumed run give the same report.
"""

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from app.audit.engine import AuditParams, Shard, read_part
from app.audit.label_issues import find_label_issues
from app.audit.scoring import border_regions
from app.audit.shortcuts import spray
from app.audit.sources import Listing
from app.settings import Settings
from app.stats import (
    calibration,
    classification,
    confusion_pairs,
    entropy,
    fit_temperature,
    per_class,
    softmax,
)
from app.zoo import LoadedModel

__all__ = ["build_report"]

LISTED = 20  # images per gallery (mistakes, entropy, label issues)


def build_report(
    out: Path,
    listing: Listing,
    shards: list[Shard],
    model: LoadedModel,
    methods: dict[str, dict[str, Any]],
    params: AuditParams,
    settings: Settings,
    provenance: dict[str, Any],
) -> dict[str, Any]:
    parts = [read_part(out, shard.id) for shard in shards]
    items = [item for shard in shards for item in shard.items]
    columns = {key: [v for part in parts for v in part[key]] for key in parts[0]}
    errors = [str(error) for error in columns["error"]]
    ok = np.array([not error for error in errors], bool)
    names = [item.name for item in items]
    logits = np.stack(columns["logits"]).astype(np.float64)[ok]
    probs = softmax(logits)
    kept = np.flatnonzero(ok)
    labels_all = np.array([-1 if i.label is None else i.label for i in items], np.int64)
    labels = labels_all[ok]
    labelled = listing.labelled and len(kept) > 0
    predictions = probs.argmax(axis=1)
    confidence = probs.max(axis=1)
    ordered = np.sort(probs, axis=1)[:, ::-1]
    margin = ordered[:, 0] - (ordered[:, 1] if probs.shape[1] > 1 else 0.0)
    image_entropy = entropy(probs)
    label_names = model.labels
    skipped = [{"name": s.name, "reason": s.reason} for s in listing.skipped]
    skipped += [{"name": names[i], "reason": errors[i]} for i in np.flatnonzero(~ok)]

    def describe(position: int) -> dict[str, Any]:
        index = int(kept[position])
        row: dict[str, Any] = {
            "index": index,
            "name": names[index],
            "prediction": int(predictions[position]),
            "prediction_name": label_names[int(predictions[position])],
            "confidence": round(float(confidence[position]), 6),
        }
        if labelled:
            row["label"] = int(labels[position])
            row["label_name"] = label_names[int(labels[position])]
        return row

    report: dict[str, Any] = {
        "model": provenance["model"],
        "data": params.data,
        "labelled": labelled,
        "images": len(items),
        "scored": int(ok.sum()),
        "skipped": skipped,
        "classes": len(label_names),
        "label_names": list(label_names),
    }
    entropy_order = np.argsort(-image_entropy, kind="stable")[:LISTED]
    report["highest_entropy"] = [
        describe(int(p)) | {"entropy": round(float(image_entropy[p]), 6)} for p in entropy_order
    ]
    split = np.full(len(kept), "", dtype=object)
    if labelled:
        report["classification"] = classification(labels, probs)
        report["per_class"] = per_class(labels, probs, label_names)
        pairs, matrix = confusion_pairs(labels, predictions, label_names)
        report["confusions"] = pairs
        report["confusion_matrix"] = matrix
        report["calibration"], split = _calibration(logits, labels, params.seed)
        wrong = np.flatnonzero(predictions != labels)
        worst = wrong[np.argsort(-confidence[wrong], kind="stable")][:LISTED]
        report["confident_mistakes"] = [describe(int(p)) for p in worst]
        issues = find_label_issues(labels, probs)
        report["label_issues"] = {
            "method": "confident learning (Northcutt et al. 2021), ranked by self-confidence",
            "note": "candidates for review, not verdicts",
            "count": len(issues),
            "images": [
                describe(int(p)) | {"self_confidence": round(float(probs[p, labels[p]]), 6)}
                for p in issues[:LISTED]
            ],
        }
    maps_folder = out / "maps"
    maps_folder.mkdir(exist_ok=True)
    method_columns: dict[str, Any] = {}
    stacked_maps: dict[str, np.ndarray] = {}
    for method in methods:
        maps = np.stack(columns[f"map__{method}"]).astype(np.float32)
        stacked_maps[method] = maps
        temporary = maps_folder / f".{method}.{os.getpid()}.npy"
        np.save(temporary, maps.astype(np.float16))
        os.replace(temporary, maps_folder / f"{method}.npy")
        for score in ("mass_inside", "pointing", "border", "corner"):
            method_columns[f"{method}.{score}"] = [
                _finite(v) for v in np.asarray(columns[f"{score}__{method}"], np.float64)
            ]
        method_columns[f"{method}.map_ref"] = [
            f"maps/{method}.npy#{i}" if ok[i] else None for i in range(len(items))
        ]
    groups = labels if labelled else predictions
    report["sanity"] = _sanity(model, methods, items, kept, params, settings)
    report["shortcuts"] = _shortcuts(
        methods, stacked_maps, columns, ok, kept, groups, label_names, report["sanity"], params
    )
    seconds = {m: float(np.mean(np.asarray(columns[f"seconds__{m}"])[ok])) for m in methods}
    provenance["seconds_per_image"] = {m: round(s, 6) for m, s in seconds.items()}
    parallel = params.workers if params.engine == "ray" else 1  # actors scoring at once
    provenance["images_per_second"] = {
        m: round(parallel / s, 3) if s > 0 else None for m, s in seconds.items()
    }
    report["provenance"] = provenance
    _write_images(
        out,
        items,
        ok,
        kept,
        probs,
        labels_all,
        margin,
        image_entropy,
        split,
        errors,
        method_columns,
        label_names,
    )
    text = json.dumps(report, indent=1, default=_json_default)
    temporary = out / f".report.{os.getpid()}.json"
    temporary.write_text(text)
    os.replace(temporary, out / "report.json")
    result: dict[str, Any] = json.loads(text)
    return result


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 6)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _calibration(
    logits: np.ndarray, labels: np.ndarray, seed: int
) -> tuple[dict[str, Any], np.ndarray]:
    """Metrics on every image; the temperature fitted on a seeded half ("fit") and the metrics
    before and after it on the other half ("evaluate"), which the fit never saw."""
    probs = softmax(logits)
    result: dict[str, Any] = {"all": calibration(probs, labels)}
    split = np.full(len(labels), "evaluate", dtype=object)
    if len(labels) < 4:
        result["temperature"] = None
        result["note"] = "too few images to fit a temperature on a held-out half"
        return result, split
    order = np.random.default_rng(seed).permutation(len(labels))
    fit = np.sort(order[: len(labels) // 2])
    evaluate = np.sort(order[len(labels) // 2 :])
    split[fit] = "fit"
    temperature = fit_temperature(logits[fit], labels[fit])
    result["temperature"] = round(temperature, 6)
    result["fit_images"] = len(fit)
    result["before"] = calibration(probs[evaluate], labels[evaluate])
    result["after"] = calibration(softmax(logits[evaluate], temperature), labels[evaluate])
    return result, split


def _sanity(
    model: LoadedModel,
    methods: dict[str, dict[str, Any]],
    items: list[Any],
    kept: np.ndarray,
    params: AuditParams,
    settings: Settings,
) -> dict[str, Any]:
    """The model-randomisation check (Adebayo et al., NeurIPS 2018) of each method on the first
    `params.sanity_images` scored images: a method passes when its maps' mean rank correlation
    with the randomised models' stays under 0.5; only passing methods give shortcut evidence."""
    if params.sanity_images == 0 or not methods or len(kept) == 0:
        return {m: {"checked": False, "passes": True} for m in methods}
    import torch

    from app.audit.scoring import decode_batch, item_columns
    from app.trust import PASS_THRESHOLD, randomization_test

    chosen = [items[int(i)].location for i in kept[: params.sanity_images]]
    batch = decode_batch(
        item_columns(chosen),
        model.preprocessing,
        settings.max_image_bytes,
        settings.max_image_pixels,
    )
    images = [
        torch.from_numpy(pixels).permute(2, 0, 1).float() / 255.0 for pixels in batch["pixels"]
    ]
    results: dict[str, Any] = {}
    for method, values in methods.items():
        correlations = [
            randomization_test(
                model, pixels, method, None, values, steps=3, seed=params.seed
            ).mean_rank_correlation
            for pixels in images
        ]
        mean = float(np.mean(correlations))
        results[method] = {
            "checked": True,
            "images": len(correlations),
            "mean_rank_correlation": round(mean, 6),
            "threshold": PASS_THRESHOLD,
            "passes": mean < PASS_THRESHOLD,
        }
    return results


def _shortcuts(
    methods: dict[str, dict[str, Any]],
    maps: dict[str, np.ndarray],
    columns: dict[str, Any],
    ok: np.ndarray,
    kept: np.ndarray,
    groups: np.ndarray,
    label_names: list[str],
    sanity: dict[str, Any],
    params: AuditParams,
) -> dict[str, Any]:
    """Per method and class: with masks mass inside and the pointing game against the object's
    area share; always the border and corner mass against a uniform map's; SpRAy clusters."""
    result: dict[str, Any] = {}
    for method in methods:
        if not sanity[method]["passes"]:
            result[method] = {"used": False, "reason": "fails the randomisation sanity check"}
            continue
        method_maps = maps[method][ok]
        border_area, corner_area = (float(r.mean()) for r in border_regions(method_maps.shape[1:]))
        mass = np.asarray(columns[f"mass_inside__{method}"], np.float64)[ok]
        point = np.asarray(columns[f"pointing__{method}"], np.float64)[ok]
        border = np.asarray(columns[f"border__{method}"], np.float64)[ok]
        corner = np.asarray(columns[f"corner__{method}"], np.float64)[ok]
        area = np.asarray(columns.get("mask_area", [np.nan] * len(ok)), np.float64)[ok]
        classes = []
        for index in np.unique(groups):
            inside = groups == index
            row: dict[str, Any] = {"class": int(index), "label": label_names[int(index)]}
            row["images"] = int(inside.sum())
            if not np.isnan(mass[inside]).all():
                row["mass_inside"] = _mean(mass[inside])
                row["pointing_game"] = _mean(point[inside])
                row["area_share"] = _mean(area[inside])
            row["border_mass"] = _mean(border[inside])
            row["border_ratio"] = _ratio(row["border_mass"], border_area)
            row["corner_mass"] = _mean(corner[inside])
            row["corner_ratio"] = _ratio(row["corner_mass"], corner_area)
            found = spray(method_maps[inside], seed=params.seed)
            if found is not None:
                members = kept[np.flatnonzero(inside)]
                row["spray"] = {
                    "clusters": found.clusters,
                    "eigenvalues": found.eigenvalues,
                    "sizes": [found.assignment.count(c) for c in range(found.clusters)],
                    "mean_maps": found.mean_maps,
                    "representatives": [
                        [int(members[p]) for p in group] for group in found.representatives
                    ],
                }
            classes.append(row)
        overall: dict[str, Any] = {
            "border_mass": _mean(border),
            "border_ratio": _ratio(_mean(border), border_area),
            "corner_mass": _mean(corner),
            "corner_ratio": _ratio(_mean(corner), corner_area),
            "border_area": round(border_area, 6),
            "corner_area": round(corner_area, 6),
        }
        if not np.isnan(mass).all():
            overall |= {
                "mass_inside": _mean(mass),
                "pointing_game": _mean(point),
                "area_share": _mean(area),
            }
        result[method] = {"used": True, "overall": overall, "classes": classes}
    return result


def _mean(values: np.ndarray) -> float | None:
    finite = values[~np.isnan(values)]
    return round(float(finite.mean()), 6) if len(finite) else None


def _ratio(value: float | None, baseline: float) -> float | None:
    return None if value is None or baseline <= 0 else round(value / baseline, 6)


def _write_images(
    out: Path,
    items: list[Any],
    ok: np.ndarray,
    kept: np.ndarray,
    probs: np.ndarray,
    labels_all: np.ndarray,
    margin: np.ndarray,
    image_entropy: np.ndarray,
    split: np.ndarray,
    errors: list[str],
    method_columns: dict[str, Any],
    label_names: list[str],
) -> None:
    """images.parquet: one row per listed image (skipped ones with their error)."""
    count = len(items)
    position = np.full(count, -1)
    position[kept] = np.arange(len(kept))
    k = min(5, probs.shape[1]) if len(kept) else 0

    def at(i: int, values: np.ndarray) -> Any:
        return None if position[i] < 0 else values[position[i]]

    top = np.argsort(-probs, axis=1, kind="stable")[:, :k] if len(kept) else np.zeros((0, 0))
    rows: dict[str, list[Any]] = {
        "path": [item.name for item in items],
        "label": [None if labels_all[i] < 0 else int(labels_all[i]) for i in range(count)],
        "label_name": [
            None if labels_all[i] < 0 else label_names[labels_all[i]] for i in range(count)
        ],
        "prediction": [None if position[i] < 0 else int(top[position[i], 0]) for i in range(count)],
        "confidence": [
            None if position[i] < 0 else float(probs[position[i]].max()) for i in range(count)
        ],
        "top5_classes": [
            None if position[i] < 0 else top[position[i]].tolist() for i in range(count)
        ],
        "top5_probabilities": [
            None if position[i] < 0 else probs[position[i], top[position[i]]].tolist()
            for i in range(count)
        ],
        "loss": [
            None
            if position[i] < 0 or labels_all[i] < 0
            else float(-np.log(max(probs[position[i], labels_all[i]], 1e-15)))
            for i in range(count)
        ],
        "margin": [None if position[i] < 0 else float(at(i, margin)) for i in range(count)],
        "entropy": [None if position[i] < 0 else float(at(i, image_entropy)) for i in range(count)],
        "calibration_split": [
            None if position[i] < 0 else str(at(i, split)) or None for i in range(count)
        ],
        "error": [errors[i] or None for i in range(count)],
        "content_hash": [item.content_hash for item in items],
    }
    rows |= method_columns
    temporary = out / f".images.{os.getpid()}.parquet"
    pq.write_table(pa.table(rows), temporary)
    os.replace(temporary, out / "images.parquet")
