// The estimated cost shown before a run (lab experiments, compression runs): each page keeps its
// measured rate table next to the code that uses it; this is how an estimate reads.

// 42 -> "about 40 s"; 300 -> "about 5 min"; rounded, because it is an estimate.
export function aboutTime(seconds) {
  if (seconds < 90) return `about ${Math.max(5, Math.round(seconds / 5) * 5)} s`;
  if (seconds < 5400) return `about ${Math.round(seconds / 60)} min`;
  return `about ${(seconds / 3600).toFixed(1)} h`;
}

// "Estimated time: about 3 min on a 2-core CPU (…)" into `node`.
export function showEstimate(node, seconds) {
  node.textContent = `Estimated time: ${aboutTime(seconds)} on a 2-core CPU, from measured rates (a GPU or more cores is faster).`;
}
