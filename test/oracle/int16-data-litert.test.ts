/**
 * 16x8 pooling, ReduceMean, Resize, Concat, Pad and data movement against
 * LiteRT.js: randomized single-op models with int16 activations (one scale,
 * zero point 0; scales log-uniform, powers of two for ties; full-range int16
 * data) written by our .tflite writer and run in LiteRT.js, which runs
 * TFLite's builtin int16 kernels (XNNPACK takes no int16). `tflite-xnnpack` on
 * backend 'ref' must equal LiteRT.js value for value.
 *
 * `tflite-reference` (TFLite's reference kernels, TFLite Micro) is the same
 * arithmetic for every op here except ReduceMean with equal input and output
 * scales, where TFLite Micro truncates S / N: the last block states and tests
 * that difference (at most 1 LSB, toward zero).
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor, perTensorQuant, type AttrValue, type QuantParams } from '../../src/ir/index.js';
import { int16DataKernels } from '../../src/kernels/ref/int16/data.js';
import { Int16Case, Tally, firstDiffs, int16Data, int16Quant, lcg, runLiteRtCase, runOurs } from '../helpers/int16-cases.js';

const RUNS = 30;

/** Random draws from one seed. */
class Draw {
  readonly r: () => number;
  constructor(seed: number) { this.r = lcg(seed); }
  int(lo: number, hi: number): number { return lo + Math.floor(this.r() * (hi - lo + 1)); }
  pick<T>(xs: readonly T[]): T { return xs[Math.floor(this.r() * xs.length)]!; }
  /** A scale log-uniform in [2^lo, 2^hi], or (one time in four) a power of two, where ties are exact. */
  scale(lo = -15, hi = -4): number {
    return this.r() < 0.25 ? 2 ** this.int(lo, hi) : Math.fround(2 ** (lo + this.r() * (hi - lo)));
  }
  data(n: number): Int16Array {
    // Mostly full range; one case in five near zero, where relu and ties matter more.
    return this.r() < 0.2 ? int16Data(n, this.r, -300, 300) : int16Data(n, this.r);
  }
  quant(): QuantParams { return int16Quant(this.scale()); }
}

const ACTIVATIONS = ['none', 'relu', 'relu6', 'relu_n1_to_1'] as const;

function poolCase(seed: number, op: 'AveragePool' | 'MaxPool'): Int16Case {
  const d = new Draw(seed);
  const n = d.int(1, 2), h = d.int(1, 9), w = d.int(1, 9), c = d.int(1, 5);
  const k = [d.int(1, Math.min(4, h)), d.int(1, Math.min(4, w))];
  const strides = [d.int(1, 3), d.int(1, 3)];
  const pad = d.pick(['SAME_UPPER', 'VALID'] as const);
  const act = d.pick(ACTIVATIONS);
  // Scales up to 1 so that relu6 and relu_n1_to_1 clamp inside the int16 range too.
  const q = int16Quant(d.scale(-15, 0));
  const cs = new Int16Case(`${op} ${n}x${h}x${w}x${c} k${k} s${strides} ${pad} ${act} scale ${q.scale[0]}`);
  const x = cs.input('x', new Tensor('int16', [n, h, w, c], d.data(n * h * w * c), q));
  return cs.node(op, [x], q, { kernel_shape: k, strides, auto_pad: pad, activation: act });
}

/** ReduceMean forms: H and W with and without keepdims (TFLite's special 4-D path or not), other axes, other ranks. */
const MEAN_FORMS: { name: string; rank: number; axes: number[]; keepdims: number }[] = [
  { name: 'HW keepdims', rank: 4, axes: [1, 2], keepdims: 1 },
  { name: 'HW', rank: 4, axes: [1, 2], keepdims: 0 },
  { name: 'C keepdims', rank: 4, axes: [3], keepdims: 1 },
  { name: 'W', rank: 4, axes: [2], keepdims: 0 },
  { name: 'HWC keepdims', rank: 4, axes: [1, 2, 3], keepdims: 1 },
  { name: 'rank 3, axis 1', rank: 3, axes: [1], keepdims: 0 },
  { name: 'rank 2, axis -1', rank: 2, axes: [-1], keepdims: 1 },
];

