/**
 * Reference kernels of ONNX's quantization ops (schemas in src/ir/ops/qlinear.ts).
 *
 * ONNX's arithmetic, as onnxruntime computes it:
 * - QuantizeLinear: q = saturate(rne(fl(x / s)) + z), rounding half to even.
 * - DequantizeLinear: y = fl((q − z) · s).
 * - DynamicQuantizeLinear: range [min(0, min x), max(0, max x)], s = fl(range / 255),
 *   z = saturate(rne(fl(−min / s))), then QuantizeLinear to uint8.
 * - MatMulInteger, ConvInteger: exact int32 sums of (a − za)·(b − zb).
 * - QLinearMatMul, QLinearConv: the same sums (plus the int32 bias) requantized with
 *   the float factor fl(fl(sa · sb) / sy), rounded half to even (requantizeFloat of
 *   int8/requantize.ts, XNNPACK's and MLAS's epilogue).
 * The sums are exact: |a − za|·|b − zb| ≤ 255², so 2^31 / 65025 ≈ 33000 products fit
 * before an int32 could overflow, and JS numbers hold them exactly far beyond that.
 */
import {
  CloudlessError, attrInt, broadcastShapes, broadcastStrides, defineKernel, integerRange, sizeOf, stridesOf,
  type KernelDef, type Node, type NumberArray, type PrepareArgs, type Tensor,
} from '../../ir/index.js';
import { quantAxis } from '../../ir/ops/qlinear.js';
import { WindowWalk, channelsLastWindow } from '../../ir/window.js';
import { clampInt, fl, requantizeFloat, rne } from './int8/requantize.js';

/** How element i of a tensor finds its quantization parameter: index floor(i / inner) % channels. */
interface ParamLayout {
  channels: number;
  inner: number;
}

function paramLayout(node: Node, shape: readonly number[], scaleShape: readonly number[]): ParamLayout {
  const axis = quantAxis(node, shape, scaleShape);
  if (axis === undefined) return { channels: 1, inner: 1 };
  return { channels: shape[axis]!, inner: sizeOf(shape.slice(axis + 1)) };
}

function paramIndex(l: ParamLayout, i: number): number {
  return l.channels === 1 ? 0 : Math.floor(i / l.inner) % l.channels;
}

const NO_ZERO_POINT = Int32Array.of(0);

/** A zero point input's values, or one zero (per tensor) when absent; index with `zp.length > 1 ? c : 0`. */
function zeroPoints(t: Tensor | undefined): NumberArray {
  return t && t.size > 0 ? t.data as NumberArray : NO_ZERO_POINT;
}

const quantizeLinear = defineKernel<ParamLayout>({
  op: 'QuantizeLinear',
  backend: 'ref',
  dtypes: ['float32', 'int32'],
  prepare({ node, inputs }) {
    return { state: paramLayout(node, inputs[0]!.shape, inputs[1]!.shape) };
  },
  run(inputs, outputs, _node, layout) {
    const x = inputs[0]!.data as NumberArray;
    const s = inputs[1]!.data as Float32Array;
    const y = outputs[0]!;
    const z = zeroPoints(inputs[2]);
    const [lo, hi] = integerRange(y.dtype);
    const out = y.data as NumberArray;
    for (let i = 0; i < x.length; i++) {
      const c = paramIndex(layout, i);
      out[i] = clampInt(rne(fl(x[i]! / s[c]!)) + z[z.length > 1 ? c : 0]!, lo, hi);
    }
  },
});

const dequantizeLinear = defineKernel<ParamLayout>({
  op: 'DequantizeLinear',
  backend: 'ref',
  dtypes: ['uint8', 'int8', 'int32'],
  prepare({ node, inputs }) {
    return { state: paramLayout(node, inputs[0]!.shape, inputs[1]!.shape) };
  },
  run(inputs, outputs, _node, layout) {
    const x = inputs[0]!.data as NumberArray;
    const s = inputs[1]!.data as Float32Array;
    const z = zeroPoints(inputs[2]);
    const out = outputs[0]!.data as Float32Array;
    for (let i = 0; i < x.length; i++) {
      const c = paramIndex(layout, i);
      out[i] = (x[i]! - z[z.length > 1 ? c : 0]!) * s[c]!;
    }
  },
});

const dynamicQuantizeLinear = defineKernel<undefined>({
  op: 'DynamicQuantizeLinear',
  backend: 'ref',
  dtypes: ['float32'],
  run(inputs, outputs) {
    const x = inputs[0]!.data as Float32Array;
    let min = 0, max = 0;
    for (let i = 0; i < x.length; i++) { const v = x[i]!; if (v < min) min = v; if (v > max) max = v; }
    const scale = fl(fl(max - min) / 255);
    const zp = scale === 0 ? 0 : clampInt(rne(fl(-min / scale)), 0, 255);
    const y = outputs[0]!.data as Uint8Array;
    for (let i = 0; i < x.length; i++) y[i] = scale === 0 ? zp : clampInt(rne(fl(x[i]! / scale)) + zp, 0, 255);
    (outputs[1]!.data as Float32Array)[0] = scale;
    (outputs[2]!.data as Uint8Array)[0] = zp;
  },
});

