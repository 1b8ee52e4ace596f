import { describe, expect, it } from 'vitest';
import { Tensor, type DType } from '../../../src/ir/index.js';
import { runOp } from '../../../src/runtime/eval-node.js';
import { planRows } from '../../../src/kernels/ref/broadcast.js';
import { castInto } from '../../../src/kernels/ref/elementwise.js';
import { erf, roundHalfEven } from '../../../src/kernels/ref/math.js';
import { NODE_TEST_ROOT, checkNodeTest } from './onnx-node-data.js';
import { close, throwsCode } from './assertions.js';
import { existsSync } from 'node:fs';

const f32 = (shape: number[], v: number[]) => Tensor.fromNumbers('float32', shape, v);
const t = (dtype: DType, shape: number[], v: number[]) => Tensor.fromNumbers(dtype, shape, v);
const i64 = (shape: number[], v: (number | bigint)[]) => new Tensor('int64', shape, BigInt64Array.from(v.map((x) => BigInt(x))));
const one = (op: string, inputs: (Tensor | undefined)[], attrs = {}) => runOp(op, inputs, attrs)[0]!;

describe('broadcast row plans', () => {
  it('collapses same shapes into one contiguous row', () => {
    const p = planRows([[2, 3, 4], [2, 3, 4]], [2, 3, 4]);
    expect(p.rows).toBe(1);
    expect(p.rowLength).toBe(24);
    expect(p.rowStrides).toEqual([1, 1]);
  });
  it('gives a scalar operand stride 0 in a single row', () => {
    const p = planRows([[2, 3, 4], []], [2, 3, 4]);
    expect(p.rows).toBe(1);
    expect(p.rowStrides).toEqual([1, 0]);
  });
  it('keeps a channel vector broadcast as rows over the last axis', () => {
    const p = planRows([[2, 5, 5, 3], [3]], [2, 5, 5, 3]);
    expect(p.rowLength).toBe(3);
    expect(p.rows).toBe(50);
    expect(p.outer).toEqual([50]);
    expect(p.outerStrides).toEqual([[3], [0]]);
  });
  it('handles empty outputs', () => {
    expect(planRows([[0, 3], [3]], [0, 3]).rows).toBe(0);
  });
});

describe('math helpers', () => {
  it('erf matches known values to float64 precision', () => {
    expect(erf(0)).toBe(0);
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 15);
    expect(erf(-1)).toBeCloseTo(-0.8427007929497149, 15);
    expect(erf(3)).toBeCloseTo(0.9999779095030014, 15);
    expect(erf(10)).toBe(1);
  });
  it('rounds half to even', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, -2, 2, 3]);
  });
});

