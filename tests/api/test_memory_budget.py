"""Issue 19, item 1: one small request must not take more memory than the host has.

Memory is read from /proc/self/status: VmHWM (the peak, reset by writing 5 to
/proc/self/clear_refs) for what a request costs while it runs, VmRSS for what stays. The app runs
in this process (TestClient), so both include the server's work.
"""

import contextlib
import ctypes
import gc
import io
import struct
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.compress.data import zip_sources
from app.errors import BadImage
from app.main import create_app
from app.settings import Settings
from app.zoo import LoadedModel, load_model
from app.zoo.pool import ModelPool
from tests.api.helpers import zip_bytes

MiB = 2**20
pytestmark = pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc to measure memory"
)


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(field)


def held() -> int:
    """RSS after handing freed heap memory back (glibc keeps freed blocks of large decodes in its
    arenas, which is reuse, not growth: the next decode takes them again)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return _status("VmRSS")


def peak_growth(action: Callable[[], object]) -> tuple[object, int]:
    """(what `action` returned, how far the process's peak RSS rose above its RSS before)."""
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    before = _status("VmRSS")
    result = action()
    return result, _status("VmHWM") - before


def one_member_zip(
    name: str, data: bytes, method: int, crc: int, size: int, flags: int = 0
) -> bytes:
    """A zip of one member whose headers say what the caller wants (sizes, CRC, method)."""
    encoded = name.encode()
    local = struct.pack(
        "<4s5H3L2H", b"PK\x03\x04", 20, flags, method, 0, 0, crc, len(data), size, len(encoded), 0
    )
    central = struct.pack(
        "<4s6H3L5H2L",
        b"PK\x01\x02",
        20,
        20,
        flags,
        method,
        0,
        0,
        crc,
        len(data),
        size,
        len(encoded),
        0,
        0,
        0,
        0,
        0,
        0,
    )
    body = local + encoded + data
    directory = central + encoded
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(directory), len(body), 0)
    return body + directory + end


def _deflated_zeros(mebibytes: int) -> tuple[bytes, int]:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b"\0" * MiB
    data = b"".join(compressor.compress(chunk) for _ in range(mebibytes)) + compressor.flush()
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(chunk, crc)
    return data, crc


@pytest.fixture(scope="module")
def deflate_bomb() -> tuple[bytes, int]:
    """256 MiB of zeros as a ~250 KB raw deflate stream, and its CRC."""
    return _deflated_zeros(256)


@pytest.fixture
def production_limits(api_settings: Settings) -> Settings:
    """The shipped image and upload limits (20 MB, 40 MP), on the tiny model."""
    shipped = {
        name: Settings.model_fields[name].default
        for name in ("max_image_bytes", "max_image_pixels")
    }
    return api_settings.model_copy(update=shipped)


@pytest.fixture
def full_client(production_limits: Settings, tiny_model: LoadedModel) -> Iterator[TestClient]:
    pool = ModelPool(production_limits, load_model, preloaded=[tiny_model])
    with TestClient(create_app(production_limits, pool)) as test_client:
        yield test_client


def _post_dataset(client: TestClient, content: bytes) -> object:
    return client.post(
        "/api/compress/datasets", files={"file": ("set.zip", content, "application/zip")}
    )


def test_zip_bombs_are_refused_without_unpacking(
    full_client: TestClient, deflate_bomb: tuple[bytes, int]
) -> None:
    data, crc = deflate_bomb
    bz2_member = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(bz2_member, "w", zipfile.ZIP_BZIP2) as archive:
        archive.writestr("a.png", b"\0" * (32 * MiB))
    bombs = {
        # The review's bomb: bzip2 (zipfile bounds nothing there), headers claiming 5.8 KB.
        "bzip2": bz2_member.getvalue(),
        # Deflate with the headers claiming 5.8 KB: reading stops there and the CRC fails.
        "deflate, forged small": one_member_zip("a.png", data, 8, crc, 5_800),
        # Deflate claiming 15 MB (under the 20 MB image limit): read in chunks, CRC fails.
        "deflate, forged under the limit": one_member_zip("a.png", data, 8, crc, 15 * MiB),
        # Honest headers: refused from the directory, before a byte is decompressed.
        "deflate, honest": one_member_zip("a.png", data, 8, crc, 256 * MiB),
    }
    for what, content in bombs.items():
        response, growth = peak_growth(lambda content=content: _post_dataset(full_client, content))
        assert response.status_code in (413, 415, 422), (what, response.text)  # type: ignore[attr-defined]
        assert "content-security-policy" in response.headers  # type: ignore[attr-defined]
        print(f"zip bomb ({what}): {response.status_code}, peak +{growth / MiB:.1f} MiB")  # type: ignore[attr-defined]
        assert growth < 50 * MiB, f"{what}: the peak rose by {growth / MiB:.0f} MiB"


