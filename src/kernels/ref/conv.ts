/**
 * Reference float kernels for Conv, DepthwiseConv, ConvTranspose and
 * FullyConnected, channels-last.
 *
 * Every spatial case (1-D, 2-D, 3-D) runs through one 3-D walk of the output
 * pixels with windows clipped to the input (src/ir/window.ts), and
 * the innermost loop runs over input channels, which are contiguous both in the
 * NHWC activation and in the OHWI weight. Sums are accumulated in JS numbers
 * (float64) and rounded once when stored, so float32 results do not depend on
 * the summation order beyond float64 rounding.
 */
import {
  attrInt, defineKernel, type KernelDef, type Node, type PrepareArgs, type Tensor,
} from '../../ir/index.js';
import { activationRange, convTransposeGeometry } from '../../ir/ops/nn.js';
import { WindowWalk, channelsLastWindow, geometry3, type Geometry3 } from '../../ir/window.js';
import { FLOATS, sameDtypes, type FloatArray } from './nn-common.js';

function clampStore(y: FloatArray, i: number, v: number, lo: number, hi: number): void {
  y[i] = v < lo ? lo : v > hi ? hi : v;
}

// ---------------------------------------------------------------------------
// Conv
// ---------------------------------------------------------------------------

interface ConvState {
  walk: WindowWalk;
  cin: number;
  cout: number;
  group: number;
  lo: number;
  hi: number;
  /** 1x1 kernel, stride 1, no padding, one group: a [pixels, Cin] x [Cout, Cin]ᵀ product. */
  pointwise: boolean;
}

function prepareConv({ node, inputs }: PrepareArgs): { state: ConvState } {
  const x = inputs[0]!, w = inputs[1]!;
  const r = x.shape.length - 2;
  const kernel = w.shape.slice(1, r + 1);
  const { geo, g } = channelsLastWindow(node, x.shape, kernel);
  const [lo, hi] = activationRange(node);
  const group = attrInt(node, 'group', 1);
  const pointwise = group === 1 && kernel.every((k) => k === 1) && geo.strides.every((s) => s === 1) &&
    geo.padsBegin.every((p) => p === 0) && geo.padsEnd.every((p) => p === 0);
  return { state: { walk: new WindowWalk(g), cin: x.shape[r + 1]!, cout: w.shape[0]!, group, lo, hi, pointwise } };
}

/**
 * y[r, j] = act(b[j] + Σ_k x[r, k] · w[j, k]) for every row r: the 1x1 conv
 * (rows are pixels) and FullyConnected. Four output channels are computed
 * together so each x element loaded feeds four products; a block that runs
 * past the last channel repeats the last channel's weights and drops the
 * surplus sums, which keeps one loop body for every channel count.
 */
export function rowsTimesWeights(x: FloatArray, w: FloatArray, b: FloatArray | undefined, y: FloatArray, rows: number, k: number, o: number, lo: number, hi: number): void {
  for (let r = 0; r < rows; r++) {
    const xo = r * k;
    const yo = r * o;
    for (let j = 0; j < o; j += 4) {
      const w0 = j * k;
      const w1 = j + 1 < o ? w0 + k : w0, w2 = j + 2 < o ? w0 + 2 * k : w0, w3 = j + 3 < o ? w0 + 3 * k : w0;
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (let i = 0; i < k; i++) {
        const xv = x[xo + i]!;
        a0 += xv * w[w0 + i]!;
        a1 += xv * w[w1 + i]!;
        a2 += xv * w[w2 + i]!;
        a3 += xv * w[w3 + i]!;
      }
      storeBlock(y, yo, j, o, b, a0, a1, a2, a3, lo, hi);
    }
  }
}

/** Stores the sums of output channels j..j+3 (those below `count`) with bias and clamp. */
function storeBlock(y: FloatArray, yo: number, j: number, count: number, b: FloatArray | undefined, a0: number, a1: number, a2: number, a3: number, lo: number, hi: number): void {
  clampStore(y, yo + j, b ? a0 + b[j]! : a0, lo, hi);
  if (j + 1 < count) clampStore(y, yo + j + 1, b ? a1 + b[j + 1]! : a1, lo, hi);
  if (j + 2 < count) clampStore(y, yo + j + 2, b ? a2 + b[j + 2]! : a2, lo, hi);
  if (j + 3 < count) clampStore(y, yo + j + 3, b ? a3 + b[j + 3]! : a3, lo, hi);
}

