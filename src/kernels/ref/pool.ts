/**
 * Reference float kernels for MaxPool and AveragePool, channels-last.
 *
 * Like the convolutions, pools of every rank run through the 3-D walk of
 * src/ir/window.ts, with windows clipped to the input. Channels are the innermost loop, into a float64 row of
 * accumulators.
 *
 * AveragePool's divisor: taps inside the input always count; with
 * count_include_pad the taps in the explicit (or auto) padding count too, but
 * taps that only exist because ceil_mode let the last window run past the end
 * padding never do (ONNX / PyTorch behaviour).
 */
import { attrInt, attrInts, defineKernel, type KernelDef, type Node, type PrepareArgs, type Tensor } from '../../ir/index.js';
import { activationRange } from '../../ir/ops/nn.js';
import { WindowWalk, channelsLastWindow } from '../../ir/window.js';
import { FLOATS, type FloatArray } from './nn-common.js';


interface PoolState {
  walk: WindowWalk;
  /** Padded extents (input plus both pads) along D, H, W: the region count_include_pad counts. */
  padD: number; padH: number; padW: number;
  channels: number;
  countPad: boolean;
  lo: number;
  hi: number;
  acc: Float64Array;
}

function preparePool({ node, inputs }: PrepareArgs): { state: PoolState; scratchBytes: number } {
  const x = inputs[0]!;
  const r = x.shape.length - 2;
  const inSpatial = x.shape.slice(1, r + 1);
  const { geo, g } = channelsLastWindow(node, x.shape, attrInts(node, 'kernel_shape'), attrInt(node, 'ceil_mode', 0) !== 0);
  const padded = inSpatial.map((s, i) => s + geo.padsBegin[i]! + geo.padsEnd[i]!);
  while (padded.length < 3) padded.unshift(1);
  const channels = x.shape[r + 1]!;
  const [lo, hi] = activationRange(node);
  const acc = new Float64Array(channels);
  return {
    state: {
      walk: new WindowWalk(g), padD: padded[0]!, padH: padded[1]!, padW: padded[2]!, channels,
      countPad: node.op === 'AveragePool' && attrInt(node, 'count_include_pad', 0) !== 0,
      lo, hi, acc,
    },
    scratchBytes: acc.byteLength,
  };
}

/** Taps of a window that fall inside the padded input: the taps count_include_pad counts. */
function paddedTaps(o: number, s: number, d: number, k: number, padded: number): number {
  const start = o * s;
  // Tap t sits at padded coordinate start + t*d; it counts while that is < padded.
  return Math.max(0, Math.min(k, Math.floor((padded - 1 - start) / d) + 1));
}

function runPool(inputs: (Tensor | undefined)[], outputs: Tensor[], node: Node, st: PoolState): void {
  const x = inputs[0]!.data as FloatArray;
  const y = outputs[0]!.data as FloatArray;
  const { walk, channels: c, lo, hi, acc } = st;
  const g = walk.g;
  const isMax = node.op === 'MaxPool';
  let yi = 0;
  for (walk.start(); walk.next(); yi += c) {
    const { kd0, kd1, kh0, kh1, kw0, kw1 } = walk;
    acc.fill(isMax ? -Infinity : 0);
    for (let kd = kd0; kd < kd1; kd++) {
      for (let kh = kh0; kh < kh1; kh++) {
        for (let kw = kw0; kw < kw1; kw++) {
          const xo = walk.inputPixel(kd, kh, kw) * c;
          if (isMax) {
            for (let ch = 0; ch < c; ch++) { const v = x[xo + ch]!; if (v > acc[ch]! || v !== v) acc[ch] = v; }
          } else {
            for (let ch = 0; ch < c; ch++) acc[ch] = acc[ch]! + x[xo + ch]!;
          }
        }
      }
    }
    let scale = 1;
    if (!isMax) {
      const count = st.countPad
        ? paddedTaps(walk.od, g.sD, g.dD, g.kD, st.padD) * paddedTaps(walk.oh, g.sH, g.dH, g.kH, st.padH) *
          paddedTaps(walk.ow, g.sW, g.dW, g.kW, st.padW)
        : walk.taps();
      // A window entirely in padding (pads >= kernel, which ONNX forbids) averages nothing: 0.
      scale = count > 0 ? 1 / count : 0;
    }
    for (let ch = 0; ch < c; ch++) {
      const v = isMax ? acc[ch]! : acc[ch]! * scale;
      y[yi + ch] = v < lo ? lo : v > hi ? hi : v;
    }
  }
}

export const poolKernels: readonly KernelDef[] = [
  defineKernel<PoolState>({ op: 'MaxPool', backend: 'ref', dtypes: FLOATS, prepare: preparePool, run: runPool }),
  defineKernel<PoolState>({ op: 'AveragePool', backend: 'ref', dtypes: FLOATS, prepare: preparePool, run: runPool }),
];
