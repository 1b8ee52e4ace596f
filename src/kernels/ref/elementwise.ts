/**
 * Reference kernels of the elementwise ops.
 *
 * Dtype families: float32/float64 compute in float64 and round once on store
 * (for + - × / and sqrt that is exactly float32 arithmetic, since float64 has
 * more than twice float32's precision). int8..int32 and uint8 compute in JS
 * numbers and wrap on store like C's two's complement (products go through
 * Math.imul, because an int32 product can exceed 2^53 and lose low bits).
 * int64 uses BigInt, and BigInt64Array wraps on store. bool is 0/1 in a Uint8Array.
 *
 * Binary ops walk a row plan (broadcast.ts) made in prepare, so run allocates no buffers.
 */
import {
  attrFloat, attrInt, attrString, defineKernel, isFloat,
  type DType, type KernelDef, type Node, type NumberArray, type Tensor, type TypedArray, type ValueInfo,
} from '../../ir/index.js';
import { forEachRow, planRows, runBinary, type BinaryRow, type RowPlan } from './broadcast.js';
import { erf, powInt32, powInt64, roundHalfEven, sigmoid, softplus } from './math.js';

const FLOAT: readonly DType[] = ['float32', 'float64'];
const SIGNED: readonly DType[] = ['int8', 'int16', 'int32'];
const INTS: readonly DType[] = ['int8', 'uint8', 'int16', 'int32'];
const NUMERIC: readonly DType[] = [...FLOAT, ...INTS, 'int64'];

/** Element access common to every typed array, for kernels that only move or compare values. */
type AnyArray = { [i: number]: number | bigint };

/**
 * Quantized int8/uint8 values are not the numbers they stand for; these
 * kernels compute on raw values, so they leave quantized nodes to quantized kernels.
 */
function plainValues(node: Node, inputs: (ValueInfo | undefined)[], outputs: ValueInfo[]): string | undefined {
  if (inputs.some((v) => v?.quant) || outputs.some((v) => v.quant)) {
    return `${node.op} on quantized tensors needs a quantized kernel`;
  }
  return undefined;
}

// ---------------------------------------------------------------- unary

type NumFn = (x: number) => number;
type BigFn = (x: bigint) => bigint;

interface UnarySpec {
  op: string;
  /** The float function, given the node for its attributes. */
  float: (node: Node) => NumFn;
  /** The same op on int8..int32/uint8 values, for the dtypes listed. */
  int?: { dtypes: readonly DType[]; fn: NumFn };
  /** The op on int64 values. */
  big?: BigFn;
}

// biome-ignore lint/correctness/noPrecisionLoss: the exact float32 value, which a double holds exactly
const SELU_ALPHA = 1.67326319217681884765625;
// biome-ignore lint/correctness/noPrecisionLoss: the exact float32 value, which a double holds exactly
const SELU_GAMMA = 1.05070102214813232421875;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

const relu: NumFn = (x) => (x < 0 ? 0 : x);
const abs: NumFn = (x) => Math.abs(x);
const neg: NumFn = (x) => -x;
const sign: NumFn = (x) => Math.sign(x);
const fixed = (fn: NumFn) => (): NumFn => fn;

