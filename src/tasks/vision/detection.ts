import { CloudlessError, type Tensor } from '../../ir/index.js';

/** An axis-aligned box as [x1, y1, x2, y2] in pixels of the original image (x1 <= x2, y1 <= y2). */
export type Box = [number, number, number, number];

/** One detected object. */
export interface Detection {
  label: string;
  classId: number;
  score: number;
  box: Box;
}

/** The label of a class id, or `class <id>` when the label list does not cover it (so output never shows `undefined`). */
export function labelOf(labels: readonly string[] | undefined, classId: number): string {
  return labels?.[classId] ?? `class ${classId}`;
}

/**
 * The values of a model output as float32, dequantizing int8/uint8 outputs
 * (SSD models often end in quantized tensors). Float outputs are returned
 * without a copy.
 */
export function outputValues(t: Tensor, what: string): Float32Array {
  if (t.dtype === 'float32' && !t.quant) return t.data as Float32Array;
  if (t.quant || t.dtype === 'float64') return t.toFloat32();
  throw new CloudlessError('E_DTYPE', `${what}: expected a float or quantized tensor, got ${t.dtype}`);
}

/** Checks an output's shape against the dimensions a decoder relies on (null = any). */
export function expectShape(t: Tensor, expected: readonly (number | null)[], what: string): void {
  const ok = t.shape.length === expected.length && expected.every((d, i) => d === null || d === t.shape[i]);
  if (!ok) {
    const want = `[${expected.map((d) => (d === null ? '?' : d)).join(', ')}]`;
    throw new CloudlessError('E_SHAPE', `${what}: expected shape ${want}, got [${t.shape.join(', ')}]`);
  }
}
