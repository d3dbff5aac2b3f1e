"""Results to bytes and back without pickle: JSON for the structure, NumPy's .npz for arrays.

Only registered result types (app/results.py) can be rebuilt, so a tampered database can at
worst give a wrong number, never run code. Images inside a result (an attack's adversarial
image) are stored by id and resolved through the caller's image store. This module knows no
domain package: types register themselves where they are defined.
"""

import dataclasses
import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np

from app.jobs.images import StoredImage
from app.results import RESULT_TYPES

__all__ = ["decode_result", "encode_result"]

_META = "__meta__"


def encode_result(result: Any) -> bytes:
    arrays: dict[str, np.ndarray] = {}

    def walk(value: Any) -> Any:
        if isinstance(value, StoredImage):
            return {"__image__": value.id}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            name = type(value).__name__
            if name not in RESULT_TYPES or RESULT_TYPES.get(name) is not type(value):
                raise TypeError(f"{name} is not a registered result type")
            fields = {f.name: walk(getattr(value, f.name)) for f in dataclasses.fields(value)}
            return {"__type__": name, "fields": fields}
        if isinstance(value, np.ndarray):
            key = f"a{len(arrays)}"
            arrays[key] = value
            return {"__array__": key}
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, tuple):
            return {"__tuple__": [walk(item) for item in value]}
        if isinstance(value, list):
            return [walk(item) for item in value]
        if isinstance(value, dict):
            return {"__dict__": [[walk(k), walk(v)] for k, v in value.items()]}
        if value is None or isinstance(value, (str, int, float, bool)):
            return value
        raise TypeError(f"cannot store a {type(value).__name__} in a result")

    meta = json.dumps(walk(result))
    buffer = io.BytesIO()
    # np.savez_compressed's level 6 costs ~80 ms for a 224×224 saliency result; level 1 saves
    # about as much space (float maps hardly compress) in a fraction of the time.
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, array in {_META: np.asarray(np.str_(meta)), **arrays}.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
    return buffer.getvalue()


def decode_result(data: bytes, resolve_image: Callable[[str], StoredImage]) -> Any:
    """The result `encode_result` stored; raises ValueError when the bytes are not one."""
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(str(arrays.pop(_META)))

    def build(value: Any) -> Any:
        if isinstance(value, list):
            return [build(item) for item in value]
        if not isinstance(value, dict):
            return value
        if "__array__" in value:
            return arrays[value["__array__"]]
        if "__image__" in value:
            return resolve_image(value["__image__"])
        if "__tuple__" in value:
            return tuple(build(item) for item in value["__tuple__"])
        if "__dict__" in value:
            return {build(k): build(v) for k, v in value["__dict__"]}
        name = value.get("__type__", "")
        if name not in RESULT_TYPES:
            raise ValueError(f"unknown result type {name!r}")
        kind = RESULT_TYPES.get(name)
        return kind(**{name: build(item) for name, item in value["fields"].items()})

    return build(meta)