const UNARY: readonly UnarySpec[] = [
  { op: 'Relu', float: fixed(relu), int: { dtypes: SIGNED, fn: relu }, big: (x) => (x < 0n ? 0n : x) },
  {
    op: 'LeakyRelu',
    float: (node) => { const alpha = attrFloat(node, 'alpha', 0.01); return (x) => (x < 0 ? alpha * x : x); },
  },
  { op: 'Sigmoid', float: fixed(sigmoid) },
  { op: 'Tanh', float: fixed(Math.tanh) },
  {
    op: 'HardSigmoid',
    float: (node) => {
      const alpha = attrFloat(node, 'alpha', 0.2), beta = attrFloat(node, 'beta', 0.5);
      return (x) => Math.max(0, Math.min(1, alpha * x + beta));
    },
  },
  { op: 'HardSwish', float: fixed((x) => x * Math.max(0, Math.min(1, x / 6 + 0.5))) },
  {
    op: 'Elu',
    float: (node) => { const alpha = attrFloat(node, 'alpha', 1); return (x) => (x < 0 ? alpha * Math.expm1(x) : x); },
  },
  {
    op: 'Selu',
    float: (node) => {
      const alpha = attrFloat(node, 'alpha', SELU_ALPHA), gamma = attrFloat(node, 'gamma', SELU_GAMMA);
      return (x) => (x > 0 ? gamma * x : gamma * alpha * Math.expm1(x));
    },
  },
  {
    op: 'Celu',
    float: (node) => {
      const alpha = attrFloat(node, 'alpha', 1);
      return (x) => Math.max(0, x) + Math.min(0, alpha * Math.expm1(x / alpha));
    },
  },
  {
    op: 'ThresholdedRelu',
    float: (node) => { const alpha = attrFloat(node, 'alpha', 1); return (x) => (x > alpha ? x : 0); },
  },
  { op: 'Softplus', float: fixed(softplus) },
  { op: 'Softsign', float: fixed((x) => x / (1 + Math.abs(x))) },
  {
    op: 'Gelu',
    float: (node) => (attrString(node, 'approximate', 'none') === 'tanh'
      ? (x) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))
      : (x) => 0.5 * x * (1 + erf(x * Math.SQRT1_2))),
  },
  { op: 'Mish', float: fixed((x) => x * Math.tanh(softplus(x))) },
  { op: 'Exp', float: fixed(Math.exp) },
  { op: 'Log', float: fixed(Math.log) },
  { op: 'Sqrt', float: fixed(Math.sqrt) },
  { op: 'Abs', float: fixed(abs), int: { dtypes: INTS, fn: abs }, big: (x) => (x < 0n ? -x : x) },
  { op: 'Neg', float: fixed(neg), int: { dtypes: SIGNED, fn: neg }, big: (x) => -x },
  { op: 'Reciprocal', float: fixed((x) => 1 / x) },
  { op: 'Floor', float: fixed(Math.floor) },
  { op: 'Ceil', float: fixed(Math.ceil) },
  { op: 'Round', float: fixed(roundHalfEven) },
  { op: 'Sign', float: fixed(sign), int: { dtypes: INTS, fn: sign }, big: (x) => (x > 0n ? 1n : x < 0n ? -1n : 0n) },
  { op: 'Erf', float: fixed(erf) },
  { op: 'Sin', float: fixed(Math.sin) },
  { op: 'Cos', float: fixed(Math.cos) },
  { op: 'Tan', float: fixed(Math.tan) },
  { op: 'Asin', float: fixed(Math.asin) },
  { op: 'Acos', float: fixed(Math.acos) },
  { op: 'Atan', float: fixed(Math.atan) },
  { op: 'Sinh', float: fixed(Math.sinh) },
  { op: 'Cosh', float: fixed(Math.cosh) },
  { op: 'Asinh', float: fixed(Math.asinh) },
  { op: 'Acosh', float: fixed(Math.acosh) },
  { op: 'Atanh', float: fixed(Math.atanh) },
];

type UnaryState = { num: NumFn } | { big: BigFn };

function unaryKernel(spec: UnarySpec): KernelDef {
  return defineKernel<UnaryState>({
    op: spec.op,
    backend: 'ref',
    dtypes: [...FLOAT, ...(spec.int?.dtypes ?? []), ...(spec.big ? ['int64' as const] : [])],
    check: plainValues,
    prepare({ node, inputs }) {
      const dtype = inputs[0]!.dtype;
      if (dtype === 'int64') return { state: { big: spec.big! } };
      return { state: { num: isFloat(dtype) ? spec.float(node) : spec.int!.fn } };
    },
    run(inputs, outputs, _node, state) {
      if ('big' in state) {
        const x = inputs[0]!.data as BigInt64Array, o = outputs[0]!.data as BigInt64Array;
        for (let i = 0; i < x.length; i++) o[i] = state.big(x[i]!);
        return;
      }
      const x = inputs[0]!.data as NumberArray, o = outputs[0]!.data as NumberArray, fn = state.num;
      for (let i = 0; i < x.length; i++) o[i] = fn(x[i]!);
    },
  });
}