describe('unary ops', () => {
  const x = [-2, -0.5, 0, 0.5, 3];
  it('activations', () => {
    close(one('Relu', [f32([5], x)]), [0, 0, 0, 0.5, 3]);
    close(one('LeakyRelu', [f32([5], x)]), [-0.02, -0.005, 0, 0.5, 3]);
    close(one('LeakyRelu', [f32([5], x)], { alpha: 0.1 }), [-0.2, -0.05, 0, 0.5, 3]);
    close(one('Sigmoid', [f32([3], [-1000, 0, 1000])]), [0, 0.5, 1]);
    close(one('HardSigmoid', [f32([5], x)]), [0.1, 0.4, 0.5, 0.6, 1]);
    close(one('HardSwish', [f32([5], x)]), x.map((v) => v * Math.max(0, Math.min(1, v / 6 + 0.5))));
    close(one('Elu', [f32([2], [-1, 2])], { alpha: 2 }), [2 * (Math.exp(-1) - 1), 2]);
    close(one('Selu', [f32([2], [-1, 2])]), [1.0507009873554805 * 1.6732632423543772 * (Math.exp(-1) - 1), 2 * 1.0507009873554805]);
    close(one('Celu', [f32([2], [-1, 2])], { alpha: 2 }), [2 * (Math.exp(-0.5) - 1), 2]);
    close(one('ThresholdedRelu', [f32([5], x)], { alpha: 0.4 }), [0, 0, 0, 0.5, 3]);
    close(one('Softplus', [f32([3], [-100, 0, 100])]), [0, Math.LN2, 100]);
    close(one('Softsign', [f32([2], [-1, 3])]), [-0.5, 0.75]);
    close(one('Mish', [f32([1], [1])]), [Math.tanh(Math.log1p(Math.E))]);
    close(one('Gelu', [f32([2], [1, -1])]), [0.8413447460685429, -0.15865525393145707]);
    close(one('Gelu', [f32([1], [1])], { approximate: 'tanh' }), [0.8411919906082768]);
  });
  it('math functions', () => {
    close(one('Exp', [f32([2], [0, 1])]), [1, Math.E]);
    close(one('Log', [f32([2], [1, 0])]), [0, -Infinity]);
    close(one('Sqrt', [f32([2], [4, -1])]), [2, NaN]);
    close(one('Reciprocal', [f32([2], [4, -0.5])]), [0.25, -2]);
    close(one('Floor', [f32([2], [-1.5, 1.5])]), [-2, 1]);
    close(one('Ceil', [f32([2], [-1.5, 1.5])]), [-1, 2]);
    close(one('Round', [f32([4], [0.5, 1.5, 2.5, -2.5])]), [0, 2, 2, -2]);
    close(one('Erf', [f32([1], [0.5])]), [0.5204998778130465]);
    close(one('Atanh', [t('float64', [1], [0.5])]), [Math.atanh(0.5)], 1e-15);
    close(one('Acosh', [f32([1], [2])]), [Math.acosh(2)]);
  });
  it('integer Abs, Neg, Sign, Relu wrap like the dtype', () => {
    expect([...one('Abs', [t('int8', [3], [-128, -3, 4])]).data]).toEqual([-128, 3, 4]);
    expect([...one('Neg', [t('int32', [2], [-2147483648, 7])]).data]).toEqual([-2147483648, -7]);
    expect([...one('Sign', [t('uint8', [2], [0, 9])]).data]).toEqual([0, 1]);
    expect([...one('Abs', [i64([2], [-(2n ** 62n), 5])]).data]).toEqual([2n ** 62n, 5n]);
    expect([...one('Relu', [i64([2], [-3, 4])]).data]).toEqual([0n, 4n]);
  });
  it('IsNaN, IsInf and Not give bool', () => {
    const v = f32([4], [NaN, Infinity, -Infinity, 1]);
    const nan = one('IsNaN', [v]);
    expect(nan.dtype).toBe('bool');
    expect([...nan.data]).toEqual([1, 0, 0, 0]);
    expect([...one('IsInf', [v]).data]).toEqual([0, 1, 1, 0]);
    expect([...one('IsInf', [v], { detect_negative: 0 }).data]).toEqual([0, 1, 0, 0]);
    expect([...one('Not', [t('bool', [2], [0, 1])]).data]).toEqual([1, 0]);
  });
  it('rejects a float-only op on ints and a bad Gelu mode', () => {
    throwsCode(() => one('Exp', [t('int32', [1], [1])]), 'E_UNSUPPORTED_OP', 'Exp');
    throwsCode(() => one('Gelu', [f32([1], [1])], { approximate: 'erf' }), 'E_ATTR', 'approximate');
  });
});

