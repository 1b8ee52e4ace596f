/**
 * Reference float kernels for Gemm and MatMul.
 *
 * Both accumulate one output row at a time in a float64 scratch row: the loop
 * over k is outside the loop over columns, so the right-hand matrix is read
 * along its contiguous rows (the i-k-j order) whatever its size.
 */
import {
  attrFloat, attrInt, broadcastStrides, defineKernel, sizeOf, stridesOf,
  type KernelDef, type Node, type PrepareArgs, type Tensor,
} from '../../ir/index.js';
import { rowsTimesWeights } from './conv.js';
import { FLOATS, sameDtypes, type FloatArray } from './nn-common.js';

interface GemmState {
  m: number; k: number; n: number;
  transA: boolean; transB: boolean;
  alpha: number; beta: number;
  /** Element strides of C seen as [M, N] (0 on broadcast axes); undefined without C. */
  cStrides?: [number, number];
  /** transB with alpha 1 and C absent or a per-column bias: a fully connected layer, both operands read along rows. */
  fullyConnected: boolean;
  row: Float64Array;
}

function prepareGemm({ node, inputs, outputs }: PrepareArgs): { state: GemmState; scratchBytes: number } {
  const a = inputs[0]!;
  const transA = attrInt(node, 'transA', 0) !== 0;
  const transB = attrInt(node, 'transB', 0) !== 0;
  const [m, n] = outputs[0]!.shape as [number, number];
  const k = transA ? a.shape[0]! : a.shape[1]!;
  const c = inputs[2];
  const cs = c && sizeOf(c.shape) > 0 ? broadcastStrides(c.shape, [m, n]) : undefined;
  const row = new Float64Array(n);
  const alpha = attrFloat(node, 'alpha', 1), beta = attrFloat(node, 'beta', 1);
  const columnBias = !cs || (beta === 1 && cs[0] === 0 && (cs[1] === 1 || n === 1));
  return {
    state: {
      m, k, n, transA, transB, alpha, beta,
      cStrides: cs ? [cs[0]!, cs[1]!] : undefined,
      fullyConnected: transB && !transA && alpha === 1 && columnBias,
      row,
    },
    scratchBytes: row.byteLength,
  };
}

/** Y = alpha * A' B' + beta * C, with A' = transA ? Aᵀ : A and B' likewise. */
function runGemm(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: GemmState): void {
  const a = inputs[0]!.data as FloatArray;
  const b = inputs[1]!.data as FloatArray;
  const c = st.cStrides ? inputs[2]!.data as FloatArray : undefined;
  const y = outputs[0]!.data as FloatArray;
  const { m, k, n, transA, transB, alpha, beta, row } = st;
  if (st.fullyConnected) {
    rowsTimesWeights(a, b, c, y, m, k, n, -Infinity, Infinity);
    return;
  }
  // Element strides of A' (rows i, columns p) and B' (rows p, columns j).
  const aI = transA ? 1 : k, aP = transA ? m : 1;
  const bP = transB ? 1 : n, bJ = transB ? k : 1;
  for (let i = 0; i < m; i++) {
    row.fill(0);
    for (let p = 0; p < k; p++) {
      const av = a[i * aI + p * aP]!;
      const bo = p * bP;
      for (let j = 0; j < n; j++) row[j] = row[j]! + av * b[bo + j * bJ]!;
    }
    const yo = i * n;
    if (c) {
      const [ci, cj] = st.cStrides!;
      for (let j = 0; j < n; j++) y[yo + j] = alpha * row[j]! + beta * c[i * ci + j * cj]!;
    } else {
      for (let j = 0; j < n; j++) y[yo + j] = alpha * row[j]!;
    }
  }
}

interface MatMulState {
  m: number; k: number; n: number;
  /** Start of each batch's matrix in A and in B (broadcast batches repeat an offset). */
  aOffsets: Int32Array;
  bOffsets: Int32Array;
  row: Float64Array;
}

function prepareMatMul({ inputs, outputs }: PrepareArgs): { state: MatMulState; scratchBytes: number } {
  const as = inputs[0]!.shape, bs = inputs[1]!.shape;
  const a2 = as.length === 1 ? [1, as[0]!] : as;
  const b2 = bs.length === 1 ? [bs[0]!, 1] : bs;
  const m = a2[a2.length - 2]!, k = a2[a2.length - 1]!, n = b2[b2.length - 1]!;
  const outShape = outputs[0]!.shape;
  const batchRank = Math.max(a2.length, b2.length) - 2;
  const batch = outShape.slice(0, batchRank);
  const count = sizeOf(batch);
  // Broadcast strides in units of whole matrices, then scaled to elements.
  const aStr = broadcastStrides(a2.slice(0, -2), batch);
  const bStr = broadcastStrides(b2.slice(0, -2), batch);
  const outStr = stridesOf(batch);
  const aOffsets = new Int32Array(count), bOffsets = new Int32Array(count);
  for (let t = 0; t < count; t++) {
    let ao = 0, bo = 0, rest = t;
    for (let d = 0; d < batchRank; d++) {
      const idx = Math.floor(rest / outStr[d]!);
      rest -= idx * outStr[d]!;
      ao += idx * aStr[d]!;
      bo += idx * bStr[d]!;
    }
    aOffsets[t] = ao * m * k;
    bOffsets[t] = bo * k * n;
  }
  const row = new Float64Array(n);
  return { state: { m, k, n, aOffsets, bOffsets, row }, scratchBytes: row.byteLength + aOffsets.byteLength + bOffsets.byteLength };
}

function runMatMul(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: MatMulState): void {
  const a = inputs[0]!.data as FloatArray;
  const b = inputs[1]!.data as FloatArray;
  const y = outputs[0]!.data as FloatArray;
  const { m, k, n, aOffsets, bOffsets, row } = st;
  for (let t = 0; t < aOffsets.length; t++) {
    const ab = aOffsets[t]!, bb = bOffsets[t]!, yb = t * m * n;
    for (let i = 0; i < m; i++) {
      row.fill(0);
      const ao = ab + i * k;
      for (let p = 0; p < k; p++) {
        const av = a[ao + p]!;
        const bo = bb + p * n;
        for (let j = 0; j < n; j++) row[j] = row[j]! + av * b[bo + j]!;
      }
      const yo = yb + i * n;
      for (let j = 0; j < n; j++) y[yo + j] = row[j]!;
    }
  }
}

export const matmulKernels: readonly KernelDef[] = [
  defineKernel<GemmState>({ op: 'Gemm', backend: 'ref', dtypes: FLOATS, check: sameDtypes, prepare: prepareGemm, run: runGemm }),
  defineKernel<MatMulState>({ op: 'MatMul', backend: 'ref', dtypes: FLOATS, check: sameDtypes, prepare: prepareMatMul, run: runMatMul }),
];
