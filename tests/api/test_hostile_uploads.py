"""The hostile image set, through the API: every file is refused with a clear 4xx or decoded by
the stated rule (first frame, composite on white, EXIF orientation, 8-bit RGB), and the server
keeps serving. Limits in these tests: 200 kB and 1 Mpixel (tests/api/conftest.py)."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from tests.imaging.test_decode import encode, png_claiming


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def _png(width: int, height: int, idat: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )


def _zlib_bomb(width: int, height: int) -> bytes:
    """A real compressed stream of width×height gray zeros (about 1000:1)."""
    packer = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    return _png(
        width, height, b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    )


def _gif_claiming(width: int, height: int) -> bytes:
    """A real 8×8 GIF whose logical screen claims width×height."""
    real = encode(Image.new("P", (8, 8)), "GIF")
    return real[:6] + struct.pack("<HH", width, height) + real[10:]


def _photo(mode: str = "RGB", size=(64, 48)) -> Image.Image:
    rng = np.random.default_rng(1)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).convert(
        mode
    )


def _exif_rotated() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    return encode(_photo(size=(64, 32)), "JPEG", exif=exif.tobytes())


def _frames() -> bytes:
    first, second = Image.new("RGB", (32, 32), (255, 0, 0)), Image.new("RGB", (32, 32), (0, 0, 255))
    return encode(first, "GIF", save_all=True, append_images=[second])


def _transparent() -> bytes:
    return encode(Image.new("RGBA", (32, 32), (255, 0, 0, 0)), "PNG")


REFUSED = {
    "pixel-bomb-png-20k": (png_claiming(20_000, 20_000), 413),
    "pixel-bomb-gif-65k": (_gif_claiming(65_535, 65_535), 413),
    "zlib-bomb-png": (_zlib_bomb(4_000, 4_000), 413),
    "too-many-bytes": (encode(_photo(size=(400, 400)), "BMP"), 413),
    "truncated-png": (encode(_photo())[:200], 422),
    "truncated-jpeg": (encode(_photo(), "JPEG")[:300], 422),
    "corrupt-zlib-png": (_png(16, 16, b"\x78\x9c" + b"\xff" * 40), 422),
    "empty": (b"", 422),
    "svg-with-script": (
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        415,
    ),
    "html-named-png": (b"<!doctype html><script>alert(document.cookie)</script>", 415),
    "gif-javascript-polyglot": (b"GIF89a/*\x00\x00*/=alert(1)//;", 415),
    "pdf": (b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", 415),
    "windows-exe": (b"MZ\x90\x00" + b"\x00" * 200, 415),
    "ico": (encode(Image.new("RGB", (16, 16)), "ICO"), 415),
    "zip": (b"PK\x03\x04" + b"\x00" * 100, 415),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_hostile_files_are_refused_with_a_clear_message(client, name) -> None:
    content, status = REFUSED[name]
    response = client.post("/api/images", files={"file": (f"{name}.png", content)})
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and 10 < len(detail) < 300
    assert client.get("/healthz").status_code == 200


ACCEPTED = {
    "grayscale": (encode(_photo("L")), None),
    "gray-alpha": (encode(_photo("LA")), None),
    "palette": (encode(_photo("P")), None),
    "1-bit": (encode(_photo("1")), None),
    "cmyk-jpeg": (encode(_photo("CMYK"), "JPEG"), None),
    "16-bit-png": (encode(Image.fromarray(np.full((20, 20), 65535, np.uint16))), (255, 255, 255)),
    "float-tiff": (encode(Image.fromarray(np.eye(20, dtype=np.float32)), "TIFF"), None),
    "transparent-on-white": (_transparent(), (255, 255, 255)),
    "multi-frame-first": (_frames(), (255, 0, 0)),
    "webp": (encode(_photo(), "WEBP"), None),
    "exif-rotated": (_exif_rotated(), None),
    "png-with-html-appended": (encode(_photo()) + b"<html><script>alert(1)</script></html>", None),
}


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_odd_images_follow_the_stated_rule(client, name) -> None:
    content, corner = ACCEPTED[name]
    response = client.post("/api/images", files={"file": (f"{name}.png", content)})
    assert response.status_code == 201, response.text
    image = response.json()
    view = client.get(f"/api/images/{image['id']}/view.png")
    assert view.headers["content-type"] == "image/png"
    assert view.headers["x-content-type-options"] == "nosniff"
    picture = Image.open(io.BytesIO(view.content))  # re-encoded: never the uploaded bytes
    assert picture.format == "PNG" and picture.mode == "RGB"
    assert b"<script>" not in view.content
    if corner is not None:
        assert picture.getpixel((0, 0)) == corner
    if name == "exif-rotated":
        assert (image["width"], image["height"]) == (32, 64)