// ---------------------------------------------------------------------------
// Matrix products
// ---------------------------------------------------------------------------

/** Where each matrix of a (broadcast) batched product starts, and its sizes. */
interface MatmulPlan {
  m: number;
  k: number;
  n: number;
  aOffsets: Int32Array;
  bOffsets: Int32Array;
}

function planMatmul(a: readonly number[], b: readonly number[]): MatmulPlan {
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const m = a2[a2.length - 2]!, k = a2[a2.length - 1]!, n = b2[b2.length - 1]!;
  const batch = broadcastShapes(a2.slice(0, -2), b2.slice(0, -2));
  const count = sizeOf(batch);
  const sa = broadcastStrides(a2.slice(0, -2), batch), sb = broadcastStrides(b2.slice(0, -2), batch);
  const outStrides = stridesOf(batch);
  const aOffsets = new Int32Array(count), bOffsets = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    let rest = i, oa = 0, ob = 0;
    for (let d = 0; d < batch.length; d++) {
      const idx = Math.floor(rest / outStrides[d]!);
      rest -= idx * outStrides[d]!;
      oa += idx * sa[d]!;
      ob += idx * sb[d]!;
    }
    aOffsets[i] = oa * m * k;
    bOffsets[i] = ob * k * n;
  }
  return { m, k, n, aOffsets, bOffsets };
}

/** Calls `store(outIndex, column, sum)` with each exact Σ_k (a − za)(b − zb[column]). */
function integerMatmul(p: MatmulPlan, a: NumberArray, za: number, b: NumberArray, zb: NumberArray, perColumn: boolean,
  store: (i: number, col: number, acc: number) => void): void {
  const { m, k, n } = p;
  for (let bi = 0; bi < p.aOffsets.length; bi++) {
    const ao = p.aOffsets[bi]!, bo = p.bOffsets[bi]!, yo = bi * m * n;
    for (let r = 0; r < m; r++) {
      for (let c = 0; c < n; c++) {
        const z = zb[perColumn ? c : 0]!;
        let acc = 0;
        for (let j = 0; j < k; j++) acc += (a[ao + r * k + j]! - za) * (b[bo + j * n + c]! - z);
        store(yo + r * n + c, c, acc);
      }
    }
  }
}

const matMulInteger = defineKernel<MatmulPlan>({
  op: 'MatMulInteger',
  backend: 'ref',
  dtypes: ['uint8', 'int8'],
  prepare({ inputs }) {
    return { state: planMatmul(inputs[0]!.shape, inputs[1]!.shape) };
  },
  run(inputs, outputs, _node, p) {
    const zb = zeroPoints(inputs[3]);
    const y = outputs[0]!.data as Int32Array;
    integerMatmul(p, inputs[0]!.data as NumberArray, zeroPoints(inputs[2])[0]!, inputs[1]!.data as NumberArray, zb, zb.length > 1,
      (i, _c, acc) => { y[i] = acc; });
  },
});

interface QLinearMatMulState {
  plan: MatmulPlan;
  lo: number;
  hi: number;
}

const qlinearMatMul = defineKernel<QLinearMatMulState>({
  op: 'QLinearMatMul',
  backend: 'ref',
  dtypes: ['uint8', 'int8'],
  prepare({ inputs, outputs }) {
    const [lo, hi] = integerRange(outputs[0]!.dtype);
    return { state: { plan: planMatmul(inputs[0]!.shape, inputs[3]!.shape), lo, hi } };
  },
  run(inputs, outputs, _node, s) {
    const as = (inputs[1]!.data as Float32Array)[0]!;
    const bs = inputs[4]!.data as Float32Array;
    const ys = (inputs[6]!.data as Float32Array)[0]!;
    const yz = Number(inputs[7]!.data[0]!);
    const zb = inputs[5]!.data as NumberArray;
    const y = outputs[0]!.data as NumberArray;
    const perColumn = bs.length > 1;
    integerMatmul(s.plan, inputs[0]!.data as NumberArray, Number(inputs[2]!.data[0]!), inputs[3]!.data as NumberArray, zb, zb.length > 1,
      (i, c, acc) => { y[i] = requantizeFloat(acc, fl(fl(as * bs[perColumn ? c : 0]!) / ys), yz, s.lo, s.hi); });
  },
});

// ---------------------------------------------------------------------------
// Convolutions (channels-last, OHWI weights, groups)
// ---------------------------------------------------------------------------

