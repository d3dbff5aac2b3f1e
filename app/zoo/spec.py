"""What Lantern knows about a model (ModelSpec) and a model ready to use (LoadedModel)."""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from app.imaging.preprocessing import Normalize, Preprocessing
from app.settings import Settings
from app.zoo.accelerated import tune_batch
from app.zoo.fast import FastForward, build_fast_forward
from app.zoo.incremental import IncrementalOcclusion, build_incremental_occlusion
from app.zoo.twin import GradientTwin, build_gradient_twin

__all__ = ["LoadedModel", "ModelSpec", "PixelClassifier"]

_PREPARE_LOCK = threading.Lock()
_FAST_LOCK = threading.Lock()  # apart from _PREPARE_LOCK: a prepared path may need the fast one

# Images per forward pass for perturbation methods whose batch_size is left empty. On the CPU
# ONNX Runtime's time per image is flat from 16 to 64 (occlusion window 16 / stride 8 and
# KernelSHAP 200 samples, 2 cores: within run-to-run noise; 8 was 10-15 % slower), so 16; on
# CUDA the fastest of these, timed at start-up (prepare).
CPU_BATCH = 16
CUDA_BATCHES = (16, 32, 64, 128, 256)


@dataclass(frozen=True)
class ModelSpec:
    """A registered model.

    `build(settings)` returns the network with its default weights (offline, or a clear error);
    `architecture(num_classes)` returns it untrained, for a user's own weights.
    `grad_cam_layer` names a submodule of the network that runs once per forward pass.
    `stages(module)` splits the pixels -> logits module for incremental occlusion (optional).
    """

    name: str
    description: str
    build: Callable[[Settings], nn.Module]
    architecture: Callable[[int], nn.Module]
    preprocessing: Preprocessing
    labels: Callable[[], list[str]]
    grad_cam_layer: str | None = None
    # The pixels -> logits module cut into stages for incremental occlusion: all but the last
    # are local (see app/zoo/incremental.py); they share the module's parameters.
    stages: Callable[[nn.Module], list[nn.Module]] | None = None
    weights_source: Callable[[Settings], str] = field(default=lambda settings: "built in")


class PixelClassifier(nn.Module):
    """network(normalize(pixels)): takes (N, 3, H, W) pixels in [0, 1], returns logits."""

    def __init__(self, network: nn.Module, preprocessing: Preprocessing) -> None:
        super().__init__()
        self.normalize = Normalize(preprocessing)
        self.network = network

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.network(self.normalize(pixels))
        return logits


