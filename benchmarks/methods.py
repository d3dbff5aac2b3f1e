"""Each explanation method against Captum's equivalent: same model, image, target and settings,
timed in the same run. Prints a markdown table of medians, the ratio and how well the maps agree.

    python benchmarks/methods.py [--repeats 5] [--image sample:chelsea] [--device cpu]
"""

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from captum.attr import (
    Deconvolution,
    GradientShap,
    GuidedBackprop,
    GuidedGradCam,
    IntegratedGradients,
    KernelShap,
    LayerAttribution,
    LayerGradCam,
    Occlusion,
    Saliency,
)

from app.explain import METHODS, explain
from app.explain.kernel_shap import superpixels
from app.imaging import read_image, sample_image
from app.settings import Settings
from app.zoo import LoadedModel, load_model

TARGET = 285  # Egyptian cat, the top-1 class of the default photo


def _channel_max_abs(raw: torch.Tensor) -> np.ndarray:
    return raw[0].abs().amax(dim=0).detach().cpu().numpy()


def _channel_sum(raw: torch.Tensor) -> np.ndarray:
    return raw[0].sum(dim=0).detach().cpu().numpy()


def captum_equivalents(
    model: LoadedModel, pixels: torch.Tensor
) -> dict[str, tuple[Callable[[], np.ndarray], str]]:
    """Captum's nearest equivalent of each method at our default settings, and a note."""
    module, network = model.module, model.network
    x = pixels[None].to(model.device)
    params = {name: METHODS.get(name).Params() for name in METHODS.names()}
    occlusion = params["occlusion"]
    integrated = params["integrated_gradients"]
    kernel = params["kernel_shap"]
    gradient_shap = params["gradient_shap"]
    layer = network.get_submodule(model.spec.grad_cam_layer or "")
    mean = torch.tensor(model.preprocessing.mean, device=model.device).view(1, 3, 1, 1)
    segments = superpixels(x, kernel.superpixels, kernel.compactness)

    def occlusion_run() -> np.ndarray:
        window, stride = occlusion.window, occlusion.stride
        out = Occlusion(module).attribute(
            x,
            sliding_window_shapes=(3, window, window),
            strides=(3, stride, stride),
            baselines=mean.expand_as(x),
            target=TARGET,
            perturbations_per_eval=occlusion.batch_size or model.forward_batch,
        )
        return out[0, 0].cpu().numpy()

    def grad_cam_run() -> np.ndarray:
        coarse = LayerGradCam(module, layer).attribute(x, target=TARGET, relu_attributions=True)
        fine = LayerAttribution.interpolate(coarse, tuple(x.shape[-2:]), "bilinear")
        return fine[0, 0].detach().cpu().numpy()

    def kernel_shap_run() -> np.ndarray:
        torch.manual_seed(kernel.seed)
        out = KernelShap(module).attribute(
            x,
            baselines=mean.expand_as(x),
            target=TARGET,
            feature_mask=segments[None, None],
            n_samples=kernel.samples,
            perturbations_per_eval=kernel.batch_size or model.forward_batch,
        )
        return out[0, 0].cpu().numpy()

    def gradient_shap_run() -> np.ndarray:
        torch.manual_seed(gradient_shap.seed)
        references = torch.cat([torch.zeros_like(x), torch.ones_like(x)])
        out = GradientShap(module).attribute(
            x,
            baselines=references,
            target=TARGET,
            n_samples=gradient_shap.samples,
            stdevs=gradient_shap.noise,
        )
        return _channel_sum(out)

    return {
        "occlusion": (occlusion_run, f"window {occlusion.window}, stride {occlusion.stride}"),
        "saliency": (
            lambda: _channel_max_abs(Saliency(module).attribute(x, target=TARGET, abs=True)),
            "",
        ),
        "guided_backprop": (
            lambda: _channel_max_abs(GuidedBackprop(module).attribute(x, target=TARGET)),
            "Captum hooks nn.ReLU only: on ReLU6 it returns the plain gradient",
        ),
        "deconvnet": (
            lambda: _channel_max_abs(Deconvolution(module).attribute(x, target=TARGET)),
            "Captum hooks nn.ReLU only: on ReLU6 it returns the plain gradient",
        ),
        "grad_cam": (grad_cam_run, f"layer {model.spec.grad_cam_layer}"),
        "guided_grad_cam": (
            lambda: _channel_max_abs(
                GuidedGradCam(module, layer).attribute(
                    x, target=TARGET, interpolate_mode="bilinear"
                )
            ),
            "Captum's guided part is the plain gradient on ReLU6",
        ),
        "integrated_gradients": (
            lambda: _channel_sum(
                IntegratedGradients(module).attribute(
                    x,
                    baselines=torch.zeros_like(x),
                    target=TARGET,
                    n_steps=integrated.steps,
                    internal_batch_size=integrated.batch_size,
                )
            ),
            f"{integrated.steps} steps, {integrated.rule}",
        ),
        "kernel_shap": (
            kernel_shap_run,
            f"{int(segments.max()) + 1} superpixels, {kernel.samples} samples, same seed",
        ),
        "gradient_shap": (
            gradient_shap_run,
            f"{gradient_shap.samples} samples; random streams differ, so maps differ by noise",
        ),
    }


def median_time(run: Callable[[], object], repeats: int, cuda: bool) -> tuple[float, object]:
    result = run()  # warm-up, also the result compared
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--image", default="sample:chelsea")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--methods", nargs="*", default=METHODS.names())
    args = parser.parse_args()

    settings = Settings(device=args.device)
    model = load_model(settings.default_model, settings)
    if args.image.startswith("sample:"):
        image = sample_image(args.image.removeprefix("sample:"))
    else:
        from pathlib import Path

        image = read_image(Path(args.image), settings.max_image_bytes, settings.max_image_pixels)
    pixels = model.preprocessing.model_view(image)
    references = captum_equivalents(model, pixels)
    cuda = model.device.type == "cuda"
    device = torch.cuda.get_device_name() if cuda else f"{platform.processor() or 'CPU'}"
    print(
        f"model {model.name}, image {args.image}, target {TARGET}, device {model.device} "
        f"({device}, {torch.get_num_threads()} threads), torch {torch.__version__}, "
        f"median of {args.repeats} runs after one warm-up\n"
    )
    print("| method | Lantern (s) | Captum (s) | Captum / Lantern | map correlation | notes |")
    print("|---|---:|---:|---:|---:|---|")
    for name in args.methods:
        ours_seconds, ours = median_time(
            lambda name=name: explain(model, pixels, name, target=TARGET), args.repeats, cuda
        )
        run, note = references[name]
        theirs_seconds, theirs = median_time(run, args.repeats, cuda)
        ours_map = ours.attribution.ravel()  # type: ignore[attr-defined]
        correlation = float(np.corrcoef(ours_map, np.asarray(theirs).ravel())[0, 1])
        print(
            f"| {name} | {ours_seconds:.3f} | {theirs_seconds:.3f} | "
            f"{theirs_seconds / ours_seconds:.2f} | {correlation:.4f} | {note} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