interface IntConvState {
  walk: WindowWalk;
  cin: number;
  cout: number;
  group: number;
  lo: number;
  hi: number;
}

function prepareIntConv({ node, inputs, outputs }: PrepareArgs, wIndex: number): IntConvState {
  const x = inputs[0]!, w = inputs[wIndex]!;
  const r = x.shape.length - 2;
  const { g } = channelsLastWindow(node, x.shape, w.shape.slice(1, r + 1));
  const [lo, hi] = integerRange(outputs[0]!.dtype);
  return { walk: new WindowWalk(g), cin: x.shape[r + 1]!, cout: w.shape[0]!, group: attrInt(node, 'group', 1), lo, hi };
}

/** Calls `store(outIndex, outChannel, acc)` with each exact Σ (x − xz)(w − wz[oc]) over the clipped window. */
function integerConv(s: IntConvState, x: NumberArray, xz: number, w: NumberArray, wz: NumberArray, store: (i: number, oc: number, acc: number) => void): void {
  const { walk, cin, cout, group } = s;
  const g = walk.g;
  const cg = cin / group, og = cout / group;
  let yi = 0;
  for (walk.start(); walk.next();) {
    const { kd0, kd1, kh0, kh1, kw0, kw1 } = walk;
    for (let oc = 0; oc < cout; oc++) {
      const ci0 = Math.floor(oc / og) * cg;
      const z = wz[wz.length > 1 ? oc : 0]!;
      let acc = 0;
      for (let kd = kd0; kd < kd1; kd++) {
        for (let kh = kh0; kh < kh1; kh++) {
          for (let kw = kw0; kw < kw1; kw++) {
            const xo = walk.inputPixel(kd, kh, kw) * cin + ci0;
            const wo = (((oc * g.kD + kd) * g.kH + kh) * g.kW + kw) * cg;
            for (let c = 0; c < cg; c++) acc += (x[xo + c]! - xz) * (w[wo + c]! - z);
          }
        }
      }
      store(yi++, oc, acc);
    }
  }
}

const convInteger = defineKernel<IntConvState>({
  op: 'ConvInteger',
  backend: 'ref',
  dtypes: ['uint8', 'int8'],
  prepare(args) {
    return { state: prepareIntConv(args, 1) };
  },
  run(inputs, outputs, _node, s) {
    const y = outputs[0]!.data as Int32Array;
    integerConv(s, inputs[0]!.data as NumberArray, zeroPoints(inputs[2])[0]!, inputs[1]!.data as NumberArray, zeroPoints(inputs[3]),
      (i, _oc, acc) => { y[i] = acc; });
  },
});

interface QLinearConvState extends IntConvState {
  /** Scratch for fl(fl(sx · sw[oc]) / sy), one factor per output channel (the scales are inputs, read at run time). */
  factors: Float32Array;
}

function convFactors(xs: number, ws: Float32Array, ys: number, cout: number, into: Float32Array): Float32Array {
  for (let oc = 0; oc < cout; oc++) into[oc] = fl(fl(xs * ws[ws.length > 1 ? oc : 0]!) / ys);
  return into;
}

const qlinearConv = defineKernel<QLinearConvState>({
  op: 'QLinearConv',
  backend: 'ref',
  dtypes: ['uint8', 'int8'],
  prepare(args) {
    const s: QLinearConvState = { ...prepareIntConv(args, 3), factors: new Float32Array(args.inputs[3]!.shape[0]!) };
    return { state: s, scratchBytes: s.factors.byteLength };
  },
  run(inputs, outputs, node, s) {
    const factors = convFactors((inputs[1]!.data as Float32Array)[0]!, inputs[4]!.data as Float32Array, (inputs[6]!.data as Float32Array)[0]!, s.cout, s.factors);
    const yz = Number(inputs[7]!.data[0]!);
    const bias = inputs[8] && inputs[8].size > 0 ? inputs[8].data as Int32Array : undefined;
    const y = outputs[0]!.data as NumberArray;
    if (factors.some((f) => !Number.isFinite(f))) {
      throw new CloudlessError('E_INPUT', `node ${node.name} (QLinearConv): the scales give a non-finite requantization factor`, { node: node.name });
    }
    integerConv(s, inputs[0]!.data as NumberArray, Number(inputs[2]!.data[0]!), inputs[3]!.data as NumberArray, inputs[5]!.data as NumberArray,
      (i, oc, acc) => { y[i] = requantizeFloat(acc + (bias ? bias[oc]! : 0), factors[oc]!, yz, s.lo, s.hi); });
  },
});

export const qlinearKernels: readonly KernelDef[] = [
  quantizeLinear, dequantizeLinear, dynamicQuantizeLinear, matMulInteger, qlinearMatMul, convInteger, qlinearConv,
];
