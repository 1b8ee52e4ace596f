/**
 * Reference kernels for Pad (latest ONNX form) and the channels-last
 * DepthToSpace / SpaceToDepth shuffles. They move elements without arithmetic,
 * so one kernel serves every dtype.
 */
import {
  DTYPES, attrInt, attrString, defineKernel, type KernelDef, type Node, type Tensor, type TypedArray,
} from '../../ir/index.js';
import { integerValues, padAmounts } from '../../ir/ops/nn.js';

/** Element access that works for number and bigint typed arrays alike. */
type AnyElements = { [i: number]: number | bigint; readonly length: number };

/**
 * The input coordinate an output coordinate of one axis reads, or -1 for the
 * constant. Reflect mirrors without repeating the edge (period 2·(n-1)), wrap
 * repeats the axis, edge clamps; all three handle pads longer than the axis.
 */
function sourceIndex(o: number, begin: number, size: number, mode: string): number {
  const i = o - begin;
  if (i >= 0 && i < size) return i;
  switch (mode) {
    case 'edge': return i < 0 ? 0 : size - 1;
    case 'wrap': return ((i % size) + size) % size;
    case 'reflect': {
      if (size === 1) return 0;
      const period = 2 * (size - 1);
      const j = ((i % period) + period) % period;
      return j < size ? j : period - j;
    }
    default: return -1;
  }
}

/**
 * Constant padding (or cropping, for negative pads) by whole runs: the output
 * is filled with the constant, then every output row that has a source row
 * gets it in one copy. Trailing axes without padding are merged into the axis
 * before them first (padding that axis by p is padding the merged one by p
 * blocks), so an NHWC spatial pad copies whole W·C rows, not C-element pixels.
 */
export function padConstant(x: TypedArray, y: TypedArray, inShape: readonly number[], outShape: readonly number[], beginIn: readonly number[], constant: number | bigint): void {
  (y as { fill(v: number | bigint): unknown }).fill(constant);
  if (y.length === 0 || x.length === 0) return;
  const shape = [...inShape], out = [...outShape], begin = [...beginIn];
  while (shape.length > 1 && begin[shape.length - 1] === 0 && shape[shape.length - 1] === out[out.length - 1]) {
    const n = shape.pop()!;
    out.pop();
    begin.pop();
    const a = shape.length - 1;
    shape[a]! *= n; out[a]! *= n; begin[a]! *= n;
  }
  const rank = shape.length;
  const inLen = shape[rank - 1]!, outLen = out[rank - 1]!, b = begin[rank - 1]!;
  const srcStart = Math.max(0, -b), dstStart = Math.max(0, b);
  const len = Math.min(inLen - srcStart, outLen - dstStart);
  if (len <= 0) return;
  const inStrides = new Array<number>(rank);
  for (let a = rank - 1, st = 1; a >= 0; a--) { inStrides[a] = st; st *= shape[a]!; }
  const counter = new Array<number>(rank - 1).fill(0);
  const rows = y.length / outLen;
  for (let r = 0; r < rows; r++) {
    let base = 0, inside = true;
    for (let a = 0; a < rank - 1; a++) {
      const i = counter[a]! - begin[a]!;
      if (i < 0 || i >= shape[a]!) { inside = false; break; }
      base += i * inStrides[a]!;
    }
    if (inside) {
      const src = base + srcStart, dst = r * outLen + dstStart;
      // x and y share a dtype; the casts only name one typed-array type for the compiler.
      if (len > 16) (y as Int8Array).set((x as Int8Array).subarray(src, src + len), dst);
      else for (let j = 0; j < len; j++) (y as Int8Array)[dst + j] = (x as Int8Array)[src + j]!;
    }
    for (let a = rank - 2; a >= 0; a--) {
      if (++counter[a]! < out[a]!) break;
      counter[a] = 0;
    }
  }
}