@dataclass
class LoadedModel:
    spec: ModelSpec
    module: PixelClassifier
    labels: list[str]
    device: torch.device
    weights: str
    fast_forward: FastForward | None = None  # see enable_fast_forward
    engine: str = "PyTorch"  # what forward_logits runs on
    # False when forward_logits runs something else than `module` (a compressed variant's
    # int8 engine): then nothing may be derived from `module` to replace forward_logits.
    forward_is_module: bool = True
    forward_batch: int = CPU_BATCH  # images per forward pass when a method's batch_size is empty
    # What gradient methods differentiate, said when it is not the forward engine's network
    # (a compressed variant's fake-quantized twin); None: the same network.
    gradient_engine: str | None = None
    _prepared: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    # defer_fast_forward: the fast path is built by the first forward-only work that needs it.
    _fast_pending: bool = field(default=False, init=False, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def network(self) -> nn.Module:
        return self.module.network

    @property
    def preprocessing(self) -> Preprocessing:
        return self.spec.preprocessing

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    @property
    def input_size(self) -> int:
        return self.spec.preprocessing.crop

    def enable_fast_forward(self) -> str:
        """Prepare the faster logits-only path (app/zoo/fast.py) once; returns the engine."""
        self.fast_forward, self.engine = build_fast_forward(
            self.module, self.input_size, self.device
        )
        self._prepared.pop("incremental", None)  # its engine follows the fast path's
        self._fast_pending = False
        return self.engine

    def defer_fast_forward(self) -> None:
        """Build the fast path when forward-only work first needs it (ensure_fast_forward),
        not now: the ONNX export and its check cost seconds that a gradient method, or a
        command that ends after one map, never gets back."""
        if self.fast_forward is None:
            self._fast_pending = True

    def ensure_fast_forward(self) -> str:
        """Build the deferred fast path now (once, whichever thread asks first; on CUDA its
        batch size is timed too); returns the engine forward_logits runs on."""
        if self._fast_pending:
            with _FAST_LOCK:
                if self._fast_pending:
                    self.enable_fast_forward()
                    if self.device.type == "cuda" and self.fast_forward is not None:
                        self.forward_batch, _ = tune_batch(
                            self.fast_forward, self.input_size, self.device, CUDA_BATCHES
                        )
                        self.engine = f"{self.engine}, batches of {self.forward_batch}"
        return self.engine

    def incremental_occlusion(
        self, prepare: bool = True
    ) -> tuple[IncrementalOcclusion | None, str]:
        """The incremental occlusion engine (app/zoo/incremental.py), prepared on first use
        (on ONNX Runtime when the fast path is on) unless `prepare` is False, or None and why
        it is not available."""
        if not prepare and "incremental" not in self._prepared:
            return None, "not prepared"
        if prepare:
            self.ensure_fast_forward()  # the stages run on the fast path's engine
        if self.spec.stages is None:
            return None, f"{self.name} declares no stages for incremental occlusion"
        if not self.forward_is_module:
            return None, f"{self.engine} is not the module incremental occlusion would cut"

        def build() -> tuple[IncrementalOcclusion | None, str]:
            assert self.spec.stages is not None
            return build_incremental_occlusion(
                self.spec.stages(self.module),
                self.input_size,
                self.device,
                self.module,
                onnx=self.fast_forward is not None,
            )

        prepared: tuple[IncrementalOcclusion | None, str] = self._prepare("incremental", build)
        return prepared

    @property
    def gradient_module(self) -> nn.Module:
        """What input-gradient methods differentiate: a BatchNorm-folded, channels-last copy of
        `module` (app/zoo/twin.py; same logits and gradients within fast.TOLERANCE), prepared
        on first use, or `module` itself (compressed variants, models with nothing to fold)."""
        return self._gradient_twin().module

    def layer_module(self, layer: str) -> nn.Module:
        """What a layer method (Grad-CAM) watching `layer` of `network` should run: the
        gradient copy when that layer's output is the model's there (not folded), else
        `module`. Both have the same submodule names."""
        twin = self._gradient_twin()
        return self.module if f"network.{layer}" in twin.folded else twin.module

    def _gradient_twin(self) -> GradientTwin:
        if not self.forward_is_module:
            return GradientTwin(self.module, "a variant differentiates its own module")

        def build() -> GradientTwin:
            layer = self.spec.grad_cam_layer
            keep = [] if layer is None else [f"network.{layer}"]
            return build_gradient_twin(self.module, self.input_size, self.device, keep)

        twin: GradientTwin = self._prepare("gradient", build)
        return twin

    def skip_gradient_copy(self, reason: str) -> None:
        """Differentiate `module` itself from now on: for a process that runs a gradient method
        once (a CLI command), where building and checking the copy (a few forward and backward
        passes) costs more than it saves."""
        with _PREPARE_LOCK:
            self._prepared.setdefault("gradient", GradientTwin(self.module, reason))

    def gradient_inputs(self, pixels: torch.Tensor) -> torch.Tensor:
        """A copy of pixels that requires grad, in the memory format gradient_module runs best
        on (channels-last for the folded copy, as given otherwise)."""
        twin = self.gradient_module is not self.module
        layout = torch.channels_last if twin else torch.contiguous_format
        return pixels.detach().clone(memory_format=layout).requires_grad_(True)

    def prepare(self) -> None:
        """Build the lazily prepared paths now (a server at start-up), so no request waits."""
        self.ensure_fast_forward()
        self.incremental_occlusion()
        _ = self.gradient_module

    def _prepare(self, key: str, build: Callable[[], Any]) -> Any:
        """build() once per model, whichever thread asks first."""
        with _PREPARE_LOCK:
            if key not in self._prepared:
                self._prepared[key] = build()
            return self._prepared[key]

    @torch.no_grad()
    def forward_logits(self, pixels: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) pixels in [0, 1] -> (N, classes) logits on the model's device, without
        gradients: for methods that need only forward passes. Uses the fast path if enabled;
        a deferred one is built by the first batch of several images (one image, such as the
        prediction before a gradient method, is not worth an export)."""
        if self._fast_pending and pixels.shape[0] > 1:
            self.ensure_fast_forward()
        if self.fast_forward is None:
            logits: torch.Tensor = self.module(pixels.to(self.device))
            return logits
        return self.fast_forward(pixels).to(self.device)

    @torch.no_grad()
    def probabilities(self, pixels: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) pixels in [0, 1] -> (N, classes) softmax probabilities (through
        forward_logits: the fast path when enabled, what a compressed variant really runs)."""
        return torch.softmax(self.forward_logits(pixels), dim=-1)

    @classmethod
    def from_network(
        cls,
        spec: ModelSpec,
        network: nn.Module,
        device: str | torch.device = "cpu",
        labels: list[str] | None = None,
        weights: str | Path = "built in",
    ) -> "LoadedModel":
        module = PixelClassifier(network, spec.preprocessing).to(device).eval()
        for parameter in module.parameters():
            parameter.requires_grad_(False)
        return cls(
            spec=spec,
            module=module,
            labels=labels if labels is not None else spec.labels(),
            device=torch.device(device),
            weights=str(weights),
        )