const notKernel = defineKernel<undefined>({
  op: 'Not',
  backend: 'ref',
  dtypes: ['bool'],
  run(inputs, outputs) {
    const x = inputs[0]!.data as Uint8Array, o = outputs[0]!.data as Uint8Array;
    for (let i = 0; i < x.length; i++) o[i] = x[i] ? 0 : 1;
  },
});

const isNaNKernel = defineKernel<undefined>({
  op: 'IsNaN',
  backend: 'ref',
  dtypes: FLOAT,
  run(inputs, outputs) {
    const x = inputs[0]!.data as NumberArray, o = outputs[0]!.data as Uint8Array;
    for (let i = 0; i < x.length; i++) o[i] = Number.isNaN(x[i]!) ? 1 : 0;
  },
});

const isInfKernel = defineKernel<{ negative: boolean; positive: boolean }>({
  op: 'IsInf',
  backend: 'ref',
  dtypes: FLOAT,
  prepare({ node }) {
    return { state: { negative: attrInt(node, 'detect_negative', 1) !== 0, positive: attrInt(node, 'detect_positive', 1) !== 0 } };
  },
  run(inputs, outputs, _node, { negative, positive }) {
    const x = inputs[0]!.data as NumberArray, o = outputs[0]!.data as Uint8Array;
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      o[i] = (positive && v === Infinity) || (negative && v === -Infinity) ? 1 : 0;
    }
  },
});

/**
 * Clip(input, min?, max?): min(max(x, lo), hi), so that lo > hi gives hi
 * everywhere as ONNX specifies. The bounds are read at run time: they may be
 * computed by the graph.
 */
const clipKernel = defineKernel<undefined>({
  op: 'Clip',
  backend: 'ref',
  dtypes: NUMERIC,
  check: plainValues,
  run(inputs, outputs) {
    const [x, lo, hi] = inputs as [Tensor, Tensor | undefined, Tensor | undefined];
    if (x.dtype === 'int64') {
      const d = x.data as BigInt64Array, o = outputs[0]!.data as BigInt64Array;
      const min = lo ? (lo.data as BigInt64Array)[0]! : undefined;
      const max = hi ? (hi.data as BigInt64Array)[0]! : undefined;
      for (let i = 0; i < d.length; i++) {
        let v = d[i]!;
        if (min !== undefined && v < min) v = min;
        if (max !== undefined && v > max) v = max;
        o[i] = v;
      }
      return;
    }
    const d = x.data as NumberArray, o = outputs[0]!.data as NumberArray;
    const min = lo ? (lo.data as NumberArray)[0]! : -Infinity;
    const max = hi ? (hi.data as NumberArray)[0]! : Infinity;
    for (let i = 0; i < d.length; i++) o[i] = Math.min(Math.max(d[i]!, min), max);
  },
});

// ---------------------------------------------------------------- binary

type AnyRow = BinaryRow<TypedArray, TypedArray, TypedArray>;
type NumRow = BinaryRow<NumberArray>;
type BigRow = BinaryRow<BigInt64Array>;

/**
 * Rows are typed by the arrays they take; kernels keep them untyped after
 * choosing one by dtype. The second overload takes a union of rows (any row
 * fits its never-typed parameters).
 */
function erase<A, B, O>(row: BinaryRow<A, B, O>): AnyRow;
function erase(row: BinaryRow<never, never, never>): AnyRow;
function erase(row: BinaryRow<never, never, never>): AnyRow {
  return row as unknown as AnyRow;
}

