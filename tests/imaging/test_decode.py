"""Every odd or hostile image gets the stated rule or a clear error, never a crash."""

import io
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from app.errors import BadImage, ImageTooLarge, UnsupportedImage
from app.imaging import decode_image, read_image

LIMITS = {"max_bytes": 10_000_000, "max_pixels": 20_000_000}


def encode(image: Image.Image, format: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A ~100-byte PNG whose header claims width×height pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def test_plain_png_and_jpeg() -> None:
    image = Image.new("RGB", (40, 30), (10, 200, 30))
    for format in ("PNG", "JPEG", "WEBP", "BMP"):
        decoded = decode_image(encode(image, format), **LIMITS)
        assert decoded.mode == "RGB" and decoded.size == (40, 30)


def test_not_an_image() -> None:
    with pytest.raises(UnsupportedImage, match="not an image"):
        decode_image(b"hello, this is text", **LIMITS)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    with pytest.raises(UnsupportedImage):
        decode_image(svg, **LIMITS)
    with pytest.raises(BadImage, match="empty"):
        decode_image(b"", **LIMITS)


def test_disallowed_format() -> None:
    data = encode(Image.new("RGB", (8, 8)), "PPM")
    with pytest.raises(UnsupportedImage, match="PPM images are not accepted"):
        decode_image(data, **LIMITS)


def test_truncated_file() -> None:
    data = encode(Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)))
    with pytest.raises(BadImage, match="truncated or corrupt"):
        decode_image(data[: len(data) // 2], **LIMITS)


def test_pixel_bomb_is_refused_before_decoding() -> None:
    data = png_claiming(20_000, 20_000)
    assert len(data) < 200
    started = time.perf_counter()
    with pytest.raises(ImageTooLarge, match="limit of 20,000,000 pixels"):
        decode_image(data, **LIMITS)
    assert time.perf_counter() - started < 5  # refused from the header, not after decoding


def test_pixel_limit_below_pillows_own() -> None:
    with pytest.raises(ImageTooLarge, match=r"5000×5000 = 25,000,000 pixels"):
        decode_image(png_claiming(5000, 5000), **LIMITS)


def test_byte_limit() -> None:
    data = encode(Image.new("RGB", (64, 64)))
    with pytest.raises(ImageTooLarge, match="bytes"):
        decode_image(data, max_bytes=len(data) - 1, max_pixels=10**6)


def test_transparency_is_composited_on_white() -> None:
    image = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    decoded = decode_image(encode(image), **LIMITS)
    assert decoded.getpixel((0, 0)) == (255, 255, 255)
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([0, 0, 255] * 256)
    decoded = decode_image(encode(palette, transparency=0), **LIMITS)
    assert decoded.getpixel((0, 0)) == (255, 255, 255)


def test_grayscale_16_bit_and_cmyk() -> None:
    gray = decode_image(encode(Image.new("L", (4, 4), 128)), **LIMITS)
    assert gray.getpixel((0, 0)) == (128, 128, 128)
    deep = Image.fromarray(np.full((4, 4), 65535, dtype=np.uint16))
    assert decode_image(encode(deep), **LIMITS).getpixel((0, 0)) == (255, 255, 255)
    cmyk = decode_image(encode(Image.new("CMYK", (4, 4), (0, 0, 0, 0)), "JPEG"), **LIMITS)
    assert cmyk.mode == "RGB" and min(cmyk.getpixel((0, 0))) > 240


def test_exif_orientation_is_applied() -> None:
    image = Image.new("RGB", (40, 20), (0, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    decoded = decode_image(encode(image, "JPEG", exif=exif), **LIMITS)
    assert decoded.size == (20, 40)


def test_multi_frame_uses_the_first_frame() -> None:
    frames = [Image.new("RGB", (8, 8), color) for color in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    decoded = decode_image(buffer.getvalue(), **LIMITS)
    red, _green, blue = decoded.getpixel((0, 0))
    assert red > 200 and blue < 50


def test_read_image_errors(tmp_path) -> None:
    with pytest.raises(BadImage, match="no such file"):
        read_image(tmp_path / "missing.png", 10**6, 10**6)
    with pytest.raises(BadImage, match="directory"):
        read_image(tmp_path, 10**6, 10**6)
    big = tmp_path / "big.png"
    big.write_bytes(b"x" * 2000)
    with pytest.raises(ImageTooLarge):
        read_image(big, 1000, 10**6)
