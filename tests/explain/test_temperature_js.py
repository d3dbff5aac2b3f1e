"""The Explain page's temperature control computes the softmax and its entropy as app/stats.py
does: static/js/softmax.js runs in Node on the same logits, and the entropy rises with T."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from app import stats

_MODULE = Path(__file__).parents[2] / "static" / "js" / "softmax.js"
_TEMPERATURES = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]


def _run_module(logits: np.ndarray, probabilities: np.ndarray) -> dict:
    """softmax.js's functions on each row, at each temperature, as JSON from Node."""
    driver = f"""
const logits = {json.dumps(logits.tolist())};
const probabilities = {json.dumps(probabilities.tolist())};
const temperatures = {json.dumps(_TEMPERATURES)};
const out = {{ softmax: [], entropy: [], fromProbabilities: [] }};
for (const t of temperatures) {{
  const rows = logits.map((row) => softmaxAt(row, t));
  out.softmax.push(rows);
  out.entropy.push(rows.map(entropyOf));
  out.fromProbabilities.push(probabilities.map((row) => {{
    const predictions = row.map((probability, index) => ({{ index, probability }}));
    return softmaxAt(logProbabilities(predictions, row.length), t);
  }}));
}}
console.log(JSON.stringify(out));
"""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    source = _MODULE.read_text() + driver
    run = subprocess.run(
        [node, "--input-type=module"], input=source, capture_output=True, text=True, timeout=30
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_softmax_and_entropy_match_app_stats_and_entropy_rises_with_temperature() -> None:
    rng = np.random.default_rng(7)
    logits = rng.normal(0, 3, size=(4, 10))
    logits[3] = [20.0, -5.0, 0.0, 1.0, 2.0, -30.0, 3.0, 0.5, -1.0, 4.0]  # a confident row
    probabilities = stats.softmax(logits)
    found = _run_module(logits, probabilities)
    entropies = np.array(found["entropy"])  # (temperatures, rows)
    for index, t in enumerate(_TEMPERATURES):
        expected = stats.softmax(logits, t)
        np.testing.assert_allclose(found["softmax"][index], expected, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(entropies[index], stats.entropy(expected), rtol=1e-10)
        # What the page has: probabilities of every class, not logits. Same softmax at any T.
        np.testing.assert_allclose(found["fromProbabilities"][index], expected, atol=1e-12)
    assert (np.diff(entropies, axis=0) > 0).all()  # higher T, flatter softmax, more entropy
    assert entropies[-1].max() < np.log(10) and entropies[0].min() > 0
    # Closed forms: at T = 1 the confident row is nearly certain; a uniform row has log K.
    assert entropies[2][3] < 0.01
    uniform = _run_module(np.zeros((1, 10)), np.full((1, 10), 0.1))
    assert uniform["entropy"][0][0] == pytest.approx(np.log(10), rel=1e-12)
