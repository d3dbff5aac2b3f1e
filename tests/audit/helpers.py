"""Comparing two audit reports: equal but for provenance (timings, engine) and float noise."""

import math
from typing import Any

IGNORED = {"provenance"}


def assert_same_report(first: dict[str, Any], second: dict[str, Any], tolerance: float = 1e-4):  # type: ignore[no-untyped-def]
    differences: list[str] = []
    _compare(
        {k: v for k, v in first.items() if k not in IGNORED},
        {k: v for k, v in second.items() if k not in IGNORED},
        "",
        differences,
        tolerance,
    )
    assert not differences, "\n".join(differences[:20])


def _compare(a: Any, b: Any, where: str, out: list[str], tolerance: float) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            out.append(f"{where}: keys {sorted(set(a) ^ set(b))}")
        for key in set(a) & set(b):
            _compare(a[key], b[key], f"{where}.{key}", out, tolerance)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{where}: {len(a)} vs {len(b)} items")
        for index, (x, y) in enumerate(zip(a, b, strict=False)):
            _compare(x, y, f"{where}[{index}]", out, tolerance)
    elif isinstance(a, float) and isinstance(b, float | int):
        if not (math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)):
            out.append(f"{where}: {a} vs {b}")
    elif a != b:
        out.append(f"{where}: {a!r} vs {b!r}")
