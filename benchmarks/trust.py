"""Sanity checks and faithfulness of every method on the default model: the tables in
docs/trust.md. Prints markdown; takes several minutes on 2 CPU cores.

    python benchmarks/trust.py [--device cpu] [--steps 8]
"""

import argparse

import numpy as np

from app.explain import METHODS
from app.imaging import SAMPLES, sample_image
from app.settings import Settings
from app.trust import faithfulness, randomization_test
from app.zoo import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=8, help="points of the cascade")
    parser.add_argument("--sample", default="chelsea", help="photo for the sanity table")
    args = parser.parse_args()
    model = load_model("efficientnet-lite0", Settings(device=args.device))

    pixels = model.preprocessing.model_view(sample_image(args.sample))
    print(f"## Cascading randomisation on {args.sample} (rank correlation of |map|)\n")
    header = True
    for method in METHODS.names():
        result = randomization_test(model, pixels, method, steps=args.steps)
        if header:
            print("| method | " + " | ".join(result.steps) + " | mean | verdict | seconds |")
            print("|---" * (len(result.steps) + 4) + "|")
            header = False
        values = " | ".join(f"{value:.2f}" for value in result.similarity["spearman_abs"])
        verdict = "passes" if result.passes else "fails"
        print(
            f"| {method} | {values} | {result.mean_rank_correlation:.2f} | {verdict} "
            f"| {result.seconds:.1f} |"
        )

    print("\n## Deletion / insertion AUC against a random map\n")
    print("| photo (class, p) | method | deletion | random | insertion | random |")
    print("|---|---|---:|---:|---:|---:|")
    for sample in SAMPLES:
        pixels = model.preprocessing.model_view(sample_image(sample))
        probs = model.probabilities(pixels[None])[0].cpu().numpy()
        top = int(np.argmax(probs))
        photo = f"{sample} ({model.labels[top]}, {probs[top]:.2f})"
        for method in METHODS.names():
            summary = faithfulness(model, pixels, method).summary()
            deletion = "**" if summary["deletion_auc"] < summary["random_deletion_auc"] else ""
            insertion = "**" if summary["insertion_auc"] > summary["random_insertion_auc"] else ""
            print(
                f"| {photo} | {method} | {deletion}{summary['deletion_auc']:.3f}{deletion} "
                f"| {summary['random_deletion_auc']:.3f} "
                f"| {insertion}{summary['insertion_auc']:.3f}{insertion} "
                f"| {summary['random_insertion_auc']:.3f} |"
            )
    print("\nBold: better than the random map.")


if __name__ == "__main__":
    main()
