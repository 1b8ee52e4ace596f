/**
 * Broadcasting loops shared by the reference kernels.
 *
 * A numpy broadcast of K inputs to an output shape is planned once, in a
 * kernel's prepare step, as a *row plan*:
 *
 *   1. every input gets its strides seen through the broadcast (0 along a
 *      dimension it repeats);
 *   2. output dimensions of size 1 are dropped: they move no input;
 *   3. a dimension is merged into the one before it when every input walks
 *      the pair as one run (outer stride = inner stride × inner size), which
 *      the row-major output always does;
 *   4. the last merged dimension becomes the *row*: a run of `rowLength`
 *      output elements along which input k advances by `rowStrides[k]`; the
 *      others form an odometer that yields each row's start offsets.
 *
 * Same-shape inputs collapse to one row with stride 1, and a scalar operand to
 * one row with stride 0: those are the fast paths, and they fall out of the
 * same plan instead of being special cases. The plan owns its odometer
 * scratch, so walking it allocates nothing (and it is not re-entrant).
 *
 * Reductions reuse the plan the other way round: the input is the space that
 * is walked, and the accumulator is a "broadcast input" with stride 0 along
 * the reduced axes (see planReduction).
 */
import { broadcastStrides, sizeOf } from '../../ir/index.js';

export interface RowPlan {
  outShape: readonly number[];
  /** Output elements (rows × rowLength). */
  size: number;
  rowLength: number;
  /** Per input, its stride along the row. */
  rowStrides: number[];
  /** Sizes of the odometer dimensions, outermost first. */
  outer: number[];
  /** Per input, its stride along each odometer dimension. */
  outerStrides: number[][];
  /** Number of rows. */
  rows: number;
  /** Odometer scratch: the current index along each outer dimension. */
  counter: number[];
  /** Odometer scratch: per input, the current row's start offset. */
  offsets: number[];
}

/** Plans walking `outShape` with each of `inShapes` broadcast to it. The shapes must already be known to broadcast. */
export function planRows(inShapes: readonly (readonly number[])[], outShape: readonly number[]): RowPlan {
  const k = inShapes.length;
  const strides = inShapes.map((s) => broadcastStrides(s, outShape));
  const sizes: number[] = [];
  const groups: number[][] = [];
  for (let d = 0; d < outShape.length; d++) {
    const n = outShape[d]!;
    if (n === 1) continue;
    const own = strides.map((s) => s[d]!);
    const last = groups.length - 1;
    if (last >= 0 && groups[last]!.every((s, i) => s === own[i]! * n)) {
      sizes[last] = sizes[last]! * n;
      groups[last] = own;
    } else {
      sizes.push(n);
      groups.push(own);
    }
  }
  const size = sizeOf(outShape);
  const rowLength = sizes.length > 0 ? sizes[sizes.length - 1]! : 1;
  const rowStrides = sizes.length > 0 ? groups[groups.length - 1]! : new Array<number>(k).fill(0);
  const outer = sizes.slice(0, -1);
  const outerStrides = Array.from({ length: k }, (_, i) => groups.slice(0, -1).map((g) => g[i]!));
  return {
    outShape: [...outShape],
    size,
    rowLength,
    rowStrides,
    outer,
    outerStrides,
    rows: rowLength === 0 ? 0 : size / rowLength,
    counter: new Array<number>(outer.length).fill(0),
    offsets: new Array<number>(k).fill(0),
  };
}

/**
 * Calls `visit(offsets, outOffset)` once per row, in output order. `offsets[k]`
 * is where input k's row starts; the row has plan.rowLength elements and input
 * k steps by plan.rowStrides[k]. `offsets` is the plan's scratch: read, don't keep.
 */
export function forEachRow(plan: RowPlan, visit: (offsets: readonly number[], outOffset: number) => void): void {
  const { outer, outerStrides, counter, offsets, rowLength, rows } = plan;
  const k = offsets.length;
  offsets.fill(0);
  counter.fill(0);
  let outOffset = 0;
  for (let r = 0; r < rows; r++) {
    visit(offsets, outOffset);
    outOffset += rowLength;
    for (let d = outer.length - 1; d >= 0; d--) {
      counter[d]!++;
      if (counter[d]! < outer[d]!) {
        for (let i = 0; i < k; i++) offsets[i]! += outerStrides[i]![d]!;
        break;
      }
      counter[d] = 0;
      for (let i = 0; i < k; i++) offsets[i]! -= outerStrides[i]![d]! * (outer[d]! - 1);
    }
  }
}

/**
 * One row of a binary op: o[oi + j] = f(a[ai + j·as], b[bi + j·bs]) for j < n.
 * Each op writes its own row function so that the element operation is inlined
 * in a loop of its own rather than called through a shared one.
 */
export type BinaryRow<A, B = A, O = A> = (
  a: A, ai: number, as: number, b: B, bi: number, bs: number, o: O, oi: number, n: number,
) => void;

/** Runs a binary row function over a two-input plan. */
export function runBinary<A, B, O>(plan: RowPlan, row: BinaryRow<A, B, O>, a: A, b: B, out: O): void {
  const as = plan.rowStrides[0]!, bs = plan.rowStrides[1]!, n = plan.rowLength;
  if (plan.rows === 1) {
    row(a, 0, as, b, 0, bs, out, 0, n);
    return;
  }
  forEachRow(plan, (off, oi) => row(a, off[0]!, as, b, off[1]!, bs, out, oi, n));
}

/**
 * Plans a reduction of `inShape` to `keptShape` (inShape with 1 at each reduced
 * axis): the walk covers the input in order, and "input 0" of the plan is the
 * accumulator, whose offset stays put along reduced axes.
 */
export function planReduction(inShape: readonly number[], keptShape: readonly number[]): RowPlan {
  return planRows([keptShape], inShape);
}
