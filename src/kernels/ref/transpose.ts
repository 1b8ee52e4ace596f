/**
 * Transpose sits on the hot path: the ONNX importer wraps NCHW ops in
 * NCHW↔NHWC transposes, and the ones the layout pass cannot cancel run here.
 *
 * prepare() simplifies the permutation (size-1 axes dropped, axes that stay
 * neighbours merged). Both layout changes of a 4-D tensor then become a batch
 * of 2-D matrix transposes — NCHW→NHWC is [N][C][H·W] → [N][H·W][C] — which
 * run in square tiles so that reads and writes both stay within a few cache
 * lines. Every other permutation runs the general strided loop. run() only
 * reads the prepared plan: it allocates nothing.
 */
import { DTYPES, defineKernel, stridesOf, type NumberArray } from '../../ir/index.js';
import { transposePerm } from '../../ir/ops/shape-ops.js';
import { elements, planStrided, runStrided, type StridedPlan } from './strided-copy.js';

/** Edge of the square tiles: 32×32 elements of 4 bytes fill 4 KiB on each side. */
const TILE = 32;

interface TransposeState {
  plan: StridedPlan;
  /** Set when the permutation is a batch of `rows × cols` → `cols × rows` matrix transposes. */
  matrix?: { batch: number; rows: number; cols: number };
}

/**
 * Output element (b, r, c) of the batched transpose reads input (b, c, r):
 * with the output seen as [batch, cols', rows'], the source strides are
 * [rows'·cols', 1, cols'] — i.e. the input is a contiguous [batch, rows', cols'] block.
 */
function asMatrixTranspose(plan: StridedPlan): TransposeState['matrix'] {
  const { shape, strides, offset } = plan;
  const rank = shape.length;
  if (offset !== 0 || (rank !== 2 && rank !== 3)) return undefined;
  const outRows = shape[rank - 2]!;
  const outCols = shape[rank - 1]!;
  if (strides[rank - 2] !== 1 || strides[rank - 1] !== outRows) return undefined;
  if (rank === 3 && strides[0] !== outRows * outCols) return undefined;
  return { batch: rank === 3 ? shape[0]! : 1, rows: outCols, cols: outRows };
}

/** dst[b][c][r] = src[b][r][c] for `batch` matrices of rows × cols, tile by tile. */
function transposeMatrices(dst: NumberArray, src: NumberArray, batch: number, rows: number, cols: number): void {
  const block = rows * cols;
  for (let b = 0; b < batch; b++) {
    const base = b * block;
    for (let r0 = 0; r0 < rows; r0 += TILE) {
      const r1 = Math.min(r0 + TILE, rows);
      for (let c0 = 0; c0 < cols; c0 += TILE) {
        const c1 = Math.min(c0 + TILE, cols);
        for (let c = c0; c < c1; c++) {
          let d = base + c * rows + r0;
          let s = base + r0 * cols + c;
          for (let r = r0; r < r1; r++, s += cols) dst[d++] = src[s]!;
        }
      }
    }
  }
}

export const transposeKernel = defineKernel<TransposeState>({
  op: 'Transpose',
  backend: 'ref',
  dtypes: DTYPES,
  prepare({ node, inputs }) {
    const shape = inputs[0]!.shape;
    const perm = transposePerm(node, shape.length);
    const inStrides = stridesOf(shape);
    const plan = planStrided(perm.map((p) => shape[p]!), perm.map((p) => inStrides[p]!));
    const matrix = asMatrixTranspose(plan);
    return { state: matrix ? { plan, matrix } : { plan } };
  },
  run(inputs, outputs, _node, state) {
    const src = elements(inputs[0]!);
    const dst = elements(outputs[0]!);
    const m = state.matrix;
    if (m) transposeMatrices(dst, src, m.batch, m.rows, m.cols);
    else runStrided(dst, 0, src, state.plan);
  },
});
