"""Issue 5's speed benchmark: Lantern's fast paths against Captum, same model, photo, target and
settings, timed in the same run; prints markdown tables (docs/benchmarks.md).

    python benchmarks/speed.py [--repeats 5] [--device auto|cpu|cuda] [--parts ...]

1. Per method at the issue's settings: occlusion (window 16, stride 8: incremental, full passes,
   drill-down), KernelSHAP (~40 superpixels, 500 samples, same seed), integrated gradients
   (50 steps; Captum's defaults), and the six one-pass gradient maps together.
2. The default panel + FGSM at the UI's default parameters, end to end through the Python API
   (run_panel), against Captum's equivalents one after another.
3. Scaling: occlusion time against the number of windows (window 32; stride 32, 16, 8, 4) and
   against the image side (window 16, stride 16).
Times are medians of --repeats runs after one warm-up, ours and Captum's taking turns round by
round (scaling: no warm-up beyond the first rows, and one run where there are more than 700
windows: Captum takes minutes there).
"Agreement" compares the maps: max |difference| / peak and Pearson r.
"""

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from captum.attr import (
    Deconvolution,
    GuidedBackprop,
    GuidedGradCam,
    IntegratedGradients,
    KernelShap,
    LayerAttribution,
    LayerGradCam,
    Occlusion,
    Saliency,
)
from captum.robust import FGSM
from torch.nn import CrossEntropyLoss

from app.explain import METHODS, explain
from app.explain.kernel_shap import superpixels
from app.explain.occlusion import window_positions
from app.imaging import sample_image
from app.panel import run_panel
from app.params import no_progress, parse_params
from app.settings import Settings
from app.zoo import LoadedModel, load_model

TARGET = 285  # Egyptian cat: the top-1 class of the photo
SIX = ["saliency", "guided_backprop", "deconvnet", "grad_cam", "guided_grad_cam"]


def compare(
    ours: Callable[[], Any], theirs: Callable[[], Any], repeats: int, cuda: bool
) -> tuple[float, Any, float, Any]:
    """(our median s, our result, their median s, their result), runs taking turns."""
    seconds, results = interleaved({"ours": ours, "theirs": theirs}, repeats, cuda)
    return seconds["ours"], results["ours"], seconds["theirs"], results["theirs"]


def interleaved(
    runs: dict[str, Callable[[], Any]], repeats: int, cuda: bool
) -> tuple[dict[str, float], dict[str, Any]]:
    """Median seconds and (warm-up) result of each run, the runs taking turns round by round,
    so that this machine's drifts in speed (seen: 2× within minutes) hit all of them alike."""
    results = {name: run() for name, run in runs.items()}  # warm-up; the results compared
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            if cuda:
                torch.cuda.synchronize()
            seconds[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in seconds.items()}, results


def agreement(ours: np.ndarray, theirs: np.ndarray) -> str:
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    peak = max(np.abs(theirs).max(), 1e-12)
    r = np.corrcoef(ours.ravel(), theirs.ravel())[0, 1]
    return f"max diff {np.abs(ours - theirs).max() / peak:.1e} of peak, r = {r:.4f}"


