"""Which engine runs the default model's forward pass fastest here, and how close its logits are
to eager PyTorch's: the floor under occlusion and KernelSHAP (issue 5). Prints a markdown table.

    python benchmarks/engines.py [--batch 16] [--repeats 7] [--compile]

Engines: ONNX Runtime (what Lantern uses on the CPU), eager PyTorch (contiguous and
channels-last), the accelerated copy Lantern uses on CUDA (app/zoo/accelerated.py, here on the
CPU in float32), PyTorch bfloat16 (approximate), OpenVINO float32 and bfloat16 when `openvino`
is installed (it is not a Lantern dependency), and with --compile torch.compile (Inductor,
frozen weights; compiling takes about a minute). Runs take turns round by round (this machine's
speed drifts); ms per image = median batch time / batch.
"""

import argparse
import copy
import platform
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from speed import interleaved  # benchmarks/speed.py (run as a script, like it)

from app.settings import Settings
from app.zoo import load_model
from app.zoo.accelerated import build_accelerated_forward
from app.zoo.fast import export_onnx, onnx_runtime_session

Forward = Callable[[torch.Tensor], Any]


def engines(module: torch.nn.Module, size: int, compile_too: bool) -> dict[str, Forward]:
    """name -> forward(pixels) returning logits as a tensor or array."""
    found: dict[str, Forward] = {}
    onnx = export_onnx(module, size, spatial=True)
    session = onnx_runtime_session(onnx, spin=False)
    found["ONNX Runtime, float32"] = lambda x: session.run(None, {"pixels": x.numpy()})[0]
    found["PyTorch eager, float32"] = module
    channels_last = copy.deepcopy(module).to(memory_format=torch.channels_last)
    found["PyTorch eager, float32, channels-last"] = lambda x: channels_last(
        x.contiguous(memory_format=torch.channels_last)
    )
    accelerated, _ = build_accelerated_forward(module, size, torch.device("cpu"), (torch.float32,))
    if accelerated is not None:
        found["Lantern's CUDA path on the CPU (float32, channels-last)"] = accelerated
    bfloat16 = copy.deepcopy(module).to(torch.bfloat16).to(memory_format=torch.channels_last)
    found["PyTorch eager, bfloat16, channels-last"] = lambda x: bfloat16(
        x.to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    )
    found.update(_openvino(onnx))
    if compile_too:
        import torch._inductor.config as inductor

        inductor.freezing = True
        compiled = torch.compile(copy.deepcopy(module))
        found["torch.compile (Inductor, frozen), float32"] = compiled
    return found


def _openvino(onnx: bytes) -> dict[str, Forward]:
    try:
        import openvino
    except ImportError:
        return {}
    core = openvino.Core()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.onnx"
        path.write_bytes(onnx)
        model = core.read_model(str(path))
        requests = {
            hint: core.compile_model(
                model, "CPU", {"INFERENCE_PRECISION_HINT": hint, "PERFORMANCE_HINT": "LATENCY"}
            ).create_infer_request()
            for hint in ("f32", "bf16")
        }
    version = openvino.__version__.split("-")[0]
    return {
        f"OpenVINO {version}, {hint}": (lambda x, r=request: r.infer({0: x.numpy()})[0])
        for hint, request in requests.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    model = load_model(Settings().default_model, Settings(device="cpu", fast_forward=False))
    size = model.input_size
    pixels = torch.rand(args.batch, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model.module(pixels)
        runs = {
            name: (lambda forward=forward: forward(pixels))
            for name, forward in engines(model.module, size, args.compile).items()
        }
        seconds, results = interleaved(runs, args.repeats, cuda=False)
    print(
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
        f"batch {args.batch}, {model.name}; logits differences against eager PyTorch float32"
    )
    print()
    print("| engine | ms per image | max logit difference |")
    print("|---|---:|---:|")
    for name, median in seconds.items():
        logits = results[name]
        if isinstance(logits, torch.Tensor):
            logits = logits.float()
        else:
            logits = torch.from_numpy(np.asarray(logits, dtype=np.float32))
        difference = float((logits - expected).abs().max())
        print(f"| {name} | {median / args.batch * 1000:.2f} | {difference:.1e} |")


if __name__ == "__main__":
    main()