// The hot rows are written out so each op gets a loop of its own.
const addRow: NumRow = (a, ai, as, b, bi, bs, o, oi, n) => {
  for (const end = oi + n; oi < end; oi++, ai += as, bi += bs) o[oi] = a[ai]! + b[bi]!;
};
const subRow: NumRow = (a, ai, as, b, bi, bs, o, oi, n) => {
  for (const end = oi + n; oi < end; oi++, ai += as, bi += bs) o[oi] = a[ai]! - b[bi]!;
};
const mulRow: NumRow = (a, ai, as, b, bi, bs, o, oi, n) => {
  for (const end = oi + n; oi < end; oi++, ai += as, bi += bs) o[oi] = a[ai]! * b[bi]!;
};
const divRow: NumRow = (a, ai, as, b, bi, bs, o, oi, n) => {
  for (const end = oi + n; oi < end; oi++, ai += as, bi += bs) o[oi] = a[ai]! / b[bi]!;
};
const maxRow: NumRow = (a, ai, as, b, bi, bs, o, oi, n) => {
  for (const end = oi + n; oi < end; oi++, ai += as, bi += bs) o[oi] = Math.max(a[ai]!, b[bi]!);
};
const minRow: NumRow = (a, ai, as, b, bi, bs, o, oi, n) => {
  for (const end = oi + n; oi < end; oi++, ai += as, bi += bs) o[oi] = Math.min(a[ai]!, b[bi]!);
};
const preluRow: NumRow = (a, ai, as, b, bi, bs, o, oi, n) => {
  for (const end = oi + n; oi < end; oi++, ai += as, bi += bs) { const x = a[ai]!; o[oi] = x < 0 ? x * b[bi]! : x; }
};

// Rarer ops share one loop and call their element function.
function numRow(f: (x: number, y: number) => number): NumRow {
  return (a, ai, as, b, bi, bs, o, oi, n) => {
    for (const end = oi + n; oi < end; oi++, ai += as, bi += bs) o[oi] = f(a[ai]!, b[bi]!);
  };
}
function bigRow(f: (x: bigint, y: bigint) => bigint): BigRow {
  return (a, ai, as, b, bi, bs, o, oi, n) => {
    for (const end = oi + n; oi < end; oi++, ai += as, bi += bs) o[oi] = f(a[ai]!, b[bi]!);
  };
}

/** Python's modulo: the result takes the divisor's sign. */
function floorMod(x: number, y: number): number {
  const r = x % y;
  return r !== 0 && (r < 0) !== (y < 0) ? r + y : r;
}
function floorModBig(x: bigint, y: bigint): bigint {
  if (y === 0n) return 0n;
  const r = x % y;
  return r !== 0n && (r < 0n) !== (y < 0n) ? r + y : r;
}

interface ArithmeticSpec {
  op: string;
  dtypes: readonly DType[];
  /** The row for a dtype, given the node for its attributes. */
  row(dtype: DType, node: Node): AnyRow;
}

/**
 * Integer division by zero is undefined in ONNX (C would trap); these kernels
 * give 0 there, like numpy, rather than NaN cast to an integer.
 */