function runPad(inputs: (Tensor | undefined)[], outputs: Tensor[], node: Node): void {
  const xT = inputs[0]!;
  const x = xT.data as unknown as AnyElements;
  const y = outputs[0]!.data as unknown as AnyElements;
  const inShape = xT.shape;
  const outShape = outputs[0]!.shape;
  const rank = inShape.length;
  const mode = attrString(node, 'mode', 'constant');
  const pads = integerValues(node, inputs[1]!, 'pads');
  const axesT = inputs[3] && inputs[3].size > 0 ? inputs[3] : undefined;
  const [begin] = padAmounts(node, rank, pads, axesT ? integerValues(node, axesT, 'axes') : undefined);
  const cvT = inputs[2] && inputs[2].size > 0 ? inputs[2] : undefined;
  const constant: number | bigint = cvT ? (cvT.data as unknown as AnyElements)[0]! : xT.dtype === 'int64' ? 0n : 0;
  if (y.length === 0) return;
  if (rank === 0) { y[0] = x[0]!; return; }
  if (mode === 'constant') {
    padConstant(xT.data, outputs[0]!.data, inShape, outShape, begin, constant);
    return;
  }

  const inStrides = new Array<number>(rank);
  for (let a = rank - 1, s = 1; a >= 0; a--) { inStrides[a] = s; s *= inShape[a]!; }
  const lastIn = inShape[rank - 1]!, lastOut = outShape[rank - 1]!, lastBegin = begin[rank - 1]!;
  const counter = new Array<number>(rank - 1).fill(0);
  const rows = y.length / lastOut;
  let yi = 0;
  for (let r = 0; r < rows; r++) {
    let base = 0;
    let isConstant = false;
    for (let a = 0; a < rank - 1; a++) {
      const i = sourceIndex(counter[a]!, begin[a]!, inShape[a]!, mode);
      if (i < 0) { isConstant = true; break; }
      base += i * inStrides[a]!;
    }
    for (let j = 0; j < lastOut; j++) {
      const i = isConstant ? -1 : sourceIndex(j, lastBegin, lastIn, mode);
      y[yi++] = i < 0 ? constant : x[base + i]!;
    }
    for (let a = rank - 2; a >= 0; a--) {
      if (++counter[a]! < outShape[a]!) break;
      counter[a] = 0;
    }
  }
}

/**
 * DepthToSpace on NHWC. Output pixel (h·b + i, w·b + j), channel c reads input
 * pixel (h, w) at channel (i·b + j)·C' + c in DCR order (TensorFlow's
 * depth_to_space) or c·b² + i·b + j in CRD order (ONNX's CRD, whose channel
 * groups are per output channel).
 */
function runDepthToSpace(inputs: (Tensor | undefined)[], outputs: Tensor[], node: Node): void {
  const xT = inputs[0]!;
  const x = xT.data as TypedArray as AnyElements;
  const y = outputs[0]!.data as TypedArray as AnyElements;
  const [n, h, w, c] = xT.shape as [number, number, number, number];
  const b = attrInt(node, 'blocksize');
  const crd = attrString(node, 'mode', 'DCR') === 'CRD';
  const co = c / (b * b);
  const outW = w * b;
  for (let bn = 0; bn < n; bn++) {
    for (let ih = 0; ih < h; ih++) {
      for (let iw = 0; iw < w; iw++) {
        const xo = ((bn * h + ih) * w + iw) * c;
        for (let i = 0; i < b; i++) {
          for (let j = 0; j < b; j++) {
            const yo = ((bn * h * b + ih * b + i) * outW + iw * b + j) * co;
            if (crd) {
              for (let ch = 0; ch < co; ch++) y[yo + ch] = x[xo + ch * b * b + i * b + j]!;
            } else {
              const src = xo + (i * b + j) * co;
              for (let ch = 0; ch < co; ch++) y[yo + ch] = x[src + ch]!;
            }
          }
        }
      }
    }
  }
}

/** SpaceToDepth on NHWC: input pixel (h·b + i, w·b + j), channel c goes to output (h, w), channel (i·b + j)·C + c. */
function runSpaceToDepth(inputs: (Tensor | undefined)[], outputs: Tensor[], node: Node): void {
  const xT = inputs[0]!;
  const x = xT.data as TypedArray as AnyElements;
  const y = outputs[0]!.data as TypedArray as AnyElements;
  const [n, h, w, c] = xT.shape as [number, number, number, number];
  const b = attrInt(node, 'blocksize');
  const oh = h / b, ow = w / b;
  for (let bn = 0; bn < n; bn++) {
    for (let ph = 0; ph < oh; ph++) {
      for (let pw = 0; pw < ow; pw++) {
        const yo = ((bn * oh + ph) * ow + pw) * c * b * b;
        for (let i = 0; i < b; i++) {
          for (let j = 0; j < b; j++) {
            const xo = ((bn * h + ph * b + i) * w + pw * b + j) * c;
            const dst = yo + (i * b + j) * c;
            for (let ch = 0; ch < c; ch++) y[dst + ch] = x[xo + ch]!;
          }
        }
      }
    }
  }
}

export const padKernels: readonly KernelDef[] = [
  defineKernel<undefined>({ op: 'Pad', backend: 'ref', dtypes: DTYPES, run: runPad }),
  defineKernel<undefined>({ op: 'DepthToSpace', backend: 'ref', dtypes: DTYPES, run: runDepthToSpace }),
  defineKernel<undefined>({ op: 'SpaceToDepth', backend: 'ref', dtypes: DTYPES, run: runSpaceToDepth }),
];
