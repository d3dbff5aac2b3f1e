"""Dynamic int8 with ONNX Runtime, the simple baseline: the classifier's matrix product gets
int8 weights and per-batch activation scales; convolutions stay float32, so on a convolutional
network it changes little (and speeds up little)."""

from pydantic import Field

from app.compress._variants import as_variant, editable_copy
from app.compress.base import RECIPES, CompressedModel, CompressionData, Recipe
from app.compress.fake_quant import fake_quantize
from app.compress.onnx_int8 import initializer_elements, quantize_dynamic
from app.params import Params, Progress
from app.zoo import LoadedModel
from app.zoo.fast import export_onnx, onnx_runtime_forward

__all__ = ["DynamicInt8", "DynamicInt8Params"]


class DynamicInt8Params(Params):
    per_channel: bool = Field(True, description="Twin's weight scales (ONNX Runtime: per tensor)")


@RECIPES.register
class DynamicInt8(Recipe):
    name = "int8_dynamic"
    title = "int8 dynamic (classifier only)"
    Params = DynamicInt8Params

    def build(
        self,
        model: LoadedModel,
        data: CompressionData,
        params: DynamicInt8Params,
        progress: Progress,
    ) -> CompressedModel:
        network = editable_copy(model)
        artifact = quantize_dynamic(export_onnx(network, model.input_size))
        progress(1, 2)
        linear = {
            name for name, layer in network.named_modules() if type(layer).__name__ == "Linear"
        }
        twin = fake_quantize(network, {}, params.per_channel, layers=linear, activations=False)
        forward = onnx_runtime_forward(artifact)
        progress(2, 2)
        return self.package(
            params,
            as_variant(model, twin, forward, "ONNX Runtime dynamic int8", "int8 dynamic"),
            network,
            artifact,
            "onnx",
            gradient_note=(
                "gradient methods run on the float twin with int8-rounded classifier weights"
            ),
            details={"initializer_elements": initializer_elements(artifact)},
        )