/**
 * Direct convolution. For one output pixel the clipped window is walked once
 * per block of four output channels of a group (as in rowsTimesWeights). With
 * one group and no horizontal dilation a window row (kw taps × Cin channels)
 * is one contiguous run in both X and the OHWI weight, so the innermost loop
 * is as long as it can be; otherwise it runs over the group's Cin per tap.
 */
function runConv(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: ConvState): void {
  const x = inputs[0]!.data as FloatArray;
  const w = inputs[1]!.data as FloatArray;
  const b = inputs[2] && inputs[2].size > 0 ? inputs[2].data as FloatArray : undefined;
  const y = outputs[0]!.data as FloatArray;
  const { walk, cin, cout, group, lo, hi } = st;
  const g = walk.g;
  if (st.pointwise) {
    rowsTimesWeights(x, w, b, y, g.batch * g.outD * g.outH * g.outW, cin, cout, lo, hi);
    return;
  }
  const cinG = cin / group;
  const coutG = cout / group;
  const wPerChannel = g.kD * g.kH * g.kW * cinG;
  const rowContiguous = group === 1 && g.dW === 1;
  let yi = 0;
  for (walk.start(); walk.next(); yi += cout) {
    const { n, kd0, kd1, kh0, kh1, kw0, kw1, id0, ih0 } = walk;
    const iw0 = walk.iw0 + kw0 * g.dW;
    // One contiguous run per window row, or one run of cinG per tap.
    const runs = rowContiguous ? 1 : kw1 - kw0;
    const runLen = rowContiguous ? (kw1 - kw0) * cin : cinG;
    for (let grp = 0; grp < group; grp++) {
      const oEnd = (grp + 1) * coutG;
      for (let o = grp * coutG; o < oEnd; o += 4) {
        const d1 = o + 1 < oEnd ? wPerChannel : 0, d2 = o + 2 < oEnd ? 2 * wPerChannel : 0, d3 = o + 3 < oEnd ? 3 * wPerChannel : 0;
        let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        for (let kd = kd0; kd < kd1; kd++) {
          const id = id0 + kd * g.dD;
          for (let kh = kh0; kh < kh1; kh++) {
            const ih = ih0 + kh * g.dH;
            const xRow = ((n * g.inD + id) * g.inH + ih) * g.inW;
            const wRow = ((o * g.kD + kd) * g.kH + kh) * g.kW;
            for (let t = 0; t < runs; t++) {
              const xo = (xRow + iw0 + t * g.dW) * cin + grp * cinG;
              const wo = (wRow + kw0 + t) * cinG;
              for (let i = 0; i < runLen; i++) {
                const xv = x[xo + i]!;
                a0 += xv * w[wo + i]!;
                a1 += xv * w[wo + d1 + i]!;
                a2 += xv * w[wo + d2 + i]!;
                a3 += xv * w[wo + d3 + i]!;
              }
            }
          }
        }
        storeBlock(y, yi, o, oEnd, b, a0, a1, a2, a3, lo, hi);
      }
    }
  }
}

// ---------------------------------------------------------------------------
// DepthwiseConv
// ---------------------------------------------------------------------------

interface DepthwiseState {
  walk: WindowWalk;
  channels: number;
  multiplier: number;
  lo: number;
  hi: number;
  /** Per output pixel, where each tap of the clipped window starts in X and in W. */
  xTap: Int32Array;
  wTap: Int32Array;
}

