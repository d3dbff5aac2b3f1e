import numpy as np
import pytest
import torch
from captum.attr import GuidedGradCam, LayerAttribution, LayerGradCam
from PIL import Image

from app.errors import BadParameter
from app.explain import explain
from app.imaging import sample_image
from app.layers import last_spatial_conv
from tests.models import TinyNet, loaded, normed


def captum_grad_cam(model, pixels, target, layer_name):
    layer = model.network.get_submodule(layer_name)
    coarse = LayerGradCam(model.module, layer).attribute(
        pixels[None], target=target, relu_attributions=True
    )
    fine = LayerAttribution.interpolate(coarse, tuple(pixels.shape[-2:]), "bilinear")
    return coarse[0, 0].detach().numpy(), fine[0, 0].detach().numpy()


def test_matches_captum_on_tiny_model(tiny, pixels) -> None:
    ours = explain(tiny, pixels, "grad_cam", target=5)
    coarse, fine = captum_grad_cam(tiny, pixels, 5, "head")
    np.testing.assert_allclose(ours.raw, coarse, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ours.attribution, fine, rtol=1e-5, atol=1e-7)


def test_matches_captum_on_default_model(default_model, chelsea) -> None:
    ours = explain(default_model, chelsea, "grad_cam", target=285)
    assert ours.raw.shape == (7, 7)
    _, fine = captum_grad_cam(default_model, chelsea, 285, "_conv_head")
    np.testing.assert_allclose(ours.attribution, fine, rtol=1e-4, atol=1e-6)


def test_guided_grad_cam_matches_captum_on_relu_model(relu_net, pixels) -> None:
    ours = explain(relu_net, pixels, "guided_grad_cam", target=2)
    reference = GuidedGradCam(relu_net.module, relu_net.network.head).attribute(
        pixels[None], target=2, interpolate_mode="bilinear"
    )[0]
    np.testing.assert_allclose(ours.raw, reference.detach().numpy(), rtol=1e-5, atol=1e-8)


def test_guided_grad_cam_is_guided_backprop_times_cam(default_model, chelsea) -> None:
    cam = explain(default_model, chelsea, "grad_cam", target=285).attribution
    guided = explain(default_model, chelsea, "guided_backprop", target=285).raw
    combined = explain(default_model, chelsea, "guided_grad_cam", target=285).raw
    np.testing.assert_allclose(combined, guided * cam, rtol=1e-5, atol=1e-9)


def test_layer_fallback_and_override(pixels) -> None:
    without_default = loaded(TinyNet(), grad_cam_layer=None)
    assert last_spatial_conv(without_default) == "head"
    automatic = explain(without_default, pixels, "grad_cam", target=1)
    named = explain(without_default, pixels, "grad_cam", target=1, params={"layer": "head"})
    np.testing.assert_array_equal(automatic.attribution, named.attribution)
    earlier = explain(without_default, pixels, "grad_cam", target=1, params={"layer": "conv2"})
    assert earlier.raw.shape == (16, 16)
    assert not np.allclose(earlier.attribution, named.attribution)


def test_default_model_layer_is_the_last_spatial_conv(default_model) -> None:
    assert default_model.spec.grad_cam_layer == last_spatial_conv(default_model) == "_conv_head"


def test_reused_layer_is_refused(default_model, chelsea) -> None:
    """The blocks' ReLU6 modules run twice per forward; Grad-CAM on one would be ambiguous."""
    with pytest.raises(BadParameter, match="runs 2 times"):
        explain(default_model, chelsea, "grad_cam", params={"layer": "_blocks.1._swish"})


def test_unknown_layer_is_refused(tiny, pixels) -> None:
    with pytest.raises(BadParameter, match=r"no layer 'nope'.*head"):
        explain(tiny, pixels, "grad_cam", params={"layer": "nope"})


def test_cat_is_top1_and_peak_is_on_the_cat(default_model, chelsea) -> None:
    probs = default_model.probabilities(chelsea[None])[0]
    assert int(probs.argmax()) == 285
    result = explain(default_model, chelsea, "grad_cam", target=285)
    image = sample_image("chelsea")
    on_image = default_model.preprocessing.map_to_source(result.attribution, image.size)
    row, col = np.unravel_index(np.nanargmax(on_image), on_image.shape)
    # The cat's head covers the photo but for the background at the top right and right edge.
    assert 20 <= col <= 360 and 0 <= row <= 300
    assert not (col > 330 and row < 140)


def test_peak_follows_the_class_in_a_two_object_image(default_model) -> None:
    """Cat on the left, espresso on the right: each class's Grad-CAM peaks on its own object."""
    canvas = Image.new("RGB", (448, 224))
    canvas.paste(sample_image("chelsea").resize((224, 224)), (0, 0))
    canvas.paste(sample_image("coffee").resize((224, 224)), (224, 0))
    view = default_model.preprocessing.model_view(canvas)  # the middle: half cat, half cup
    cat = explain(default_model, view, "grad_cam", target=285).attribution
    cup = explain(default_model, view, "grad_cam", target=967).attribution
    half = view.shape[-1] // 2
    assert np.unravel_index(cat.argmax(), cat.shape)[1] < half
    assert np.unravel_index(cup.argmax(), cup.shape)[1] >= half
    assert cat[:, :half].sum() > cat[:, half:].sum()
    assert cup[:, half:].sum() > cup[:, :half].sum()


def test_zero_map_is_reported(tiny, pixels) -> None:
    with torch.no_grad():
        tiny.network.fc.weight.zero_()
    result = explain(tiny, pixels, "grad_cam", target=0)
    assert any("zero everywhere" in warning for warning in result.warnings)


def test_on_the_gradient_copy_and_on_the_model_it_matches_captum() -> None:
    """Grad-CAM runs on the BatchNorm-folded copy at a layer the copy kept apart (the model's
    default) and on the model at a folded one; both equal Captum's on the model. Only the
    layers from the watched one on record a backward graph."""
    model = normed(grad_cam_layer="conv2")
    x = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(6))
    copy = model.gradient_module
    assert model.layer_module("conv2") is copy is not model.module
    assert model.layer_module("conv1") is model.module
    tracked = []
    hook = copy.network.conv1.register_forward_hook(lambda m, i, o: tracked.append(o.requires_grad))
    try:
        for layer in ("conv2", "conv1"):
            ours = explain(model, x, "grad_cam", target=2, params={"layer": layer})
            coarse, fine = captum_grad_cam(model, x, 2, layer)
            np.testing.assert_allclose(ours.raw, coarse, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(ours.attribution, fine, rtol=1e-5, atol=1e-6)
    finally:
        hook.remove()
    assert tracked and not any(tracked)  # conv1 ran on the copy for conv2's CAM, without a graph