describe('Clip', () => {
  it('clips with optional bounds', () => {
    const x = f32([4], [-2, 0, 2, 4]);
    close(one('Clip', [x, f32([], [-1]), f32([], [3])]), [-1, 0, 2, 3]);
    close(one('Clip', [x, undefined, f32([1], [1])]), [-2, 0, 1, 1]);
    close(one('Clip', [x]), [-2, 0, 2, 4]);
    close(one('Clip', [x, f32([], [2]), f32([], [1])]), [1, 1, 1, 1]);
  });
  it('clips ints and int64', () => {
    expect([...one('Clip', [t('int8', [3], [-100, 0, 100]), t('int8', [], [-5]), t('int8', [], [5])]).data]).toEqual([-5, 0, 5]);
    expect([...one('Clip', [i64([2], [-7, 7]), i64([], [0])]).data]).toEqual([0n, 7n]);
  });
  it('rejects non-scalar bounds', () => {
    throwsCode(() => one('Clip', [f32([2], [1, 2]), f32([2], [0, 0])]), 'E_SHAPE', 'min');
  });
});

describe('binary arithmetic', () => {
  it('adds with same shapes, a scalar, and a general broadcast', () => {
    close(one('Add', [f32([2, 2], [1, 2, 3, 4]), f32([2, 2], [10, 20, 30, 40])]), [11, 22, 33, 44]);
    close(one('Add', [f32([], [1]), f32([3], [1, 2, 3])]), [2, 3, 4]);
    // [2,1,3] + [4,1] → [2,4,3]: both inputs broadcast along different axes.
    const a = f32([2, 1, 3], [0, 1, 2, 3, 4, 5]);
    const b = f32([4, 1], [0, 10, 20, 30]);
    const out = one('Add', [a, b]);
    expect(out.shape).toEqual([2, 4, 3]);
    const want: number[] = [];
    for (let i = 0; i < 2; i++) for (let j = 0; j < 4; j++) for (let k = 0; k < 3; k++) want.push(i * 3 + k + j * 10);
    close(out, want);
  });
  it('broadcasts size-1 dims in the middle and empty tensors', () => {
    const out = one('Mul', [f32([2, 1, 2], [1, 2, 3, 4]), f32([1, 3, 1], [1, 10, 100])]);
    expect(out.shape).toEqual([2, 3, 2]);
    close(out, [1, 2, 10, 20, 100, 200, 3, 4, 30, 40, 300, 400]);
    expect(one('Add', [f32([0, 3], []), f32([3], [1, 2, 3])]).shape).toEqual([0, 3]);
  });
  it('rejects shapes that do not broadcast, naming the node', () => {
    throwsCode(() => one('Add', [f32([2, 3], [0, 0, 0, 0, 0, 0]), f32([2], [0, 0])]), 'E_SHAPE', 'Add_test');
    throwsCode(() => one('Add', [f32([1], [0]), t('int32', [1], [0])]), 'E_DTYPE', 'must match');
  });
  it('wraps integer arithmetic like the dtype', () => {
    expect([...one('Add', [t('uint8', [2], [250, 3]), t('uint8', [2], [10, 4])]).data]).toEqual([4, 7]);
    expect([...one('Mul', [t('int32', [1], [123456789]), t('int32', [1], [987654321])]).data]).toEqual([Math.imul(123456789, 987654321)]);
    expect([...one('Sub', [t('int8', [1], [-128]), t('int8', [1], [1])]).data]).toEqual([127]);
    expect([...one('Mul', [i64([1], [2n ** 62n]), i64([1], [4])]).data]).toEqual([0n]);
    expect([...one('Add', [i64([2], [2n ** 63n - 1n, 1]), i64([], [1])]).data]).toEqual([-(2n ** 63n), 2n]);
  });
  it('integer division truncates toward zero', () => {
    expect([...one('Div', [t('int32', [4], [7, -7, 7, -7]), t('int32', [4], [2, 2, -2, -2])]).data]).toEqual([3, -3, -3, 3]);
    expect([...one('Div', [i64([2], [-7, 9]), i64([2], [2, 0])]).data]).toEqual([-3n, 0n]);
    close(one('Div', [f32([1], [1]), f32([1], [4])]), [0.25]);
  });
  it('Mod follows the divisor sign unless fmod=1', () => {
    const a = t('int32', [4], [5, -5, 5, -5]), b = t('int32', [4], [3, 3, -3, -3]);
    expect([...one('Mod', [a, b]).data]).toEqual([2, 1, -1, -2]);
    expect([...one('Mod', [a, b], { fmod: 1 }).data]).toEqual([2, -2, 2, -2]);
    close(one('Mod', [f32([2], [5.5, -5.5]), f32([2], [2, 2])], { fmod: 1 }), [1.5, -1.5]);
    expect([...one('Mod', [i64([2], [-5, 5]), i64([2], [3, -3])]).data]).toEqual([1n, -1n]);
    throwsCode(() => one('Mod', [a, b], { fmod: 2 }), 'E_ATTR', 'fmod');
  });
  it('Pow with mixed base and exponent types', () => {
    close(one('Pow', [f32([3], [2, 4, -2]), f32([3], [3, 0.5, 2])]), [8, 2, 4]);
    close(one('Pow', [f32([2], [2, 3]), i64([2], [3, -1])]), [8, 1 / 3]);
    expect([...one('Pow', [t('int32', [3], [2, 3, -2]), t('int32', [3], [10, 2, 3])]).data]).toEqual([1024, 9, -8]);
    expect([...one('Pow', [t('int32', [2], [2, 3]), f32([2], [0.5, 2])]).data]).toEqual([1, 9]);
    expect([...one('Pow', [i64([2], [3, 2]), i64([2], [40, 64])]).data]).toEqual([BigInt.asIntN(64, 3n ** 40n), 0n]);
    expect(one('Pow', [t('int32', [1], [2]), f32([1], [2])]).dtype).toBe('int32');
  });
  it('PRelu broadcasts the slope to X only', () => {
    close(one('PRelu', [f32([2, 2], [-1, 2, -3, 4]), f32([2], [0.1, 0.2])]), [-0.1, 2, -0.3, 4]);
    throwsCode(() => one('PRelu', [f32([2], [-1, 1]), f32([2, 2], [1, 1, 1, 1])]), 'E_SHAPE', 'slope');
  });
  it('BitShift on uint8', () => {
    const x = t('uint8', [3], [16, 4, 1]), s = t('uint8', [3], [1, 2, 8]);
    expect([...one('BitShift', [x, s], { direction: 'RIGHT' }).data]).toEqual([8, 1, 0]);
    expect([...one('BitShift', [x, s], { direction: 'LEFT' }).data]).toEqual([32, 16, 0]);
    expect([...one('BitShift', [t('uint8', [1], [129]), t('uint8', [1], [1])], { direction: 'LEFT' }).data]).toEqual([2]);
    throwsCode(() => one('BitShift', [x, s], { direction: 'UP' }), 'E_ATTR', 'direction');
  });
  it('refuses quantized int8 inputs', () => {
    const q = t('int8', [1], [1]);
    q.quant = { scale: Float32Array.of(0.5), zeroPoint: Int32Array.of(0) };
    throwsCode(() => one('Add', [q, q]), 'E_UNSUPPORTED_OP', 'quantized');
  });
});

