/** Latency statistics of repeated runs, in milliseconds. */
export interface LatencyStats {
  runs: number;
  minMs: number;
  medianMs: number;
  p90Ms: number;
  meanMs: number;
  fps: number;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** The median (the mean of the middle two for an even count; NaN when empty). */
export function median(values: readonly number[]): number {
  return quantile([...values].sort((a, b) => a - b), 0.5);
}

export function latencyStats(samplesMs: readonly number[]): LatencyStats {
  const s = [...samplesMs].sort((a, b) => a - b);
  const median = quantile(s, 0.5);
  return {
    runs: s.length,
    minMs: s[0] ?? NaN,
    medianMs: median,
    p90Ms: quantile(s, 0.9),
    meanMs: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length),
    fps: 1000 / median,
  };
}
