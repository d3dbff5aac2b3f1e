import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms

from app.imaging import Preprocessing, sample_image

IMAGENET = Preprocessing(
    resize=256, crop=224, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)
)


@pytest.mark.parametrize("name", ["chelsea", "astronaut", "rocket", "coffee"])
def test_model_view_equals_torchvision(name: str) -> None:
    image = sample_image(name)
    ours = IMAGENET.model_view(image)
    reference = transforms.Compose(
        [transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor()]
    )(image)
    assert ours.shape == (3, 224, 224)
    torch.testing.assert_close(ours, reference)


def test_normalize_round_trip() -> None:
    pixels = torch.rand(3, 8, 8)
    normalized = IMAGENET.normalize(pixels)
    torch.testing.assert_close(IMAGENET.denormalize(normalized), pixels)
    torch.testing.assert_close(
        normalized, transforms.Normalize(IMAGENET.mean, IMAGENET.std)(pixels)
    )


@pytest.mark.parametrize("size", [(451, 300), (300, 451), (256, 256), (1000, 257)])
def test_source_box_is_the_region_the_model_sees(size) -> None:
    generator = np.random.default_rng(0)
    coarse = Image.fromarray(generator.integers(0, 255, (12, 12, 3), dtype=np.uint8))
    image = coarse.resize(size, Image.Resampling.BICUBIC)  # smooth, so resampling agrees
    left, top, right, bottom = IMAGENET.source_box(size)
    assert right - left == pytest.approx(bottom - top, rel=0.01)
    region = image.resize((224, 224), Image.Resampling.BILINEAR, box=(left, top, right, bottom))
    region_pixels = torch.from_numpy(np.array(region)).permute(2, 0, 1).float() / 255
    difference = (IMAGENET.model_view(image) - region_pixels).abs().mean()
    assert difference < 0.02


def test_map_to_source_puts_each_value_where_the_model_saw_it() -> None:
    size = (451, 300)
    attribution = np.zeros((224, 224), dtype=np.float32)
    attribution[50:60, 150:160] = 1.0
    on_image = IMAGENET.map_to_source(attribution, size)
    assert on_image.shape == (300, 451)
    left, top, right, _bottom = IMAGENET.source_box(size)
    scale = (right - left) / 224
    rows, cols = np.nonzero(np.nan_to_num(on_image) > 0.5)
    assert (
        abs(cols.min() - (left + 150 * scale)) <= 2 and abs(cols.max() - (left + 160 * scale)) <= 2
    )
    assert abs(rows.min() - (top + 50 * scale)) <= 2 and abs(rows.max() - (top + 60 * scale)) <= 2
    assert np.isnan(on_image[150, 10]) and np.isnan(on_image[150, 440])  # cropped away
    assert not np.isnan(on_image[150, 225])