describe('comparisons, logic and Where', () => {
  it('compares to bool with broadcasting', () => {
    const a = f32([2, 2], [1, 2, 3, 4]), b = f32([2], [2, 3]);
    const gt = one('Greater', [a, b]);
    expect(gt.dtype).toBe('bool');
    expect([...gt.data]).toEqual([0, 0, 1, 1]);
    expect([...one('GreaterOrEqual', [a, b]).data]).toEqual([0, 0, 1, 1]);
    expect([...one('Less', [a, b]).data]).toEqual([1, 1, 0, 0]);
    expect([...one('LessOrEqual', [a, b]).data]).toEqual([1, 1, 0, 0]);
    expect([...one('Equal', [a, f32([], [3])]).data]).toEqual([0, 0, 1, 0]);
    expect([...one('Equal', [i64([2], [2n ** 60n, 1]), i64([2], [2n ** 60n, 2])]).data]).toEqual([1, 0]);
    expect([...one('Equal', [t('bool', [2], [1, 0]), t('bool', [2], [1, 1])]).data]).toEqual([1, 0]);
    expect([...one('Equal', [f32([1], [NaN]), f32([1], [NaN])]).data]).toEqual([0]);
  });
  it('And, Or, Xor', () => {
    const a = t('bool', [4], [0, 0, 1, 1]), b = t('bool', [4], [0, 1, 0, 1]);
    expect([...one('And', [a, b]).data]).toEqual([0, 0, 0, 1]);
    expect([...one('Or', [a, b]).data]).toEqual([0, 1, 1, 1]);
    expect([...one('Xor', [a, b]).data]).toEqual([0, 1, 1, 0]);
    throwsCode(() => one('And', [f32([1], [1]), f32([1], [1])]), 'E_UNSUPPORTED_OP');
  });
  it('Where broadcasts three ways and takes X type', () => {
    const c = t('bool', [2, 1], [1, 0]);
    const out = one('Where', [c, f32([3], [1, 2, 3]), f32([], [-1])]);
    expect(out.shape).toEqual([2, 3]);
    close(out, [1, 2, 3, -1, -1, -1]);
    const big = one('Where', [t('bool', [2], [0, 1]), i64([2], [1, 2]), i64([2], [3, 4])]);
    expect([...big.data]).toEqual([3n, 2n]);
    throwsCode(() => one('Where', [f32([1], [1]), f32([1], [1]), f32([1], [1])]), 'E_DTYPE', 'bool');
  });
});