function meanCase(seed: number): Int16Case {
  const d = new Draw(seed);
  const form = d.pick(MEAN_FORMS);
  const shape = Array.from({ length: form.rank }, (_, i) => (i === 0 && form.rank === 4 ? d.int(1, 2) : d.int(1, 7)));
  const sx = d.scale();
  // Equal scales (TFLite's truncating path), power-of-two ratios (ties) or random ratios in [2^-3, 2^2].
  const kind = d.pick(['equal', 'pow2', 'random', 'random'] as const);
  const sy = kind === 'equal' ? sx : kind === 'pow2' ? sx * 2 ** d.int(-3, 2) : Math.fround(sx * 2 ** (-3 + 5 * d.r()));
  const cs = new Int16Case(`ReduceMean ${form.name} [${shape}] ${kind} s_x ${sx} s_y ${sy}`);
  const x = cs.input('x', new Tensor('int16', shape, d.data(shape.reduce((p, v) => p * v, 1)), int16Quant(sx)));
  const axes = cs.constant('axes', new Tensor('int64', [form.axes.length], BigInt64Array.from(form.axes.map(BigInt))));
  return cs.node('ReduceMean', [x, axes], int16Quant(sy), { keepdims: form.keepdims });
}

type Transform = 'align_corners' | 'half_pixel' | 'asymmetric';

function resizeCase(seed: number, mode: 'linear' | 'nearest'): Int16Case {
  const d = new Draw(seed);
  const t = d.pick(['align_corners', 'half_pixel', 'asymmetric'] as const satisfies readonly Transform[]);
  const n = d.int(1, 2), h = d.int(1, 8), w = d.int(1, 8), c = d.pick([1, 2, 3, 5, 8]);
  const size = (v: number): number => {
    const kind = d.pick(['2x', 'up', 'down']);
    return kind === '2x' ? 2 * v : kind === 'up' ? d.int(v, 3 * v + 2) : d.int(1, v);
  };
  const oh = size(h), ow = size(w);
  const q = d.quant();
  const cs = new Int16Case(`Resize ${mode} ${t} ${n}x${h}x${w}x${c} -> ${oh}x${ow}`);
  const x = cs.input('x', new Tensor('int16', [n, h, w, c], d.data(n * h * w * c), q));
  const sizes = cs.constant('sizes', new Tensor('int64', [2], BigInt64Array.from([BigInt(oh), BigInt(ow)])));
  const attrs: Record<string, AttrValue> = { mode, coordinate_transformation_mode: t, axes: [1, 2] };
  if (mode === 'nearest') attrs.nearest_mode = t === 'asymmetric' ? 'floor' : 'round_prefer_ceil';
  return cs.node('Resize', [x, '', '', sizes], q, attrs);
}

function concatCase(seed: number): Int16Case {
  const d = new Draw(seed);
  const rank = d.int(1, 4), axis = d.int(0, rank - 1), count = d.int(1, 4);
  const base = Array.from({ length: rank }, () => d.int(1, 4));
  const q = d.quant();
  const cs = new Int16Case(`Concat x${count} rank ${rank} axis ${axis} scale ${q.scale[0]}`);
  const names = Array.from({ length: count }, (_, i) => {
    const shape = base.map((v, k) => (k === axis ? d.int(1, 4) : v));
    return cs.input(`x${i}`, new Tensor('int16', shape, d.data(shape.reduce((p, v) => p * v, 1)), q));
  });
  return cs.node('Concat', names, q, { axis: d.r() < 0.5 ? axis : axis - rank });
}

function padCase(seed: number): Int16Case {
  const d = new Draw(seed);
  const rank = d.int(2, 4);
  const shape = Array.from({ length: rank }, () => d.int(1, 4));
  const pads = Array.from({ length: 2 * rank }, () => d.int(0, 2));
  const q = d.quant();
  // No constant_value (PAD fills with the zero point, 0), 0 written out (still PAD), or a value (PADV2).
  const value = d.pick(['none', 'zero', 'value'] as const);
  const cs = new Int16Case(`Pad [${shape}] pads [${pads}] ${value}`);
  const x = cs.input('x', new Tensor('int16', shape, d.data(shape.reduce((p, v) => p * v, 1)), q));
  const p = cs.constant('pads', new Tensor('int64', [2 * rank], BigInt64Array.from(pads.map(BigInt))));
  const inputs = [x, p];
  if (value !== 'none') {
    const v = value === 'zero' ? 0 : d.int(-32768, 32767);
    inputs.push(cs.constant('value', new Tensor('int16', [], Int16Array.of(v), q)));
  }
  return cs.node('Pad', inputs, q, { mode: 'constant' });
}

/** Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Slice: moved by the all-dtype kernels. */
function movementCase(seed: number): Int16Case {
  const d = new Draw(seed);
  const op = d.pick(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Transpose', 'Slice'] as const);
  const q = d.quant();
  const shape = op === 'Squeeze' ? [1, d.int(1, 5), 1, d.int(1, 5)] : Array.from({ length: d.int(2, 4) }, () => d.int(1, 5));
  const size = shape.reduce((p, v) => p * v, 1);
  const cs = new Int16Case(`${op} [${shape}] scale ${q.scale[0]}`);
  const x = cs.input('x', new Tensor('int16', shape, d.data(size), q));
  const i64 = (name: string, v: number[]) => cs.constant(name, new Tensor('int64', [v.length], BigInt64Array.from(v.map(BigInt))));
  switch (op) {
    case 'Reshape': return cs.node(op, [x, i64('shape', [size])], q);
    case 'Flatten': return cs.node(op, [x], q, { axis: d.int(0, shape.length) });
    case 'Squeeze': return cs.node(op, [x, i64('axes', [0, 2])], q);
    case 'Unsqueeze': return cs.node(op, [x, i64('axes', [d.int(0, shape.length)])], q);
    case 'Transpose': {
      const perm = shape.map((_, i) => i);
      for (let i = perm.length - 1; i > 0; i--) { const j = d.int(0, i); [perm[i], perm[j]] = [perm[j]!, perm[i]!]; }
      return cs.node(op, [x], q, { perm });
    }
    case 'Slice': {
      const starts = shape.map((v) => d.int(0, v - 1));
      const ends = shape.map((v, i) => d.int(starts[i]! + 1, v));
      return cs.node(op, [x, i64('starts', starts), i64('ends', ends)], q);
    }
  }
}

const CASES = {
  MaxPool: (s: number) => poolCase(s, 'MaxPool'),
  AveragePool: (s: number) => poolCase(s, 'AveragePool'),
  ReduceMean: meanCase,
  'Resize linear': (s: number) => resizeCase(s, 'linear'),
  'Resize nearest': (s: number) => resizeCase(s, 'nearest'),
  Concat: concatCase,
  Pad: padCase,
  'data movement': movementCase,
} as const;

const tally = new Tally();

describe('16x8 pooling, mean, resize, concat, pad and data movement: tflite-xnnpack vs LiteRT.js', () => {
  afterAll(() => {
    console.log(tally.report('int16 data ops bit-exact with LiteRT.js (backend ref)'));
  });

  for (const [op, make] of Object.entries(CASES)) {
    it(`${op}: every output value equal`, async () => {
      // fast-check may hand every property the same seeds: mix in the op, so MaxPool and AveragePool (say) see different shapes.
      const salt = [...op].reduce((h, ch) => Math.imul(h ^ ch.charCodeAt(0), 16777619), 2166136261);
      await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), async (seed) => {
        const c = make((seed ^ salt) >>> 0 || 1);
        const want = await runLiteRtCase(c);
        const got = runOurs(c, 'tflite-xnnpack');
        expect(got.dtype, c.name).toBe('int16');
        expect(got.shape, c.name).toEqual(want.shape);
        expect(got.quant?.scale[0], c.name).toBe(c.graph.value('y').quant!.scale[0]);
        const w = want.data as Int16Array, g = got.data as Int16Array;
        expect(g.every((v, i) => v === w[i]), `${c.name} (seed ${seed}): ${firstDiffs(w, g)}`).toBe(true);
        tally.count(op, w.length);
      }), { numRuns: RUNS });
    });
  }
});

describe('16x8 data ops: what TFLite allows and cloudless refuses', () => {
  it('Concat of inputs with other scales: LiteRT.js copies raw values; cloudless refuses', async () => {
    const q1 = int16Quant(2 ** -10), q2 = int16Quant(2 ** -8);
    const c = new Int16Case('concat mixed');
    const a = c.input('a', new Tensor('int16', [1, 2], Int16Array.of(1000, -2000), q1));
    const b = c.input('b', new Tensor('int16', [1, 2], Int16Array.of(300, 7), q2));
    c.node('Concat', [a, b], q1, { axis: 1 });
    const want = await runLiteRtCase(c);
    // b's raw values, not 300·4 and 7·4: TFLite's int16 CONCATENATION does not rescale.
    expect(Array.from(want.data as Int16Array)).toEqual([1000, -2000, 300, 7]);
    expect(() => runOurs(c)).toThrow(/copies raw values without rescaling/);
  });

  it('pooling and resizing need the output quantized like the input', () => {
    const x = new Tensor('int16', [1, 2, 2, 1], Int16Array.of(1, 2, 3, 4), int16Quant(2 ** -10));
    const pool = new Int16Case('pool');
    pool.node('MaxPool', [pool.input('x', x)], int16Quant(2 ** -9), { kernel_shape: [2, 2] });
    expect(() => runOurs(pool)).toThrow(/share one scale/);
    const up = new Int16Case('resize');
    const sizes = up.constant('sizes', new Tensor('int64', [2], BigInt64Array.of(4n, 4n)));
    up.node('Resize', [up.input('x', x), '', '', sizes], int16Quant(2 ** -9), { mode: 'linear', coordinate_transformation_mode: 'half_pixel', axes: [1, 2] });
    expect(() => runOurs(up)).toThrow(/share one scale/);
  });

  it('check() refuses int16 without quantization, or with a zero point, and plain int16 still runs', () => {
    const node = { name: 'n', op: '', inputs: [], outputs: [], attrs: { kernel_shape: [1, 1] } };
    const plain = { dtype: 'int16' as const, shape: [1, 2, 2, 1] };
    const offset = { ...plain, quant: perTensorQuant(0.01, 3) };
    for (const k of int16DataKernels) {
      for (const info of [plain, offset]) {
        expect(k.check!({ ...node, op: k.op }, [info], [info]), `${k.op}`).toMatch(/16x8 (kernel|Concat) needs (X|the output) to (carry quantization parameters|have zero point 0|be int16 with one scale and zero point 0)/);
      }
    }
    // Plain int16 Concat and Pad fall through to the all-dtype kernels.
    const c = new Int16Case('plain pad');
    const x = c.input('x', new Tensor('int16', [1, 2], Int16Array.of(-5, 32767)));
    c.node('Pad', [x, c.constant('pads', new Tensor('int64', [4], BigInt64Array.of(0n, 1n, 0n, 0n)))], undefined);
    expect(Array.from(runOurs(c).data as Int16Array)).toEqual([0, -5, 32767]);
  });
});