function prepareDepthwise({ node, inputs }: PrepareArgs): { state: DepthwiseState; scratchBytes: number } {
  const x = inputs[0]!, w = inputs[1]!;
  const r = x.shape.length - 2;
  const { geo, g } = channelsLastWindow(node, x.shape, w.shape.slice(1, r + 1));
  const channels = x.shape[r + 1]!;
  const cm = w.shape[r + 1]!;
  const [lo, hi] = activationRange(node);
  const taps = geo.kernel.reduce((a, k) => a * k, 1);
  const xTap = new Int32Array(taps), wTap = new Int32Array(taps);
  return {
    state: { walk: new WindowWalk(g), channels, multiplier: cm / channels, lo, hi, xTap, wTap },
    scratchBytes: xTap.byteLength * 2,
  };
}

/**
 * Output channel c*M + m reads input channel c. For each output pixel the
 * clipped window's taps are listed once (their X and W offsets); then each
 * output channel sums over that short list in a register. X is read at stride
 * C, which stays in cache for a window of a few pixels.
 */
function runDepthwise(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: DepthwiseState): void {
  const x = inputs[0]!.data as FloatArray;
  const w = inputs[1]!.data as FloatArray;
  const b = inputs[2] && inputs[2].size > 0 ? inputs[2].data as FloatArray : undefined;
  const y = outputs[0]!.data as FloatArray;
  const { walk, channels: c, multiplier: m, lo, hi, xTap, wTap } = st;
  const g = walk.g;
  const cm = c * m;
  let yi = 0;
  for (walk.start(); walk.next(); yi += cm) {
    const { kd0, kd1, kh0, kh1, kw0, kw1 } = walk;
    let taps = 0;
    for (let kd = kd0; kd < kd1; kd++) {
      for (let kh = kh0; kh < kh1; kh++) {
        for (let kw = kw0; kw < kw1; kw++) {
          xTap[taps] = walk.inputPixel(kd, kh, kw) * c;
          wTap[taps] = ((kd * g.kH + kh) * g.kW + kw) * cm;
          taps++;
        }
      }
    }
    for (let o = 0; o < cm; o++) {
      const ch = m === 1 ? o : (o / m) | 0;
      let acc = b ? b[o]! : 0;
      for (let t = 0; t < taps; t++) acc += x[xTap[t]! + ch]! * w[wTap[t]! + o]!;
      clampStore(y, yi + o, acc, lo, hi);
    }
  }
}

// ---------------------------------------------------------------------------
// ConvTranspose
// ---------------------------------------------------------------------------

export interface ConvTransposeState {
  g: Geometry3;
  cin: number;
  cout: number;
  group: number;
  lo: number;
  hi: number;
  acc: Float64Array;
}

/** The geometry, channel counts and accumulator row of a ConvTranspose (float and int8 kernels alike). */
export function prepareConvTranspose({ node, inputs }: PrepareArgs): { state: ConvTransposeState; scratchBytes: number } {
  const x = inputs[0]!, w = inputs[1]!;
  const r = x.shape.length - 2;
  const inSpatial = x.shape.slice(1, r + 1);
  const geo = convTransposeGeometry(node, inSpatial, w.shape.slice(1, r + 1));
  const group = attrInt(node, 'group', 1);
  const cout = w.shape[r + 1]! * group;
  const [lo, hi] = activationRange(node);
  const acc = new Float64Array(cout);
  return {
    state: { g: geometry3(x.shape[0]!, inSpatial, geo), cin: x.shape[r + 1]!, cout, group, lo, hi, acc },
    scratchBytes: acc.byteLength,
  };
}

/**
 * Transposed convolution written as a gather: each output pixel sums the input
 * pixels whose scattered kernel covers it, (x − zx)·w over IHWO weights (which
 * keep a group's output channels contiguous, so the inner loop runs over them),
 * into st.acc, which starts at the bias. `store(i, o, acc)` then writes output
 * element i of channel o. zx is the input zero point of the int8 kernel, 0 for float.
 */