describe('variadic Min/Max/Sum/Mean', () => {
  it('one, two and three inputs with broadcasting', () => {
    close(one('Max', [f32([3], [1, 5, 3])]), [1, 5, 3]);
    close(one('Max', [f32([3], [1, 5, 3]), f32([1], [2])]), [2, 5, 3]);
    close(one('Min', [f32([3], [1, 5, 3]), f32([], [4]), f32([2, 1], [0, 10])]), [0, 0, 0, 1, 4, 3]);
    close(one('Sum', [f32([2], [1, 2]), f32([2, 1], [10, 20]), f32([], [100])]), [111, 112, 121, 122]);
    close(one('Mean', [f32([2], [1, 2]), f32([2], [3, 6])]), [2, 4]);
    expect([...one('Max', [i64([2], [-1, 5]), i64([2], [3, 2])]).data]).toEqual([3n, 5n]);
    close(one('Max', [f32([1], [NaN]), f32([1], [1])]), [NaN]);
  });
});

describe('Cast', () => {
  it('float to int truncates toward zero, int64 stays exact', () => {
    expect([...one('Cast', [f32([4], [1.9, -1.9, 2.5, -0.5])], { to: 'int32' }).data]).toEqual([1, -1, 2, 0]);
    expect([...one('Cast', [f32([2], [-2.7, 3e9])], { to: 'int64' }).data]).toEqual([-2n, 3000000000n]);
    expect([...one('Cast', [i64([1], [2n ** 60n + 1n])], { to: 'int64' }).data]).toEqual([2n ** 60n + 1n]);
    expect([...one('Cast', [i64([1], [2n ** 32n + 5n])], { to: 'int32' }).data]).toEqual([5]);
    close(one('Cast', [i64([1], [-3])], { to: 'float32' }), [-3]);
    expect([...one('Cast', [f32([3], [0, -0.1, NaN])], { to: 'bool' }).data]).toEqual([0, 1, 1]);
    expect([...one('Cast', [t('bool', [2], [1, 0])], { to: 'float64' }).data]).toEqual([1, 0]);
    expect(one('Cast', [f32([1], [1])], { to: 'uint8' }).dtype).toBe('uint8');
  });
  it('rejects an unknown target', () => {
    throwsCode(() => one('Cast', [f32([1], [1])], { to: 'float16' }), 'E_ATTR', '"to"');
  });
  it('CastLike takes the dtype of its second input', () => {
    const out = one('CastLike', [f32([2], [1.5, -2.5]), t('int8', [0], [])]);
    expect(out.dtype).toBe('int8');
    expect([...out.data]).toEqual([1, -2]);
  });
  it('castInto wraps out-of-range integers', () => {
    const dst = new Int8Array(2);
    castInto(Int32Array.of(200, -129), 'int32', dst, 'int8');
    expect([...dst]).toEqual([-56, 127]);
  });
});