class Reference:
    """Captum's attributions on the model itself (eager PyTorch), as (H, W) maps."""

    def __init__(self, model: LoadedModel, pixels: torch.Tensor) -> None:
        self.model, self.module = model, model.module
        self.x = pixels[None].to(model.device)
        mean = torch.tensor(model.preprocessing.mean, device=model.device).view(1, 3, 1, 1)
        self.mean = mean.expand_as(self.x)
        self.layer = model.network.get_submodule(model.spec.grad_cam_layer or "")

    def occlusion(self, window: int, stride: int, x: torch.Tensor | None = None) -> np.ndarray:
        x = self.x if x is None else x
        mean = self.mean[:, :, :1, :1].expand_as(x)
        out = Occlusion(self.module).attribute(
            x,
            sliding_window_shapes=(3, window, window),
            strides=(3, stride, stride),
            baselines=mean,
            target=TARGET,
            perturbations_per_eval=16,
        )
        return out[0, 0].cpu().numpy()

    def kernel_shap(self, segments: torch.Tensor, samples: int, seed: int) -> np.ndarray:
        torch.manual_seed(seed)
        out = KernelShap(self.module).attribute(
            self.x,
            baselines=self.mean,
            target=TARGET,
            feature_mask=segments[None, None],
            n_samples=samples,
            perturbations_per_eval=16,
        )
        return out[0, 0].cpu().numpy()

    def integrated_gradients(self, steps: int) -> np.ndarray:
        out = IntegratedGradients(self.module).attribute(
            self.x, baselines=torch.zeros_like(self.x), target=TARGET, n_steps=steps
        )
        return out[0].sum(0).detach().cpu().numpy()

    def grad_cam(self) -> np.ndarray:
        coarse = LayerGradCam(self.module, self.layer).attribute(
            self.x, target=TARGET, relu_attributions=True
        )
        fine = LayerAttribution.interpolate(coarse, tuple(self.x.shape[-2:]), "bilinear")
        return fine[0, 0].detach().cpu().numpy()

    def six(self, only: tuple[str, ...] = (*SIX, "fgsm")) -> dict[str, np.ndarray]:
        """The six one-pass maps (or `only` some), each its own Captum call (FGSM: its
        adversarial image)."""
        x, module = self.x, self.module

        def channel_max(raw: torch.Tensor) -> np.ndarray:
            return raw[0].abs().amax(0).detach().cpu().numpy()

        label = torch.tensor([TARGET], device=x.device)
        runs: dict[str, Callable[[], np.ndarray]] = {
            "saliency": lambda: channel_max(Saliency(module).attribute(x, target=TARGET, abs=True)),
            "guided_backprop": lambda: channel_max(
                GuidedBackprop(module).attribute(x, target=TARGET)
            ),
            "deconvnet": lambda: channel_max(Deconvolution(module).attribute(x, target=TARGET)),
            "grad_cam": self.grad_cam,
            "guided_grad_cam": lambda: channel_max(
                GuidedGradCam(module, self.layer).attribute(
                    x, target=TARGET, interpolate_mode="bilinear"
                )
            ),
            "fgsm": lambda: (
                # Cross-entropy on the logits, as ours (Captum's default loss expects
                # probabilities).
                FGSM(
                    module,
                    loss_func=CrossEntropyLoss(reduction="none"),
                    lower_bound=0,
                    upper_bound=1,
                )
                .perturb(x, epsilon=8 / 255, target=label)[0]
                .detach()
                .cpu()
                .numpy()
            ),
        }
        return {name: runs[name]() for name in only}


def table(rows: list[tuple[str, float, float, str, str]]) -> None:
    print("| what | Lantern (s) | Captum (s) | Captum / Lantern | agreement | notes |")
    print("|---|---:|---:|---:|---|---|")
    for what, ours, theirs, agree, note in rows:
        print(f"| {what} | {ours:.3f} | {theirs:.3f} | {theirs / ours:.1f}× | {agree} | {note} |")
    print(flush=True)


def perturbation(model: LoadedModel, pixels: torch.Tensor, repeats: int, cuda: bool) -> None:
    reference = Reference(model, pixels)
    rows = []
    runs: dict[str, Callable[[], Any]] = {"captum": lambda: reference.occlusion(16, 8)}
    for mode in ("incremental", "full", "drill_down"):
        params = {"window": 16, "stride": 8, "mode": mode}
        runs[mode] = lambda p=params: explain(model, pixels, "occlusion", TARGET, p)
    seconds, results = interleaved(runs, repeats, cuda)
    for mode in ("incremental", "full", "drill_down"):
        ours = results[mode]
        windows = "729 windows" if mode != "drill_down" else "coarse 225 + 126 refined of 729"
        rows.append(
            (
                f"occlusion w16 s8, {mode}",
                seconds[mode],
                seconds["captum"],
                agreement(ours.attribution, results["captum"]),
                f"{windows}; {ours.engine}",
            )
        )

    kernel = {"superpixels": 60, "samples": 500, "seed": 0}
    segments = superpixels(pixels[None].to(model.device), 60, 10.0)
    ours_s, ours, theirs_s, theirs = compare(
        lambda: explain(model, pixels, "kernel_shap", TARGET, kernel),
        lambda: reference.kernel_shap(segments, 500, 0),
        repeats,
        cuda,
    )
    rows.append(
        (
            "KernelSHAP, 500 samples",
            ours_s,
            theirs_s,
            agreement(ours.attribution, theirs),
            f"{int(segments.max()) + 1} superpixels, same coalitions (seed 0); ours includes SLIC",
        )
    )

    print("## Forward-only methods\n")
    table(rows)


def gradients(model: LoadedModel, pixels: torch.Tensor, repeats: int, cuda: bool) -> None:
    reference = Reference(model, pixels)
    rows = []
    integrated = {"steps": 50, "batch_size": 16}
    ours_s, ours, theirs_s, theirs = compare(
        lambda: explain(model, pixels, "integrated_gradients", TARGET, integrated),
        lambda: reference.integrated_gradients(50),
        repeats,
        cuda,
    )
    rows.append(
        (
            "integrated gradients, 50 steps",
            ours_s,
            theirs_s,
            agreement(ours.attribution, theirs),
            "Captum's defaults (one batch of 50); ours: batches of 16 on the gradient copy",
        )
    )

    ours_s, panel, theirs_s, theirs_maps = compare(
        lambda: run_panel(model, pixels, SIX, ["fgsm"], TARGET), reference.six, repeats, cuda
    )
    worst = min(
        np.corrcoef(panel.explanations[name].attribution.ravel(), theirs_maps[name].ravel())[0, 1]
        for name in ("saliency", "grad_cam")
    )
    changed = np.mean(np.abs(panel.attacks["fgsm"].adversarial - theirs_maps["fgsm"]) > 1e-6)
    rows.append(
        (
            "six one-pass maps (saliency, guided backprop, deconvnet, Grad-CAM, guided Grad-CAM,"
            " FGSM)",
            ours_s,
            theirs_s,
            f"saliency & Grad-CAM r ≥ {worst:.4f}; FGSM pixels differing {changed:.2%}",
            "one call (run_panel) vs six Captum calls; Captum's guided maps are plain gradients"
            " on ReLU6",
        )
    )
    print("## Gradient methods\n")
    table(rows)


