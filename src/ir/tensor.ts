import { CloudlessError } from './errors.js';
import { type DType, type TypedArray, allocTyped, bytesPerElement, dtypeOfArray } from './dtype.js';

/**
 * Quantization parameters of the TFLite int8 scheme: real = scale * (q - zeroPoint).
 * One scale and zero point per tensor, or one per slice along `axis` (per-channel weights).
 */
export interface QuantParams {
  scale: Float32Array;
  zeroPoint: Int32Array;
  /** The quantized dimension when there is more than one scale. */
  axis?: number;
}

export function perTensorQuant(scale: number, zeroPoint: number): QuantParams {
  return { scale: Float32Array.of(scale), zeroPoint: Int32Array.of(zeroPoint) };
}

/** Whether two tensors are quantized alike (both not quantized, or the same axis, scales and zero points). */
export function sameQuant(a: QuantParams | undefined, b: QuantParams | undefined): boolean {
  if (!a || !b) return a === b;
  return a.axis === b.axis && a.scale.length === b.scale.length
    && a.scale.every((s, i) => s === b.scale[i]) && a.zeroPoint.every((z, i) => z === b.zeroPoint[i]);
}

export function isPerAxis(q: QuantParams): boolean {
  return q.scale.length > 1;
}

/** Number of elements of a shape (1 for a scalar). */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides of a shape, in elements. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]!; }
  return s;
}

export function shapeToString(shape: readonly (number | string | null)[]): string {
  return `[${shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}

/**
 * A dense row-major tensor. `data` may be a view into a session's arena: such a
 * tensor is valid until the next `run()` of that session (call `clone()` to keep it).
 */
export class Tensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: TypedArray;
  quant?: QuantParams;

  constructor(dtype: DType, shape: readonly number[], data?: TypedArray, quant?: QuantParams) {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) {
        throw new CloudlessError('E_SHAPE', `invalid tensor shape ${shapeToString(shape)}: dimensions must be non-negative integers`);
      }
    }
    const n = sizeOf(shape);
    if (data === undefined) {
      data = allocTyped(dtype, n);
    } else {
      const actual = dtypeOfArray(data);
      const ok = actual === dtype || (dtype === 'bool' && actual === 'uint8');
      if (!ok) throw new CloudlessError('E_DTYPE', `tensor of dtype ${dtype} cannot hold a ${data.constructor.name}`);
      if (data.length !== n) {
        throw new CloudlessError('E_SHAPE', `tensor of shape ${shapeToString(shape)} needs ${n} elements, got ${data.length}`);
      }
    }
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    this.data = data;
    if (quant) this.quant = quant;
  }

  get size(): number { return this.data.length; }
  get rank(): number { return this.shape.length; }
  get byteLength(): number { return this.data.length * bytesPerElement(this.dtype); }

  /** A copy that owns its own buffer. */
  clone(): Tensor {
    return new Tensor(this.dtype, this.shape, this.data.slice() as TypedArray, this.quant);
  }

  /** The same data seen with another shape of equal size. */
  reshape(shape: readonly number[]): Tensor {
    if (sizeOf(shape) !== this.size) {
      throw new CloudlessError('E_SHAPE', `cannot reshape ${shapeToString(this.shape)} to ${shapeToString(shape)}`);
    }
    return new Tensor(this.dtype, shape, this.data, this.quant);
  }

  /** Elements as JS numbers (int64 converted with Number()). */
  toNumbers(): number[] {
    const out = new Array<number>(this.size);
    for (let i = 0; i < out.length; i++) out[i] = Number(this.data[i]!);
    return out;
  }

  /** Dequantized float values (for quantized tensors) or the values as float32. */
  toFloat32(): Float32Array {
    const out = new Float32Array(this.size);
    const q = this.quant;
    if (!q) {
      for (let i = 0; i < out.length; i++) out[i] = Number(this.data[i]!);
      return out;
    }
    if (q.scale.length === 1) {
      const s = q.scale[0]!, z = q.zeroPoint[0]!;
      for (let i = 0; i < out.length; i++) out[i] = s * (Number(this.data[i]!) - z);
      return out;
    }
    const axis = q.axis ?? 0;
    const inner = sizeOf(this.shape.slice(axis + 1));
    const dim = this.shape[axis]!;
    for (let i = 0; i < out.length; i++) {
      const c = Math.floor(i / inner) % dim;
      out[i] = q.scale[c]! * (Number(this.data[i]!) - q.zeroPoint[c]!);
    }
    return out;
  }

  static fromNumbers(dtype: DType, shape: readonly number[], values: ArrayLike<number>): Tensor {
    const t = new Tensor(dtype, shape);
    if (values.length !== t.size) {
      throw new CloudlessError('E_SHAPE', `shape ${shapeToString(shape)} needs ${t.size} values, got ${values.length}`);
    }
    if (dtype === 'int64') {
      const d = t.data as BigInt64Array;
      for (let i = 0; i < values.length; i++) d[i] = BigInt(Math.trunc(values[i]!));
    } else {
      (t.data as Exclude<TypedArray, BigInt64Array>).set(values);
    }
    return t;
  }

  static scalar(dtype: DType, value: number): Tensor {
    return Tensor.fromNumbers(dtype, [], [value]);
  }
}