const ARITHMETIC: readonly ArithmeticSpec[] = [
  { op: 'Add', dtypes: NUMERIC, row: (d) => erase(d === 'int64' ? bigRow((x, y) => x + y) : addRow) },
  { op: 'Sub', dtypes: NUMERIC, row: (d) => erase(d === 'int64' ? bigRow((x, y) => x - y) : subRow) },
  {
    op: 'Mul',
    dtypes: NUMERIC,
    row: (d) => erase(d === 'int64' ? bigRow((x, y) => x * y) : isFloat(d) ? mulRow : numRow(Math.imul)),
  },
  {
    op: 'Div',
    dtypes: NUMERIC,
    row: (d) => erase(d === 'int64' ? bigRow((x, y) => (y === 0n ? 0n : x / y))
      : isFloat(d) ? divRow : numRow((x, y) => (y === 0 ? 0 : Math.trunc(x / y)))),
  },
  {
    op: 'Mod',
    dtypes: NUMERIC,
    row(d, node) {
      // fmod=1 is C's fmod (sign of the dividend), which JS % computes; fmod=0 is Python's.
      const fmod = attrInt(node, 'fmod', 0) === 1;
      if (d === 'int64') return erase(bigRow(fmod ? (x, y) => (y === 0n ? 0n : x % y) : floorModBig));
      if (isFloat(d)) return erase(numRow(fmod ? (x, y) => x % y : floorMod));
      return erase(numRow(fmod ? (x, y) => (y === 0 ? 0 : x % y) : (x, y) => (y === 0 ? 0 : floorMod(x, y))));
    },
  },
  {
    op: 'PRelu',
    dtypes: [...FLOAT, 'int32', 'int64'],
    row: (d) => erase(d === 'int64' ? bigRow((x, s) => (x < 0n ? x * s : x))
      : isFloat(d) ? preluRow : numRow((x, s) => (x < 0 ? Math.imul(x, s) : x))),
  },
  {
    op: 'BitShift',
    dtypes: ['uint8'],
    row(_d, node) {
      // JS shifts take the count mod 32; a uint8 shifted by 8 or more is 0.
      return erase(attrString(node, 'direction') === 'LEFT'
        ? numRow((x, s) => (s >= 8 ? 0 : x << s))
        : numRow((x, s) => (s >= 8 ? 0 : x >> s)));
    },
  },
];

interface BinaryState { plan: RowPlan; row: AnyRow }

function binaryKernel(op: string, dtypes: readonly DType[], choose: (dtype: DType, node: Node, other: DType) => AnyRow): KernelDef {
  return defineKernel<BinaryState>({
    op,
    backend: 'ref',
    dtypes,
    check: plainValues,
    prepare({ node, inputs, outputs }) {
      const [a, b] = inputs as [ValueInfo, ValueInfo];
      return { state: { plan: planRows([a.shape, b.shape], outputs[0]!.shape), row: choose(a.dtype, node, b.dtype) } };
    },
    run(inputs, outputs, _node, { plan, row }) {
      runBinary(plan, row, inputs[0]!.data, inputs[1]!.data, outputs[0]!.data);
    },
  });
}

/**
 * Pow: the exponent may have its own dtype. Float bases use Math.pow. Integer
 * bases with integer exponents are exact with wrap-around (square and
 * multiply); with a float exponent the real power is truncated toward zero.
 */
function powRow(base: DType, exponent: DType): AnyRow {
  const intExponent = !isFloat(exponent);
  if (isFloat(base)) {
    return erase<NumberArray, AnyArray, NumberArray>((a, ai, as, b, bi, bs, o, oi, n) => {
      for (const end = oi + n; oi < end; oi++, ai += as, bi += bs) o[oi] = Math.pow(a[ai]!, Number(b[bi]!));
    });
  }
  if (base === 'int64') {
    const f = intExponent
      ? (x: bigint, e: number | bigint) => powInt64(x, BigInt(e))
      : (x: bigint, e: number | bigint) => { const r = Math.pow(Number(x), Number(e)); return Number.isFinite(r) ? BigInt(Math.trunc(r)) : 0n; };
    return erase<BigInt64Array, AnyArray, BigInt64Array>((a, ai, as, b, bi, bs, o, oi, n) => {
      for (const end = oi + n; oi < end; oi++, ai += as, bi += bs) o[oi] = f(a[ai]!, b[bi]!);
    });
  }
  const f = intExponent
    ? (x: number, e: number | bigint) => powInt32(x, Number(e))
    : (x: number, e: number | bigint) => Math.trunc(Math.pow(x, Number(e)));
  return erase<NumberArray, AnyArray, NumberArray>((a, ai, as, b, bi, bs, o, oi, n) => {
    for (const end = oi + n; oi < end; oi++, ai += as, bi += bs) o[oi] = f(a[ai]!, b[bi]!);
  });
}

