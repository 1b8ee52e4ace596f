import { CloudlessError } from './errors.js';
import { shapeToString } from './tensor.js';

/** Numpy-style broadcast of two shapes; throws E_SHAPE naming `where` when they do not fit. */
export function broadcastShapes(a: readonly number[], b: readonly number[], where = 'broadcast'): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new CloudlessError('E_SHAPE', `${where}: shapes ${shapeToString(a)} and ${shapeToString(b)} do not broadcast`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Broadcast of any number of shapes. */
export function broadcastAll(shapes: readonly (readonly number[])[], where = 'broadcast'): number[] {
  let out: number[] = [];
  for (const s of shapes) out = broadcastShapes(out, s, where);
  return out;
}

/** Maps a possibly negative axis into [0, rank); throws E_ATTR naming `where` when out of range. */
export function normalizeAxis(axis: number, rank: number, where = 'axis'): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= Math.max(rank, 1)) {
    throw new CloudlessError('E_ATTR', `${where}: axis ${axis} is out of range for rank ${rank}`);
  }
  return a;
}

/**
 * Element strides of `inShape` seen through a broadcast to `outShape`
 * (0 where the input dimension is broadcast), aligned to outShape's rank.
 */
export function broadcastStrides(inShape: readonly number[], outShape: readonly number[]): number[] {
  const rank = outShape.length;
  const strides = new Array<number>(rank).fill(0);
  let acc = 1;
  for (let i = inShape.length - 1; i >= 0; i--) {
    const o = rank - inShape.length + i;
    strides[o] = inShape[i] === 1 ? 0 : acc;
    acc *= inShape[i]!;
  }
  return strides;
}

/** The permutation that undoes `perm`. */
export function invertPermutation(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => { inv[p] = i; });
  return inv;
}

/** NC* → N*C: the permutation that moves the channel axis of a rank-r tensor last. */
export function channelsLastPerm(rank: number): number[] {
  return [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2), 1];
}

/** N*C → NC*: the permutation that moves the last axis to position 1. */
export function channelsFirstPerm(rank: number): number[] {
  return [0, rank - 1, ...Array.from({ length: rank - 2 }, (_, i) => i + 1)];
}