def default_panel(model: LoadedModel, pixels: torch.Tensor, repeats: int, cuda: bool) -> None:
    panel_methods = [method.name for method in METHODS if method.in_default_panel]
    defaults = {name: METHODS.get(name).Params() for name in panel_methods}
    reference = Reference(model, pixels)
    kernel = defaults["kernel_shap"]

    def captum_panel() -> None:
        segments = superpixels(reference.x, kernel.superpixels, kernel.compactness)
        reference.occlusion(defaults["occlusion"].window, defaults["occlusion"].stride)
        reference.six(("saliency", "guided_backprop", "grad_cam", "fgsm"))
        reference.kernel_shap(segments, kernel.samples, kernel.seed)

    ours_s, panel, theirs_s, _ = compare(
        lambda: run_panel(model, pixels, panel_methods, ["fgsm"]), captum_panel, repeats, cuda
    )
    each = ", ".join(f"{name} {panel.explanations[name].seconds:.2f} s" for name in panel_methods)
    print("## The default panel + FGSM, end to end (Python API)\n")
    table(
        [
            (
                f"{', '.join(panel_methods)} + FGSM",
                ours_s,
                theirs_s,
                "see per method",
                f"UI defaults; first run: {each}, FGSM {panel.attacks['fgsm'].seconds:.2f} s",
            )
        ]
    )


def scaling(model: LoadedModel, pixels: torch.Tensor, repeats: int, cuda: bool) -> None:
    reference = Reference(model, pixels)
    occlusion = METHODS.get("occlusion")
    print("## Scaling: occlusion\n")
    print(
        "| window, stride, side | windows | incremental (s) | full passes (s) | Captum (s) |"
        " Captum / incremental |"
    )
    print("|---|---:|---:|---:|---:|---:|")

    def once(run: Callable[[], Any]) -> float:
        started = time.perf_counter()
        run()
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - started

    def row(x: torch.Tensor, window: int, stride: int) -> None:
        side = x.shape[-1]
        windows = len(window_positions(side, window, stride)) ** 2
        runs = 1 if windows > 700 else repeats  # the long ones take minutes in Captum

        def ours(mode: str) -> float:
            values = {"window": window, "stride": stride, "mode": mode}
            params = parse_params(occlusion.Params, values, "occlusion")
            return statistics.median(
                once(lambda: occlusion.attribute(model, x, TARGET, params, no_progress))
                for _ in range(runs)
            )

        fast, full = ours("incremental"), ours("full")
        theirs = statistics.median(
            once(lambda: reference.occlusion(window, stride, x)) for _ in range(runs)
        )
        print(
            f"| {window}, {stride}, {side} px | {windows} | {fast:.2f} | {full:.2f} |"
            f" {theirs:.2f} | {theirs / fast:.1f}× |",
            flush=True,
        )

    x = pixels[None].to(model.device)
    for stride in (32, 16, 8, 4):
        row(x, 32, stride)
    for side in (160, 320, 448):
        resized = F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False)
        row(resized.clamp(0, 1), 16, 16)
    print()


PARTS = {
    "perturbation": perturbation,
    "gradients": gradients,
    "panel": default_panel,
    "scaling": scaling,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--parts", nargs="+", choices=list(PARTS), default=list(PARTS))
    args = parser.parse_args()
    settings = Settings(device=args.device)
    started = time.perf_counter()
    model = load_model(settings.default_model, settings)
    print(
        f"model ready (export, incremental stages, gradient copy): "
        f"{time.perf_counter() - started:.1f} s"
    )
    pixels = model.preprocessing.model_view(sample_image("chelsea"))
    cuda = model.device.type == "cuda"
    device = torch.cuda.get_device_name() if cuda else (platform.processor() or "CPU")
    print(
        f"{model.name} on {model.device} ({device}, {torch.get_num_threads()} torch threads), "
        f"engine {model.engine}, torch {torch.__version__}; photo chelsea, target {TARGET}; "
        f"median of {args.repeats} runs after a warm-up\n"
    )
    for part in args.parts:
        PARTS[part](model, pixels, args.repeats, cuda)


if __name__ == "__main__":
    main()
