import { CloudlessError } from '../../ir/index.js';
import type { Box } from './detection.js';

/** Intersection over union of two [x1, y1, x2, y2] boxes; 0 when either has no area. */
export function iou(a: Readonly<Box>, b: Readonly<Box>): number {
  const areaA = Math.max(0, a[2] - a[0]) * Math.max(0, a[3] - a[1]);
  const areaB = Math.max(0, b[2] - b[0]) * Math.max(0, b[3] - b[1]);
  if (areaA <= 0 || areaB <= 0) return 0;
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  return inter / (areaA + areaB - inter);
}

export interface NmsOptions {
  /** A candidate overlapping a kept box by more than this IoU is dropped. */
  iouThreshold: number;
  /** Candidates scoring below this are ignored (default 0: keep all). */
  scoreThreshold?: number;
  /** Stop after this many kept boxes (default: no limit). */
  maxDetections?: number;
  /**
   * true: boxes only suppress boxes of their own class (an apple does not hide
   * an orange behind it). false: one box per place, whatever its class.
   */
  classAware: boolean;
}

export interface NmsCandidate {
  box: Box;
  score: number;
  classId: number;
}

/**
 * Greedy non-maximum suppression: visit candidates from the best score down and
 * keep each one that does not overlap an already kept box too much. Ties keep
 * input order, so the result is deterministic. O(n log n + n * kept).
 */
export function nms<T extends NmsCandidate>(candidates: readonly T[], opts: NmsOptions): T[] {
  const { iouThreshold, scoreThreshold = 0, maxDetections = Infinity, classAware } = opts;
  if (!(iouThreshold >= 0 && iouThreshold <= 1)) {
    throw new CloudlessError('E_CONFIG', `nms: iouThreshold must be within [0, 1], got ${iouThreshold}`);
  }
  const order = candidates
    .map((c, i) => ({ c, i }))
    .filter(({ c }) => c.score >= scoreThreshold)
    .sort((p, q) => q.c.score - p.c.score || p.i - q.i);
  const kept: T[] = [];
  for (const { c } of order) {
    if (kept.length >= maxDetections) break;
    const suppressed = kept.some((k) => (!classAware || k.classId === c.classId) && iou(k.box, c.box) > iouThreshold);
    if (!suppressed) kept.push(c);
  }
  return kept;
}