export function gatherTranspose(
  st: ConvTransposeState, x: ArrayLike<number>, zx: number, w: ArrayLike<number>, b: ArrayLike<number> | undefined,
  store: (i: number, o: number, acc: number) => void,
): void {
  const { g, cin, cout, group, acc } = st;
  const cinG = cin / group, coutG = cout / group;
  const taps = g.kD * g.kH * g.kW;
  let yi = 0;
  for (let n = 0; n < g.batch; n++) {
    for (let od = 0; od < g.outD; od++) {
      for (let oh = 0; oh < g.outH; oh++) {
        for (let ow = 0; ow < g.outW; ow++) {
          if (b) for (let o = 0; o < cout; o++) acc[o] = b[o]!;
          else acc.fill(0);
          // Tap k reaches this output when o + p - k*d is a multiple of the stride inside the input.
          for (let kd = 0; kd < g.kD; kd++) {
            const nd = od + g.pD - kd * g.dD;
            if (nd < 0 || nd % g.sD !== 0 || nd / g.sD >= g.inD) continue;
            const id = nd / g.sD;
            for (let kh = 0; kh < g.kH; kh++) {
              const nh = oh + g.pH - kh * g.dH;
              if (nh < 0 || nh % g.sH !== 0 || nh / g.sH >= g.inH) continue;
              const ih = nh / g.sH;
              for (let kw = 0; kw < g.kW; kw++) {
                const nw = ow + g.pW - kw * g.dW;
                if (nw < 0 || nw % g.sW !== 0 || nw / g.sW >= g.inW) continue;
                const iw = nw / g.sW;
                const xo = (((n * g.inD + id) * g.inH + ih) * g.inW + iw) * cin;
                const tap = (kd * g.kH + kh) * g.kW + kw;
                for (let ic = 0; ic < cin; ic++) {
                  const xv = x[xo + ic]! - zx;
                  const oBase = ((ic / cinG) | 0) * coutG;
                  const wo = (ic * taps + tap) * coutG;
                  for (let oc = 0; oc < coutG; oc++) acc[oBase + oc] = acc[oBase + oc]! + xv * w[wo + oc]!;
                }
              }
            }
          }
          for (let o = 0; o < cout; o++) store(yi + o, o, acc[o]!);
          yi += cout;
        }
      }
    }
  }
}

function runConvTranspose(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: ConvTransposeState): void {
  const b = inputs[2] && inputs[2].size > 0 ? inputs[2].data as FloatArray : undefined;
  const y = outputs[0]!.data as FloatArray;
  const { lo, hi } = st;
  gatherTranspose(st, inputs[0]!.data as FloatArray, 0, inputs[1]!.data as FloatArray, b, (i, _o, v) => clampStore(y, i, v, lo, hi));
}

// ---------------------------------------------------------------------------
// FullyConnected
// ---------------------------------------------------------------------------

interface FullyConnectedState { k: number; o: number; lo: number; hi: number }

function runFullyConnected(inputs: (Tensor | undefined)[], outputs: Tensor[], _node: Node, st: FullyConnectedState): void {
  const x = inputs[0]!.data as FloatArray;
  const b = inputs[2] && inputs[2].size > 0 ? inputs[2].data as FloatArray : undefined;
  rowsTimesWeights(x, inputs[1]!.data as FloatArray, b, outputs[0]!.data as FloatArray, x.length / st.k, st.k, st.o, st.lo, st.hi);
}

export const convKernels: readonly KernelDef[] = [
  defineKernel<ConvState>({ op: 'Conv', backend: 'ref', dtypes: FLOATS, check: sameDtypes, prepare: prepareConv, run: runConv }),
  defineKernel<DepthwiseState>({ op: 'DepthwiseConv', backend: 'ref', dtypes: FLOATS, check: sameDtypes, prepare: prepareDepthwise, run: runDepthwise }),
  defineKernel<ConvTransposeState>({ op: 'ConvTranspose', backend: 'ref', dtypes: FLOATS, check: sameDtypes, prepare: prepareConvTranspose, run: runConvTranspose }),
  defineKernel<FullyConnectedState>({
    op: 'FullyConnected', backend: 'ref', dtypes: FLOATS, check: sameDtypes,
    prepare({ node, inputs }) {
      const [lo, hi] = activationRange(node);
      return { state: { k: inputs[1]!.shape[1]!, o: inputs[1]!.shape[0]!, lo, hi } };
    },
    run: runFullyConnected,
  }),
];