type Compare = (x: number | bigint, y: number | bigint) => boolean;

/** Comparisons work alike on numbers and BigInts (the schema makes both sides one dtype). */
function compareRow(f: Compare): AnyRow {
  return erase<AnyArray, AnyArray, Uint8Array>((a, ai, as, b, bi, bs, o, oi, n) => {
    for (const end = oi + n; oi < end; oi++, ai += as, bi += bs) o[oi] = f(a[ai]!, b[bi]!) ? 1 : 0;
  });
}

const COMPARISONS: readonly [string, readonly DType[], Compare][] = [
  ['Equal', [...NUMERIC, 'bool'], (x, y) => x === y],
  ['Greater', NUMERIC, (x, y) => x > y],
  ['GreaterOrEqual', NUMERIC, (x, y) => x >= y],
  ['Less', NUMERIC, (x, y) => x < y],
  ['LessOrEqual', NUMERIC, (x, y) => x <= y],
];

const LOGIC: readonly [string, (x: boolean, y: boolean) => boolean][] = [
  ['And', (x, y) => x && y],
  ['Or', (x, y) => x || y],
  ['Xor', (x, y) => x !== y],
];

function logicRow(f: (x: boolean, y: boolean) => boolean): AnyRow {
  return erase<Uint8Array, Uint8Array, Uint8Array>((a, ai, as, b, bi, bs, o, oi, n) => {
    for (const end = oi + n; oi < end; oi++, ai += as, bi += bs) o[oi] = f(a[ai] !== 0, b[bi] !== 0) ? 1 : 0;
  });
}

/** Where(cond, X, Y): a three-input row plan; values are only moved, so one loop serves every dtype. */
const whereKernel = defineKernel<RowPlan>({
  op: 'Where',
  backend: 'ref',
  dtypes: [...NUMERIC, 'bool'],
  typeInput: 1,
  check: plainValues,
  prepare({ inputs, outputs }) {
    return { state: planRows(inputs.map((v) => v!.shape), outputs[0]!.shape) };
  },
  run(inputs, outputs, _node, plan) {
    const c = inputs[0]!.data as Uint8Array;
    const x = inputs[1]!.data as AnyArray, y = inputs[2]!.data as AnyArray, o = outputs[0]!.data as AnyArray;
    const [cs, xs, ys] = plan.rowStrides as [number, number, number];
    const n = plan.rowLength;
    forEachRow(plan, (off, oi) => {
      let ci = off[0]!, xi = off[1]!, yi = off[2]!;
      for (const end = oi + n; oi < end; oi++, ci += cs, xi += xs, yi += ys) o[oi] = c[ci] ? x[xi]! : y[yi]!;
    });
  },
});

// ---------------------------------------------------------------- variadic

interface VariadicState {
  /** plans[i - 1] combines input i with the result so far (input 0 itself when i = 1). */
  plans: RowPlan[];
  row: AnyRow;
}

/**
 * Min/Max/Sum/Mean of 1..N inputs. The output is input0 ⊕ input1, then
 * output ⊕ input_i for the rest: reading and writing the same output element
 * in one step is safe because each element is read before it is written.
 */
