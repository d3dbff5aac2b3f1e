"""Turn untrusted bytes into an RGB image, or a clear error.

Rules: the format is detected from the content, never the file name; only ALLOWED_FORMATS are
decoded; the pixel count is checked from the header before any pixel is decoded; EXIF orientation
is applied; multi-frame images use their first frame; transparency is composited on white;
CMYK, palette, grayscale and 16-bit images are converted to 8-bit RGB.
"""

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from app.errors import BadImage, ImageTooLarge, UnsupportedImage

__all__ = ["ALLOWED_FORMATS", "decode_image", "inspect_image", "read_image"]

ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
_ORIENTATION = 0x0112  # the EXIF tag


def read_image(path: Path, max_bytes: int, max_pixels: int) -> Image.Image:
    """Read and decode an image file from disk under the same rules as an upload."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ImageTooLarge(
                f"{path.name}: {size:,} bytes is over the limit of {max_bytes:,} bytes"
            )
        data = path.read_bytes()
    except IsADirectoryError:
        raise BadImage(f"{path} is a directory, not an image file") from None
    except FileNotFoundError:
        raise BadImage(f"{path}: no such file") from None
    except PermissionError:
        raise BadImage(f"{path}: permission denied") from None
    return decode_image(data, max_bytes=max_bytes, max_pixels=max_pixels)


def inspect_image(data: bytes, max_bytes: int, max_pixels: int) -> Image.Image:
    """Open an image and check its format and pixel count from the header; no pixel is decoded
    (cheap enough for a request: a dataset upload checks every image this way)."""
    if len(data) > max_bytes:
        raise ImageTooLarge(f"the file is {len(data):,} bytes; the limit is {max_bytes:,} bytes")
    if not data:
        raise BadImage("the file is empty")
    try:
        image: Image.Image = Image.open(io.BytesIO(data), formats=None)
    except UnidentifiedImageError:
        raise UnsupportedImage(
            "this is not an image Lantern can read; use " + ", ".join(ALLOWED_FORMATS)
        ) from None
    except Image.DecompressionBombError:
        raise ImageTooLarge(
            f"the image claims more pixels than the limit of {max_pixels:,} pixels"
        ) from None
    except (OSError, SyntaxError, ValueError) as error:
        raise BadImage(f"the image could not be read: {error}") from None
    if image.format not in ALLOWED_FORMATS:
        raise UnsupportedImage(
            f"{image.format} images are not accepted; use " + ", ".join(ALLOWED_FORMATS)
        )
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"the image is {width}×{height} = {width * height:,} pixels; "
            f"the limit is {max_pixels:,} pixels"
        )
    if width < 1 or height < 1:
        raise BadImage("the image has no pixels")
    return image


def decode_image(
    data: bytes, max_bytes: int, max_pixels: int, keep_pixels: int | None = None
) -> Image.Image:
    """Decode to RGB. With `keep_pixels`, an image with more pixels is reduced to about that
    many (a JPEG already while decoding), so a 40 MP photo is not kept at full size; then
    `info["original_size"]` holds the (width, height) it had."""
    image = inspect_image(data, max_bytes, max_pixels)
    original_size = image.size
    try:
        image.seek(0)
        if keep_pixels is not None and image.format == "JPEG":
            image.draft("RGB", _reduced_size(image.size, keep_pixels))
        image.load()
        orientation = image.getexif().get(_ORIENTATION, 1)
        if orientation != 1:  # else no copy of a large image
            image = ImageOps.exif_transpose(image)
            if orientation in (5, 6, 7, 8):  # a quarter turn: width and height trade places
                original_size = original_size[::-1]
        image = _to_rgb(image)
    except (OSError, SyntaxError, ValueError) as error:
        raise BadImage(f"the image is truncated or corrupt: {error}") from None
    if keep_pixels is not None and image.width * image.height > keep_pixels:
        size = _reduced_size(image.size, keep_pixels)
        image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if keep_pixels is not None and image.size != original_size:
        image.info["original_size"] = original_size
    return image


def _gray_to_rgb(array: np.ndarray, low: float, scale: float) -> Image.Image:
    """(array - low) × scale rounded to 8 bits, as RGB. Converted a band of rows at a time: a
    36 MP 16-bit PNG of 368 KB took +893 MiB converted at once in float64 (issue 19, M5)."""
    gray = np.empty(array.shape, dtype=np.uint8)
    rows = max(1, 1_000_000 // max(1, array.shape[1]))
    for start in range(0, array.shape[0], rows):
        band = (array[start : start + rows].astype(np.float64) - low) * scale + 0.5
        gray[start : start + rows] = np.clip(band, 0, 255).astype(np.uint8)
    return Image.fromarray(gray, mode="L").convert("RGB")


def _reduced_size(size: tuple[int, int], pixels: int) -> tuple[int, int]:
    width, height = size
    scale = min(1.0, (pixels / (width * height)) ** 0.5)
    return max(1, int(width * scale)), max(1, int(height * scale))


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image)
        top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        return _gray_to_rgb(array, 0.0, 255.0 / top)
    if image.mode == "F":
        array = np.asarray(image)
        low, high = float(array.min()), float(array.max())
        return _gray_to_rgb(array, low, 255.0 / max(high - low, 1e-12))
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")
