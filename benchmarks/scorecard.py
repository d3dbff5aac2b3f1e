"""What the scorecard says on the sample photos, before and after ROAD: for each default-panel
method, the deletion/insertion areas against a random map's with RISE's black/blur removal (the
old default, 32 steps) and with ROAD's imputation (the new default, the page's 8 steps), the
verdict in words for each, and the seconds each took.

    python benchmarks/scorecard.py [--samples chelsea coffee] [--steps-road 8]
"""

import argparse
import time

import torch

from app.explain import METHODS, explain
from app.imaging import sample_image
from app.settings import Settings
from app.trust.faithfulness import faithfulness
from app.trust.verdict import faithfulness_verdict
from app.zoo import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", nargs="+", default=["chelsea", "coffee"])
    parser.add_argument("--steps-rise", type=int, default=32)
    parser.add_argument("--steps-road", type=int, default=8)
    args = parser.parse_args()
    settings = Settings()
    model = load_model(settings.default_model, settings)
    methods = [m.name for m in METHODS if m.in_default_panel]
    print(f"threads {torch.get_num_threads()}; methods {', '.join(methods)}")
    header = "sample | method | removal | del AUC (random) | ins AUC (random) | verdict | s"
    print(header)
    for sample in args.samples:
        pixels = model.preprocessing.model_view(sample_image(sample))
        for method in methods:
            shown = explain(model, pixels, method)
            label = model.labels[shown.target]
            for removal, steps in (("black/blur", args.steps_rise), ("road", args.steps_road)):
                deletion, insertion = ("black", "blur") if removal != "road" else ("road", "road")
                started = time.perf_counter()
                result = faithfulness(
                    model,
                    pixels,
                    method,
                    steps=steps,
                    deletion_baseline=deletion,
                    insertion_baseline=insertion,
                    explanation=shown,
                )
                seconds = time.perf_counter() - started
                verdict = faithfulness_verdict(result, label)
                own, random = result.curves, result.random
                print(
                    f"{sample} ({label}, {own.deletion[0]:.0%}) | {method} | {removal} | "
                    f"{own.deletion_auc:.3f} ({random.deletion_auc:.3f}) | "
                    f"{own.insertion_auc:.3f} ({random.insertion_auc:.3f}) | "
                    f"{verdict.level}: {verdict.headline} | {seconds:.1f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
