import { CloudlessError, type Tensor } from '../../ir/index.js';
import { labelOf, outputValues } from './detection.js';

export interface Classification {
  label: string;
  classId: number;
  score: number;
}

export interface ClassifyOptions {
  /** How many classes to return (default 5). */
  k?: number;
  /** Turn logits into probabilities first (default false: the model already ends in a softmax). */
  softmax?: boolean;
  /** Columns before class 0, e.g. 1 for ImageNet models with a "background" class 0 (default 0). */
  labelOffset?: number;
  labels?: readonly string[];
}

/** Numerically stable softmax (shifts by the max so exp never overflows). */
export function softmax(logits: ArrayLike<number>): Float32Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  const out = new Float32Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) { out[i] = Math.exp(logits[i]! - max); sum += out[i]!; }
  for (let i = 0; i < out.length; i++) out[i]! /= sum;
  return out;
}

/**
 * The k best classes of one image's scores ([classes] or [1, classes]; quantized
 * outputs are dequantized), best first; equal scores keep the lower class id first.
 */
export function topK(scores: Tensor | ArrayLike<number>, opts: ClassifyOptions = {}): Classification[] {
  const { k = 5, softmax: applySoftmax = false, labelOffset = 0, labels } = opts;
  let values: ArrayLike<number>;
  if ('dtype' in scores) {
    const classes = scores.shape[scores.shape.length - 1] ?? 0;
    if (scores.size !== classes) {
      throw new CloudlessError('E_SHAPE', `topK: expected scores for one image ([classes] or [1, classes]), got [${scores.shape.join(', ')}]`);
    }
    values = outputValues(scores, 'topK scores');
  } else {
    values = scores;
  }
  const probs = applySoftmax ? softmax(values) : values;
  const ids: number[] = [];
  for (let i = labelOffset; i < probs.length; i++) ids.push(i);
  ids.sort((a, b) => probs[b]! - probs[a]! || a - b);
  return ids.slice(0, Math.max(0, k)).map((i) => ({ label: labelOf(labels, i - labelOffset), classId: i - labelOffset, score: probs[i]! }));
}