const NODE_TESTS = `abs acos acos_example acosh acosh_example add add_bcast add_uint8 and2d and3d and4d and_bcast3v1d and_bcast3v2d
and_bcast4v2d and_bcast4v3d and_bcast4v4d asin asin_example asinh asinh_example atan atan_example atanh atanh_example
bitshift_left_uint8 bitshift_right_uint8 cast_DOUBLE_to_FLOAT cast_FLOAT_to_DOUBLE ceil ceil_example celu clip
clip_default_inbounds clip_default_int8_inbounds clip_default_int8_max clip_default_int8_min clip_default_max clip_default_min
clip_example clip_inbounds clip_outbounds clip_splitbounds cos cos_example cosh cosh_example div div_bcast div_example div_uint8
elu elu_default elu_example equal equal_bcast erf exp exp_example floor floor_example greater greater_bcast greater_equal
greater_equal_bcast hardsigmoid hardsigmoid_default hardsigmoid_example hardswish isinf isinf_negative isinf_positive isnan
leakyrelu leakyrelu_default leakyrelu_example less less_bcast less_equal less_equal_bcast log log_example max_example max_float32
max_float64 max_int16 max_int32 max_int64 max_int8 max_one_input max_two_inputs max_uint8 mean_example mean_one_input
mean_two_inputs min_example min_float32 min_float64 min_int16 min_int32 min_int64 min_int8 min_one_input min_two_inputs min_uint8
mod_broadcast mod_int64_fmod mod_mixed_sign_float32 mod_mixed_sign_float64 mod_mixed_sign_int16 mod_mixed_sign_int32
mod_mixed_sign_int64 mod_mixed_sign_int8 mod_uint8 mul mul_bcast mul_example neg neg_example not_2d not_3d not_4d or2d or3d or4d
or_bcast3v1d or_bcast3v2d or_bcast4v2d or_bcast4v3d or_bcast4v4d pow pow_bcast_array pow_bcast_scalar pow_example pow_types_float
pow_types_float32_int32 pow_types_float32_int64 pow_types_int pow_types_int32_float32 pow_types_int32_int32 pow_types_int64_float32
pow_types_int64_int64 prelu_broadcast prelu_example reciprocal reciprocal_example relu round selu selu_default selu_example sigmoid
sigmoid_example sign sin sin_example sinh sinh_example softplus softplus_example softsign softsign_example sqrt sqrt_example sub
sub_bcast sub_example sub_uint8 sum_example sum_one_input sum_two_inputs tan tan_example tanh thresholdedrelu
thresholdedrelu_default thresholdedrelu_example where_example where_long_example xor2d xor3d xor4d xor_bcast3v1d xor_bcast3v2d
xor_bcast4v2d xor_bcast4v3d xor_bcast4v4d`.split(/\s+/).map((n) => `test_${n}`);

describe.skipIf(!existsSync(NODE_TEST_ROOT))('ONNX backend node tests (libonnx-testdata)', () => {
  it.each(NODE_TESTS)('%s', (name) => {
    expect(checkNodeTest(name), `${name} is missing from ${NODE_TEST_ROOT}`).toBe(true);
  });
});