function variadicKernel(op: string, dtypes: readonly DType[], choose: (dtype: DType) => AnyRow): KernelDef {
  return defineKernel<VariadicState>({
    op,
    backend: 'ref',
    dtypes,
    check: plainValues,
    prepare({ inputs, outputs }) {
      const out = outputs[0]!.shape;
      const plans = inputs.slice(1).map((v, k) => planRows([k === 0 ? inputs[0]!.shape : out, v!.shape], out));
      return { state: { plans, row: choose(inputs[0]!.dtype) } };
    },
    run(inputs, outputs, _node, { plans, row }) {
      const out = outputs[0]!;
      if (inputs.length === 1) {
        // One input: the schema gives the output its shape, so this is a copy.
        const src = inputs[0]!.data;
        if (src instanceof BigInt64Array) (out.data as BigInt64Array).set(src);
        else (out.data as NumberArray).set(src);
      } else {
        runBinary(plans[0]!, row, inputs[0]!.data, inputs[1]!.data, out.data);
        for (let i = 2; i < inputs.length; i++) runBinary(plans[i - 1]!, row, out.data, inputs[i]!.data, out.data);
      }
      if (op === 'Mean') {
        const o = out.data as NumberArray;
        for (let i = 0; i < o.length; i++) o[i] = o[i]! / inputs.length;
      }
    },
  });
}

// ---------------------------------------------------------------- cast

/**
 * Converts `src` (of dtype `from`) into `dst` (of dtype `to`) element by
 * element. Float to integer truncates toward zero and wraps (the typed array
 * store does both); NaN and ±Inf become 0. int64 conversions are exact where
 * the target can hold the value. Anything nonzero (NaN included) is true.
 */
export function castInto(src: TypedArray, from: DType, dst: TypedArray, to: DType): void {
  const n = src.length;
  if (to === 'bool') {
    const o = dst as Uint8Array, s = src as AnyArray;
    for (let i = 0; i < n; i++) { const v = s[i]!; o[i] = v === 0 || v === 0n ? 0 : 1; }
    return;
  }
  if (from === 'int64' && to === 'int64') {
    (dst as BigInt64Array).set(src as BigInt64Array);
  } else if (from === 'int64') {
    const s = src as BigInt64Array, o = dst as NumberArray;
    // Integer targets keep the low bits; float targets want the nearest value.
    if (isFloat(to)) for (let i = 0; i < n; i++) o[i] = Number(s[i]!);
    else for (let i = 0; i < n; i++) o[i] = Number(BigInt.asIntN(32, s[i]!));
  } else if (to === 'int64') {
    const s = src as NumberArray, o = dst as BigInt64Array;
    for (let i = 0; i < n; i++) { const v = s[i]!; o[i] = Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n; }
  } else {
    const s = src as NumberArray, o = dst as NumberArray;
    for (let i = 0; i < n; i++) o[i] = s[i]!;
  }
}

function castKernel(op: 'Cast' | 'CastLike'): KernelDef {
  return defineKernel<undefined>({
    op,
    backend: 'ref',
    dtypes: [...NUMERIC, 'bool'],
    run(inputs, outputs) {
      castInto(inputs[0]!.data, inputs[0]!.dtype, outputs[0]!.data, outputs[0]!.dtype);
    },
  });
}

// ---------------------------------------------------------------- table

export const elementwiseKernels: readonly KernelDef[] = [
  ...UNARY.map(unaryKernel),
  notKernel,
  isNaNKernel,
  isInfKernel,
  clipKernel,
  ...ARITHMETIC.map((s) => binaryKernel(s.op, s.dtypes, (d, node) => s.row(d, node))),
  binaryKernel('Pow', NUMERIC, (d, _node, exponent) => powRow(d, exponent)),
  ...COMPARISONS.map(([op, dtypes, f]) => binaryKernel(op, dtypes, () => compareRow(f))),
  ...LOGIC.map(([op, f]) => binaryKernel(op, ['bool'], () => logicRow(f))),
  whereKernel,
  variadicKernel('Max', NUMERIC, (d) => erase(d === 'int64' ? bigRow((x, y) => (x > y ? x : y)) : maxRow)),
  variadicKernel('Min', NUMERIC, (d) => erase(d === 'int64' ? bigRow((x, y) => (x < y ? x : y)) : minRow)),
  variadicKernel('Sum', NUMERIC, (d) => erase(d === 'int64' ? bigRow((x, y) => x + y) : addRow)),
  variadicKernel('Mean', FLOAT, () => erase(addRow)),
  castKernel('Cast'),
  castKernel('CastLike'),
];
