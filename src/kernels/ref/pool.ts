/**
 * Reference float kernels for MaxPool and AveragePool, channels-last.
 *
 * Like the convolutions, 1-D and 2-D pools run through the 3-D loop nest with
 * leading spatial sizes of 1, and the window is clipped to the input once per
 * output pixel. Channels are the innermost loop, into a float64 row of
 * accumulators.
 *
 * AveragePool's divisor: taps inside the input always count; with
 * count_include_pad the taps in the explicit (or auto) padding count too, but
 * taps that only exist because ceil_mode let the last window run past the end
 * padding never do (ONNX / PyTorch behaviour).
 */
import { attrInt, attrInts, defineKernel, type KernelDef, type Node, type PrepareArgs, type Tensor } from '../../ir/index.js';
import { activationRange, windowGeometry } from '../../ir/ops/nn.js';
import { endTap, firstTap, geometry3, type Geometry3 } from './conv.js';
import { FLOATS, type FloatArray } from './nn-common.js';


interface PoolState {
  g: Geometry3;
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
  const kernel = attrInts(node, 'kernel_shape');
  const geo = windowGeometry(node, inSpatial, kernel, attrInt(node, 'ceil_mode', 0) !== 0);
  const g = geometry3(x.shape[0]!, inSpatial, geo);
  const padded = inSpatial.map((s, i) => s + geo.padsBegin[i]! + geo.padsEnd[i]!);
  while (padded.length < 3) padded.unshift(1);
  const channels = x.shape[r + 1]!;
  const [lo, hi] = activationRange(node);
  const acc = new Float64Array(channels);
  return {
    state: {
      g, padD: padded[0]!, padH: padded[1]!, padW: padded[2]!, channels,
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
  const { g, channels: c, lo, hi, acc } = st;
  const isMax = node.op === 'MaxPool';
  let yi = 0;
  for (let n = 0; n < g.batch; n++) {
    for (let od = 0; od < g.outD; od++) {
      const kd0 = firstTap(od, g.sD, g.pD, g.dD), kd1 = endTap(od, g.sD, g.pD, g.dD, g.kD, g.inD);
      for (let oh = 0; oh < g.outH; oh++) {
        const kh0 = firstTap(oh, g.sH, g.pH, g.dH), kh1 = endTap(oh, g.sH, g.pH, g.dH, g.kH, g.inH);
        for (let ow = 0; ow < g.outW; ow++) {
          const kw0 = firstTap(ow, g.sW, g.pW, g.dW), kw1 = endTap(ow, g.sW, g.pW, g.dW, g.kW, g.inW);
          acc.fill(isMax ? -Infinity : 0);
          for (let kd = kd0; kd < kd1; kd++) {
            const id = od * g.sD - g.pD + kd * g.dD;
            for (let kh = kh0; kh < kh1; kh++) {
              const ih = oh * g.sH - g.pH + kh * g.dH;
              for (let kw = kw0; kw < kw1; kw++) {
                const iw = ow * g.sW - g.pW + kw * g.dW;
                const xo = (((n * g.inD + id) * g.inH + ih) * g.inW + iw) * c;
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
              ? paddedTaps(od, g.sD, g.dD, g.kD, st.padD) * paddedTaps(oh, g.sH, g.dH, g.kH, st.padH) *
                paddedTaps(ow, g.sW, g.dW, g.kW, st.padW)
              : (kd1 - kd0) * (kh1 - kh0) * (kw1 - kw0);
            // A window entirely in padding (pads >= kernel, which ONNX forbids) averages nothing: 0.
            scale = count > 0 ? 1 / count : 0;
          }
          for (let ch = 0; ch < c; ch++) {
            const v = isMax ? acc[ch]! : acc[ch]! * scale;
            y[yi + ch] = v < lo ? lo : v > hi ? hi : v;
          }
          yi += c;
        }
      }
    }
  }
}

export const poolKernels: readonly KernelDef[] = [
  defineKernel<PoolState>({ op: 'MaxPool', backend: 'ref', dtypes: FLOATS, prepare: preparePool, run: runPool }),
  defineKernel<PoolState>({ op: 'AveragePool', backend: 'ref', dtypes: FLOATS, prepare: preparePool, run: runPool }),
];