describe('16x8 data ops: tflite-reference', () => {
  /** Every op but ReduceMean runs the same integer code in TFLite's builtin and reference kernels. */
  it('equals tflite-xnnpack for every op but ReduceMean', () => {
    let cases = 0;
    for (const [op, make] of Object.entries(CASES)) {
      if (op === 'ReduceMean') continue;
      for (let k = 1; k <= 15; k++) {
        const c = make(k * 7919 + op.length);
        expect(runOurs(c, 'tflite-reference'), c.name).toEqual(runOurs(c, 'tflite-xnnpack'));
        cases++;
      }
    }
    expect(cases).toBe(15 * 7);
  });

  /**
   * ReduceMean: TFLite Micro's EvalIntegerMean<int16_t> truncates S / N when
   * the input and output scales are equal; LiteRT.js's builtin MEAN (and
   * TFLite Micro for unequal scales) applies one MultiplyByQuantizedMultiplier
   * with 1/N folded into the multiplier, which rounds half away from zero.
   * So the two agree wherever the scales differ and differ by at most 1 LSB
   * (toward zero) where they are equal.
   */
  it('ReduceMean: equal where the scales differ, at most 1 LSB toward zero where they are equal', () => {
    let differ = 0, total = 0, equalScale = 0;
    for (let k = 1; k <= 200; k++) {
      const c = meanCase(k * 104729);
      const same = c.graph.value('x').quant!.scale[0] === c.graph.value('y').quant!.scale[0];
      const a = runOurs(c, 'tflite-reference').data as Int16Array, b = runOurs(c, 'tflite-xnnpack').data as Int16Array;
      if (!same) {
        expect(a, c.name).toEqual(b);
        continue;
      }
      equalScale++;
      for (let i = 0; i < a.length; i++) {
        expect(Math.abs(a[i]!), c.name).toBeLessThanOrEqual(Math.abs(b[i]!));
        expect(Math.abs(a[i]! - b[i]!), c.name).toBeLessThanOrEqual(1);
        if (a[i] !== b[i]) differ++;
      }
      total += a.length;
    }
    expect(equalScale).toBeGreaterThan(20);
    expect(differ).toBeGreaterThan(0);
    console.log(`int16 ReduceMean, equal scales: tflite-reference truncates 1 LSB below tflite-xnnpack on ${differ} of ${total} outputs`);
  });

  it('ReduceMean with equal scales, worked by hand: S = ±306 over N = 4', async () => {
    const c = new Int16Case('mean hand');
    const q = int16Quant(2 ** -10);
    const x = c.input('x', new Tensor('int16', [1, 2, 2, 2], Int16Array.of(100, -100, 101, -101, 102, -102, 3, -3), q));
    c.node('ReduceMean', [x, c.constant('axes', new Tensor('int64', [2], BigInt64Array.of(1n, 2n)))], q, { keepdims: 1 });
    // TFLite Micro: trunc(±306 / 4) = ±76. Builtin: s_x/s_y = 1 is 2^30·2^(1−31); with k = 2,
    // M' = 2^32 / 4 = 2^30 and shift −1: the high multiply gives ±153, the rounding halving ±76.5 -> ±77.
    expect(Array.from(runOurs(c, 'tflite-reference').data as Int16Array)).toEqual([76, -76]);
    expect(Array.from(runOurs(c, 'tflite-xnnpack').data as Int16Array)).toEqual([77, -77]);
    expect(Array.from((await runLiteRtCase(c)).data as Int16Array)).toEqual([77, -77]);
  });
});
