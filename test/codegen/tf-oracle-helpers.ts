/** Shared code of test/codegen/tf-oracle.test.ts: the manifest of scripts/tf-oracle.py and comparisons. */
import type { Tensor } from '../../src/ir/index.js';

export interface OracleTensor {
  index: number;
  name: string;
  dtype: string;
  shape: number[];
  scales: number[];
  zero_points: number[];
  npy?: string;
}

export interface OracleModel {
  case: string;
  mode: 'int8' | '16x8';
  error?: string;
  /** Set for (case, mode) pairs TensorFlow's converter refuses (scripts/tf-oracle.py CONVERTER_REFUSES). */
  unsupported?: string;
  tflite: string;
  ops: string[];
  inputs: { name: string; index: number }[];
  outputs: { name: string; index: number }[];
  tensors: OracleTensor[];
}

export interface Manifest {
  tensorflow: string;
  models: OracleModel[];
}

export interface ElementDiff {
  index: number;
  want: number;
  got: number;
}

/** `got`'s elements read as `want`'s dtype (lengths checked first). */
export function valuesAs(want: Tensor, got: Uint8Array | Tensor): ArrayLike<number> {
  const bytes = got instanceof Uint8Array ? got : new Uint8Array(got.data.buffer, got.data.byteOffset, got.data.byteLength);
  if (bytes.length !== want.byteLength) throw new Error(`${bytes.length} bytes to compare with ${want.byteLength} (${want.dtype} [${want.shape.join(', ')}])`);
  const copy = bytes.slice().buffer;
  switch (want.dtype) {
    case 'int8': return new Int8Array(copy);
    case 'int16': return new Int16Array(copy);
    case 'int32': return new Int32Array(copy);
    case 'float32': return new Float32Array(copy);
    default: throw new Error(`no comparison for dtype ${want.dtype}`);
  }
}

/** Every element of `got` that differs from `want` (floats compared bit for bit). */
export function compareElements(want: Tensor, got: Uint8Array | Tensor): ElementDiff[] {
  const g = valuesAs(want, got);
  const w = want.data as ArrayLike<number>;
  const out: ElementDiff[] = [];
  for (let i = 0; i < w.length; i++) if (!Object.is(w[i], g[i])) out.push({ index: i, want: w[i]!, got: g[i]! });
  return out;
}

/**
 * MEAN over axes 1 and 2 of an [1, H, W, C] tensor whose output has the input's scale and zero
 * point: the sum of the raw values / n rounded half away from zero (TFLite's int8 interpreter),
 * truncated toward zero (TFLite Micro's C integer division) and exact; and the channels where the
 * rounded and truncated values differ.
 */
export function meanRoundVsTruncate(input: Tensor, channels: number): { rounded: number[]; truncated: number[]; exact: number[]; differ: number[] } {
  const x = input.data as ArrayLike<number>;
  const n = x.length / channels;
  const rounded: number[] = [], truncated: number[] = [], exact: number[] = [], differ: number[] = [];
  for (let c = 0; c < channels; c++) {
    let sum = 0;
    for (let k = 0; k < n; k++) sum += x[k * channels + c]!;
    const t = Math.trunc(sum / n);
    const r = sum >= 0 ? Math.floor((sum + n / 2) / n) : -Math.floor((-sum + n / 2) / n);
    truncated.push(t);
    exact.push(sum / n);
    rounded.push(r);
    if (t !== r) differ.push(c);
  }
  return { rounded, truncated, exact, differ };
}
