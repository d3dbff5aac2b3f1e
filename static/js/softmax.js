// The softmax with a temperature and its entropy, as app/stats.py computes them (softmax,
// entropy in nats): the Explain page's temperature control. No imports, no DOM, so a test runs
// this file in Node on the same logits as app/stats.py (tests/explain/test_temperature_js.py).

// softmax(z / T) of one row of logits; log-probabilities give the same result (they differ from
// the logits by a constant). −Infinity (a class with probability 0) stays at 0.
export function softmaxAt(logits, temperature) {
  const scaled = logits.map((z) => z / temperature);
  const peak = Math.max(...scaled);
  const weights = scaled.map((z) => Math.exp(z - peak));
  const total = weights.reduce((sum, w) => sum + w, 0);
  return weights.map((w) => w / total);
}

// Shannon entropy in nats; 0 · log 0 counts as 0.
export function entropyOf(probabilities) {
  return -probabilities.reduce((sum, p) => (p > 0 ? sum + p * Math.log(p) : sum), 0);
}

// Every class's log-probability from predictions [{index, probability}] over `classes` classes
// (a class not listed, or at probability 0, gets −Infinity).
export function logProbabilities(predictions, classes) {
  const logs = new Array(classes).fill(-Infinity);
  for (const p of predictions) logs[p.index] = Math.log(p.probability);
  return logs;
}
