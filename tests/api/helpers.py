import io
import time
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image


def png_bytes(width: int = 48, height: int = 40, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    array = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def solid_png(colour: tuple[int, int, int], seed: int, size: int = 40) -> bytes:
    """A noisy single-colour picture: easy to tell apart by colour, never two the same."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(-20, 20, (size, size, 3))
    array = np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(client: TestClient, content: bytes | None = None, name: str = "photo.png") -> Any:
    response = client.post("/api/images", files={"file": (name, content or png_bytes())})
    assert response.status_code == 201, response.text
    return response.json()


def wait_job(client: TestClient, job_id: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        view = client.get(f"/api/jobs/{job_id}").json()
        if view["status"] in ("done", "failed", "cancelled", "timeout"):
            return view
        assert time.monotonic() < deadline, f"job {job_id} still {view['status']}"
        time.sleep(0.02)


def run_explanation(client: TestClient, image_id: str, method: str, **extra: Any) -> Any:
    response = client.post(
        "/api/explanations", json={"image_id": image_id, "method": method, **extra}
    )
    assert response.status_code in (200, 201), response.text
    return wait_job(client, response.json()["id"])


def zip_bytes(files: dict[str, bytes]) -> bytes:
    """A zip archive holding `files` (name -> content)."""
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()