def test_malformed_members_are_client_errors_with_security_headers(
    full_client: TestClient,
) -> None:
    png = io.BytesIO()
    Image.new("RGB", (8, 8)).save(png, format="PNG")
    content = png.getvalue()
    crc = zlib.crc32(content)
    cases = {
        "bad CRC": (one_member_zip("a.png", content, 0, crc ^ 1, len(content)), 422),
        "unknown method": (one_member_zip("a.png", content, 99, crc, len(content)), 415),
        "encrypted": (one_member_zip("a.png", content, 0, crc, len(content), flags=1), 415),
        "truncated deflate": (one_member_zip("a.png", b"\x00\x01", 8, crc, len(content)), 422),
        "not a zip": (b"PK\x05\x06" + b"\xff" * 18, 422),
    }
    for what, (archive, status) in cases.items():
        response = _post_dataset(full_client, archive)
        assert response.status_code == status, (what, response.text)  # type: ignore[attr-defined]
        assert "content-security-policy" in response.headers, what  # type: ignore[attr-defined]
    good = one_member_zip("a.png", content, 0, crc, len(content))
    assert _post_dataset(full_client, good).status_code == 201  # type: ignore[attr-defined]


def test_the_entry_count_is_counted_not_read_from_the_end_record(full_client: TestClient) -> None:
    entries = 300_000
    names = [f"{i}.txt".encode() for i in range(entries)]
    local = b"".join(
        struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, len(n), 0) + n
        for n in names
    )
    offsets, position = [], 0
    for n in names:
        offsets.append(position)
        position += 30 + len(n)
    directory = b"".join(
        struct.pack(
            "<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0, len(n), 0, 0, 0, 0, 0, o
        )
        + n
        for n, o in zip(names, offsets, strict=True)
    )
    forged = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 10, 10, len(directory), len(local), 0)
    archive = local + directory + forged

    def count() -> None:
        with pytest.raises(BadImage, match="more than 20,000 files"):
            zip_sources(archive, 5_000_000, 10_000_000)

    _, growth = peak_growth(count)
    assert growth < 16 * MiB, f"the peak rose by {growth / MiB:.0f} MiB"  # no ZipInfo objects
    response = _post_dataset(full_client, archive)
    assert response.status_code == 422 and "20,000" in response.text  # type: ignore[attr-defined]


def _flat_png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def test_a_dataset_upload_checks_headers_and_decodes_nothing(full_client: TestClient) -> None:
    """The review's 386 KB zip of 3 large images took +774 MiB in the request."""
    images = {f"{i}.png": _flat_png(6000, 6000, (i, 2 * i, 3 * i)) for i in range(3)}
    content = zip_bytes(images)
    del images
    response, growth = peak_growth(lambda: _post_dataset(full_client, content))
    assert response.status_code == 201, response.text  # type: ignore[attr-defined]
    assert response.json()["images"] == 3  # type: ignore[attr-defined]
    print(f"dataset of three 36 MP images: peak +{growth / MiB:.1f} MiB")
    assert growth < 50 * MiB, f"the peak rose by {growth / MiB:.0f} MiB"


def test_three_40_megapixel_uploads_are_kept_small(full_client: TestClient) -> None:
    """The review's three 129 KB uploads held +925 MiB. Kept: at most 2 MP each (6 MB)."""
    uploads = [_flat_png(8000, 5000, (i, 100, 200)) for i in range(3)]
    before = held()
    peaks = []
    for index, content in enumerate(uploads):
        response, peak = peak_growth(
            lambda content=content, index=index: full_client.post(
                "/api/images", files={"file": (f"{index}.png", content, "image/png")}
            )
        )
        assert response.status_code == 201, response.text  # type: ignore[attr-defined]
        assert (response.json()["width"], response.json()["height"]) == (8000, 5000)  # type: ignore[attr-defined]
        peaks.append(peak)
    kept = held() - before
    print(f"three 40 MP uploads: kept +{kept / MiB:.0f} MiB, peaks {[p // MiB for p in peaks]} MiB")
    assert kept < 64 * MiB, f"three 40 MP uploads kept {kept / MiB:.0f} MiB"
    assert max(peaks) < 400 * MiB, f"one upload peaked at +{max(peaks) / MiB:.0f} MiB"
    image_id = response.json()["id"]  # type: ignore[attr-defined]
    stored = full_client.app.state.workspace.images.get(image_id)  # type: ignore[attr-defined]
    assert stored.image.width * stored.image.height <= 2_000_000


def test_a_16_bit_png_is_converted_in_bands(full_client: TestClient) -> None:
    """The review's 76 KB 16-bit PNG cost +1 GiB in the request (float64 conversion at once);
    this 36 MP one (368 KB) peaked at +893 MiB before, about +325 MiB now."""
    import numpy as np

    ramp = (np.arange(6000 * 6000, dtype=np.uint32) % 65536).astype(np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(ramp.reshape(6000, 6000)).save(buffer, format="PNG")
    content = buffer.getvalue()
    del ramp, buffer
    before = held()
    response, growth = peak_growth(
        lambda: full_client.post("/api/images", files={"file": ("deep.png", content, "image/png")})
    )
    assert response.status_code == 201, response.text  # type: ignore[attr-defined]
    print(f"36 MP 16-bit PNG: peak +{growth / MiB:.0f} MiB, kept +{(held() - before) / MiB:.0f}")
    assert growth < 500 * MiB, f"the peak rose by {growth / MiB:.0f} MiB"
