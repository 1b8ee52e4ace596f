import { CloudlessError } from './errors.js';

/**
 * Element types a tensor can hold. float16 weights are widened to float32 when a
 * model loads; int64 is kept exact in a BigInt64Array; bool is one byte (0 or 1).
 */
export type DType = 'float32' | 'float64' | 'int8' | 'uint8' | 'int16' | 'int32' | 'int64' | 'bool';

export const DTYPES: readonly DType[] = ['float32', 'float64', 'int8', 'uint8', 'int16', 'int32', 'int64', 'bool'];

export type TypedArray =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Int32Array | BigInt64Array;

/** Typed arrays whose elements are JS numbers (everything but int64). */
export type NumberArray = Exclude<TypedArray, BigInt64Array>;

export type TypedArrayFor<D extends DType> =
  D extends 'float32' ? Float32Array :
  D extends 'float64' ? Float64Array :
  D extends 'int8' ? Int8Array :
  D extends 'uint8' ? Uint8Array :
  D extends 'int16' ? Int16Array :
  D extends 'int32' ? Int32Array :
  D extends 'int64' ? BigInt64Array :
  D extends 'bool' ? Uint8Array : never;

export function bytesPerElement(dtype: DType): number {
  switch (dtype) {
    case 'float32': case 'int32': return 4;
    case 'float64': case 'int64': return 8;
    case 'int16': return 2;
    case 'int8': case 'uint8': case 'bool': return 1;
    default: return assertNever(dtype);
  }
}

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64';
}

export function isInteger(dtype: DType): boolean {
  return !isFloat(dtype) && dtype !== 'bool';
}

/** Allocates a zeroed typed array of `length` elements. */
export function allocTyped<D extends DType>(dtype: D, length: number): TypedArrayFor<D>;
export function allocTyped(dtype: DType, length: number): TypedArray {
  return viewTyped(dtype, new ArrayBuffer(length * bytesPerElement(dtype)), 0, length);
}

/** A typed-array view of `length` elements over `buffer` at `byteOffset` (which must be aligned to the element size). */
export function viewTyped(dtype: DType, buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(buffer, byteOffset, length);
    case 'float64': return new Float64Array(buffer, byteOffset, length);
    case 'int8': return new Int8Array(buffer, byteOffset, length);
    case 'uint8': case 'bool': return new Uint8Array(buffer, byteOffset, length);
    case 'int16': return new Int16Array(buffer, byteOffset, length);
    case 'int32': return new Int32Array(buffer, byteOffset, length);
    case 'int64': return new BigInt64Array(buffer, byteOffset, length);
    default: return assertNever(dtype);
  }
}

/** The dtype a typed array stores (Uint8Array reads as uint8; say 'bool' explicitly where meant). */
export function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Uint8Array) return 'uint8';
  if (a instanceof Int16Array) return 'int16';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof BigInt64Array) return 'int64';
  throw new CloudlessError('E_DTYPE', 'unsupported typed array');
}

/** The inclusive range of an integer dtype. */
export function integerRange(dtype: DType): [number, number] {
  switch (dtype) {
    case 'int8': return [-128, 127];
    case 'uint8': return [0, 255];
    case 'int16': return [-32768, 32767];
    case 'int32': return [-2147483648, 2147483647];
    case 'bool': return [0, 1];
    case 'int64': return [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER];
    default: throw new CloudlessError('E_DTYPE', `${dtype} is not an integer type`);
  }
}

export function assertNever(x: never): never {
  throw new CloudlessError('E_INTERNAL', `unhandled case ${String(x)}`);
}

/** IEEE half-precision bits to a JS number (used when float16 weights are widened on load). */
export function float16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}
