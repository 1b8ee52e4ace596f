/**
 * Ops that make tensors from parameters rather than move data: Range,
 * ConstantOfShape, EyeLike, OneHot, Trilu and Constant.
 */
import {
  DTYPES, attrInt, attrTensor, defineKernel, sizeOf,
  type DType, type NumberArray,
} from '../../ir/index.js';
import { constantOfShapeValue, resolveAxis } from '../../ir/ops/shape-ops.js';
import { copyElements, elements } from './strided-copy.js';

const NUMERIC = DTYPES.filter((d) => d !== 'bool');

/** A value of `dtype` as its typed array stores it (int64 arrays need bigint). */
function element(dtype: DType, v: number): number {
  return (dtype === 'int64' ? BigInt(v) : v) as number;
}

const range = defineKernel({
  op: 'Range',
  backend: 'ref',
  dtypes: NUMERIC,
  run(inputs, outputs) {
    const out = outputs[0]!;
    if (out.dtype === 'int64') {
      const start = (inputs[0]!.data as BigInt64Array)[0]!, delta = (inputs[2]!.data as BigInt64Array)[0]!;
      const dst = out.data as BigInt64Array;
      for (let i = 0; i < dst.length; i++) dst[i] = start + BigInt(i) * delta;
      return;
    }
    // ONNX defines Range as a loop adding delta to the previous value in the
    // tensor's own type, so float32 rounds after every step (as onnxruntime does).
    const dst = out.data as NumberArray;
    const delta = Number(inputs[2]!.data[0]!);
    const round = out.dtype === 'float32' ? Math.fround : (v: number) => v;
    let v = Number(inputs[0]!.data[0]!);
    for (let i = 0; i < dst.length; i++, v = round(v + delta)) dst[i] = v;
  },
});

const constantOfShape = defineKernel({
  op: 'ConstantOfShape',
  backend: 'ref',
  dtypes: ['int32', 'int64'],
  run(_inputs, outputs, node) {
    const { value } = constantOfShapeValue(node);
    elements(outputs[0]!).fill(value as number);
  },
});

const eyeLike = defineKernel({
  op: 'EyeLike',
  backend: 'ref',
  typeInput: -1,
  dtypes: DTYPES,
  run(_inputs, outputs, node) {
    const out = outputs[0]!;
    const [rows, cols] = out.shape as [number, number];
    const k = attrInt(node, 'k', 0);
    const dst = elements(out);
    dst.fill(element(out.dtype, 0));
    for (let i = Math.max(0, -k); i < rows && i + k < cols; i++) dst[i * cols + i + k] = element(out.dtype, 1);
  },
});

const oneHot = defineKernel({
  op: 'OneHot',
  backend: 'ref',
  typeInput: 2,
  dtypes: DTYPES,
  run(inputs, outputs, node) {
    const idx = inputs[0]!;
    const values = elements(inputs[2]!);
    const out = outputs[0]!;
    const axis = resolveAxis(node, attrInt(node, 'axis', -1), idx.rank + 1);
    const depth = out.shape[axis]!;
    const outer = sizeOf(idx.shape.slice(0, axis));
    const inner = sizeOf(idx.shape.slice(axis));
    const dst = elements(out);
    dst.fill(values[0]!);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        // Float indices are truncated toward zero; out-of-range ones leave the row all "off".
        const raw = Math.trunc(Number(idx.data[o * inner + i]!));
        const v = raw < 0 ? raw + depth : raw;
        if (v >= 0 && v < depth) dst[(o * depth + v) * inner + i] = values[1]!;
      }
    }
  },
});

const trilu = defineKernel({
  op: 'Trilu',
  backend: 'ref',
  dtypes: DTYPES,
  run(inputs, outputs, node) {
    const x = inputs[0]!;
    const k = inputs[1] ? Number(inputs[1].data[0]!) : 0;
    const upper = attrInt(node, 'upper', 1) !== 0;
    const rows = x.shape[x.rank - 2]!, cols = x.shape[x.rank - 1]!;
    const src = elements(x), dst = elements(outputs[0]!);
    const zero = element(x.dtype, 0);
    for (let base = 0; base < src.length; base += rows * cols) {
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) {
          const at = base + i * cols + j;
          const keep = upper ? j - i >= k : j - i <= k;
          dst[at] = keep ? src[at]! : zero;
        }
      }
    }
  },
});

const constant = defineKernel({
  op: 'Constant',
  backend: 'ref',
  typeInput: -1,
  dtypes: DTYPES,
  run(_inputs, outputs, node) {
    const value = attrTensor(node, 'value');
    copyElements(elements(outputs[0]!), 0, elements(value), 0, value.size);
  },
});

export const generateKernels = [range, constantOfShape, eyeLike, oneHot, trilu, constant];
