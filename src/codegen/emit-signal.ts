/**
 * Emitters of the TFLM Signal ops (src/kernels/ref/signal.ts) and of the plain
 * int32/int64 ops of the audio preprocessor's graph (Cast, Add, Sub, Mul, Div,
 * Min, Max, Concat), calling the pieces of c-signal.ts. Constants come from the
 * nodes' attributes and the reference kernels' prepared state (the FFT's
 * twiddles are the engine's own tables). SignalFilterBankSpectralSubtraction
 * keeps a noise estimate from one invoke to the next: it is declared as package
 * state (EmitContext.state), zeroed by `<name>_reset()`.
 */
import { CloudlessError, attrInt, sizeOf, type Node, type Tensor } from '../ir/index.js';
import type { RfftInt16, SpectralSubtractionConfig } from '../ir/signal.js';
import type { PlanStep } from '../runtime/plan.js';
import { CAST_TO_FLOAT, INT_TYPES } from './c-signal.js';
import { intLiteral } from './c-data.js';

/** What these emitters ask of the graph emitter (a subset of emit-node.ts's EmitContext). */
export interface SignalEmitContext {
  pointer(t: Tensor | undefined, mutable: boolean): string;
  int16Table(hint: string, values: Int16Array): string;
  paramsName: string;
  isConstant(t: Tensor): boolean;
  /** Declares zero-initialized mutable storage carried across invokes (reset by `<name>_reset()`). */
  state(hint: string, ctype: string, count: number, elementBytes: number): string;
  /** Declares mutable scratch storage, used within one node's call only. */
  scratch(hint: string, ctype: string, count: number, elementBytes: number): string;
}

export interface SignalEmitted { pieces: string[]; definitions: string; call: string }
type SignalEmitter = (step: PlanStep, ctx: SignalEmitContext) => SignalEmitted;

function refuse(node: Node, why: string): never {
  throw new CloudlessError('E_UNSUPPORTED_OP', `node ${node.name} (${node.op}): the C generator cannot emit it: ${why}`, {
    node: node.name, hint: 'docs/micro.md lists the ops and dtypes the C target emits',
  });
}

function dtypeIs(node: Node, t: Tensor | undefined, dtype: string, what: string): Tensor {
  if (!t || t.dtype !== dtype) refuse(node, `${what} must be ${dtype}, not ${t?.dtype ?? 'absent'}`);
  return t;
}

function constant(node: Node, ctx: SignalEmitContext, t: Tensor | undefined, what: string): Tensor {
  if (!t || !ctx.isConstant(t)) refuse(node, `${what} must be a constant`);
  return t;
}

function inRange(node: Node, what: string, v: number, lo: number, hi: number): number {
  if (!Number.isInteger(v) || v < lo || v > hi) refuse(node, `${what} ${v} is outside ${lo}..${hi}`);
  return v;
}

const lastDim = (t: Tensor) => t.shape[t.shape.length - 1] ?? 1;

function struct(type: string, name: string, fields: Record<string, string | number>): string {
  const body = Object.entries(fields).map(([k, v]) => `  .${k} = ${typeof v === 'number' ? intLiteral(v) : v},`).join('\n');
  return `static const ${type} ${name} = {\n${body}\n};\n`;
}

const windowOp: SignalEmitter = (step, ctx) => {
  const node = step.node;
  const x = dtypeIs(node, step.inputs[0], 'int16', 'the input');
  const w = dtypeIs(node, constant(node, ctx, step.inputs[1], 'the window'), 'int16', 'the window');
  const len = w.size;
  if (len === 0 || x.size % len !== 0) refuse(node, `the input (${x.size} samples) is not whole rows of the window's ${len}`);
  const shift = inRange(node, 'shift', attrInt(node, 'shift'), 0, 31);
  return {
    pieces: ['signal_window'], definitions: '',
    call: `cl_signal_window(${x.size / len}, ${len}, ${shift}, ${ctx.pointer(x, false)}, ${ctx.pointer(w, false)}, ${ctx.pointer(step.outputs[0], true)});`,
  };
};

const fftAutoScaleOp: SignalEmitter = (step, ctx) => {
  const node = step.node;
  const x = dtypeIs(node, step.inputs[0], 'int16', 'the input');
  dtypeIs(node, step.outputs[1], 'int32', 'the shift output');
  return {
    pieces: ['signal_fft_auto_scale'], definitions: '',
    call: `cl_signal_fft_auto_scale(${x.size}, ${ctx.pointer(x, false)}, ${ctx.pointer(step.outputs[0], true)}, ${ctx.pointer(step.outputs[1], true)});`,
  };
};

const rfftOp: SignalEmitter = (step, ctx) => {
  const node = step.node;
  const st = step.state as { fft?: RfftInt16 };
  if (!st?.fft) refuse(node, 'the reference kernel holds no FFT plan');
  const x = dtypeIs(node, step.inputs[0], 'int16', 'the input');
  const y = dtypeIs(node, step.outputs[0], 'int16', 'the output');
  const { factors, twR, twI, superR, superI } = st.fft.tables();
  const n = st.fft.fftLength >> 1;
  const inLen = lastDim(x), outLen = lastDim(y);
  if (factors.length > 32) refuse(node, `an FFT of ${factors.length / 2} stages (the C plan holds 16)`);
  if (inLen > st.fft.fftLength) refuse(node, `rows of ${inLen} samples are longer than fft_length ${st.fft.fftLength}`);
  if (outLen !== 2 * n + 2 || x.size / inLen !== y.size / outLen) refuse(node, `output rows of ${outLen} values for an FFT of ${2 * n} (expected ${2 * n + 2})`);
  const definitions = struct('cl_signal_rfft_params', ctx.paramsName, {
    rows: x.size / inLen, in_len: inLen, out_len: outLen, n,
    factors: `{ ${factors.join(', ')} }`,
    tw_r: ctx.int16Table('tw_r', twR), tw_i: ctx.int16Table('tw_i', twI),
    super_r: ctx.int16Table('super_r', superR), super_i: ctx.int16Table('super_i', superI),
    buf_r: ctx.scratch('buf_r', 'int16_t', n, 2), buf_i: ctx.scratch('buf_i', 'int16_t', n, 2),
  });
  return { pieces: ['signal_rfft'], definitions, call: `cl_signal_rfft(&${ctx.paramsName}, ${ctx.pointer(x, false)}, ${ctx.pointer(y, true)});` };
};

const energyOp: SignalEmitter = (step, ctx) => {
  const node = step.node;
  const x = dtypeIs(node, step.inputs[0], 'int16', 'the spectrum');
  const y = dtypeIs(node, step.outputs[0], 'int64', 'the output');
  const bins = y.size;
  const start = inRange(node, 'start_index', attrInt(node, 'start_index'), 0, bins);
  const end = inRange(node, 'end_index', attrInt(node, 'end_index'), start, bins);
  if (2 * end > x.size) refuse(node, `end_index ${end} reads past the spectrum's ${x.size / 2} bins`);
  return {
    pieces: ['signal_energy'], definitions: '',
    call: `cl_signal_energy(${bins}, ${start}, ${end}, ${ctx.pointer(x, false)}, ${ctx.pointer(y, true)});`,
  };
};

const filterBankOp: SignalEmitter = (step, ctx) => {
  const node = step.node;
  const x = dtypeIs(node, step.inputs[0], 'int64', 'the energy');
  const y = dtypeIs(node, step.outputs[0], 'int64', 'the output');
  const numChannels = attrInt(node, 'num_channels');
  const names = ['weights', 'unweights', 'channel_frequency_starts', 'channel_weight_starts', 'channel_widths'];
  const tables = names.map((what, k) => dtypeIs(node, constant(node, ctx, step.inputs[k + 1], what), 'int16', what));
  const [weights, unweights, fStarts, wStarts, widths] = tables.map((t) => t.data as Int16Array) as [Int16Array, Int16Array, Int16Array, Int16Array, Int16Array];
  if (numChannels < 1 || y.size !== numChannels || fStarts.length <= numChannels || wStarts.length <= numChannels || widths.length <= numChannels) {
    refuse(node, `num_channels ${numChannels} does not match the output (${y.size}) and the channel tables`);
  }
  // Every read the C makes is checked here, once: a table that points outside the energy or the weights is refused.
  for (let i = 0; i <= numChannels; i++) {
    const f0 = fStarts[i]!, w0 = wStarts[i]!, width = widths[i]!;
    if (width < 0 || f0 < 0 || w0 < 0 || f0 + width > x.size || w0 + width > weights.length || w0 + width > unweights.length) {
      refuse(node, `channel ${i} (start ${f0}, weights at ${w0}, width ${width}) reads outside the ${x.size} bins or ${weights.length} weights`);
    }
  }
  const definitions = struct('cl_signal_filter_bank_params', ctx.paramsName, {
    num_channels: numChannels,
    weights: ctx.pointer(tables[0], false), unweights: ctx.pointer(tables[1], false),
    channel_frequency_starts: ctx.pointer(tables[2], false), channel_weight_starts: ctx.pointer(tables[3], false),
    channel_widths: ctx.pointer(tables[4], false),
  });
  return { pieces: ['signal_filter_bank'], definitions, call: `cl_signal_filter_bank(&${ctx.paramsName}, ${ctx.pointer(x, false)}, ${ctx.pointer(y, true)});` };
};

const sqrtOp: SignalEmitter = (step, ctx) => {
  const node = step.node;
  const x = dtypeIs(node, step.inputs[0], 'int64', 'the input');
  const bits = dtypeIs(node, step.inputs[1], 'int32', 'the scale bits');
  if (bits.size < 1) refuse(node, 'the scale bits tensor is empty');
  return {
    pieces: ['signal_sqrt'], definitions: '',
    call: `cl_signal_filter_bank_sqrt(${x.size}, ${ctx.pointer(x, false)}, ${ctx.pointer(bits, false)}, ${ctx.pointer(step.outputs[0], true)});`,
  };
};

const spectralSubtractionOp: SignalEmitter = (step, ctx) => {
  const node = step.node;
  const st = step.state as { cfg?: SpectralSubtractionConfig };
  const cfg = st?.cfg;
  if (!cfg) refuse(node, 'the reference kernel holds no configuration');
  const x = dtypeIs(node, step.inputs[0], 'int64', 'the input');
  const n = cfg.numChannels;
  if (n < 1 || x.size < n || step.outputs.length < 2 || step.outputs[0]!.size < n || step.outputs[1]!.size < n) {
    refuse(node, `num_channels ${n} does not match its tensors`);
  }
  // The engine's arithmetic (signal.ts spectralSubtraction) is exact in doubles for coefficients below 2^16.
  const coeff = (what: string, v: number) => inRange(node, what, v, 0, 65536);
  const definitions = struct('cl_signal_spectral_subtraction_params', ctx.paramsName, {
    num_channels: n,
    smoothing: `${coeff('smoothing', cfg.smoothing)}u`, one_minus_smoothing: `${coeff('one_minus_smoothing', cfg.oneMinusSmoothing)}u`,
    alternate_smoothing: `${coeff('alternate_smoothing', cfg.alternateSmoothing)}u`,
    alternate_one_minus_smoothing: `${coeff('alternate_one_minus_smoothing', cfg.alternateOneMinusSmoothing)}u`,
    min_signal_remaining: `${coeff('min_signal_remaining', cfg.minSignalRemaining)}u`,
    smoothing_bits: inRange(node, 'smoothing_bits', cfg.smoothingBits, 0, 31),
    spectral_subtraction_bits: inRange(node, 'spectral_subtraction_bits', cfg.spectralSubtractionBits, 0, 63),
    clamping: cfg.clamping ? 1 : 0,
    noise_estimate: ctx.state('noise_estimate', 'uint32_t', n, 4),
  });
  return {
    pieces: ['signal_spectral_subtraction'], definitions,
    call: `cl_signal_spectral_subtraction(&${ctx.paramsName}, ${ctx.pointer(x, false)}, ${ctx.pointer(step.outputs[0], true)}, ${ctx.pointer(step.outputs[1], true)});`,
  };
};

const pcanOp: SignalEmitter = (step, ctx) => {
  const node = step.node;
  const signal = dtypeIs(node, step.inputs[0], 'int64', 'the signal');
  const noise = dtypeIs(node, step.inputs[1], 'int64', 'the noise estimate');
  const lut = dtypeIs(node, constant(node, ctx, step.inputs[2], 'the gain table'), 'int16', 'the gain table');
  // The gain function reads lut[4 * interval - 4] for intervals up to 32.
  if (lut.size < 125) refuse(node, `the gain table has ${lut.size} entries (it needs 125)`);
  if (noise.size < signal.size) refuse(node, `the noise estimate (${noise.size}) is shorter than the signal (${signal.size})`);
  const shift = inRange(node, 'snr_shift', attrInt(node, 'snr_shift'), 0, 63);
  return {
    pieces: ['signal_pcan'], definitions: '',
    call: `cl_signal_pcan(${signal.size}, ${ctx.pointer(lut, false)}, ${shift}, ${ctx.pointer(signal, false)}, ${ctx.pointer(noise, false)}, ${ctx.pointer(step.outputs[0], true)});`,
  };
};

const logOp: SignalEmitter = (step, ctx) => {
  const node = step.node;
  const x = dtypeIs(node, step.inputs[0], 'int64', 'the input');
  dtypeIs(node, step.outputs[0], 'int16', 'the output');
  const scale = inRange(node, 'output_scale', attrInt(node, 'output_scale'), 0, 2147483647);
  const bits = inRange(node, 'input_correction_bits', attrInt(node, 'input_correction_bits'), 0, 31);
  return {
    pieces: ['signal_log'], definitions: '',
    call: `cl_signal_filter_bank_log(${x.size}, ${scale}u, ${bits}, ${ctx.pointer(x, false)}, ${ctx.pointer(step.outputs[0], true)});`,
  };
};

// ---------------------------------------------------------------- plain integer ops

const SUFFIX: Readonly<Record<string, string>> = { int8: 's8', int16: 's16', int32: 's32', int64: 's64' };

const castOp: SignalEmitter = (step, ctx) => {
  const x = step.inputs[0]!, y = step.outputs[0]!;
  if (y.dtype === 'float32') {
    const from = SUFFIX[x.dtype];
    if (!from || !(CAST_TO_FLOAT as readonly string[]).includes(from)) refuse(step.node, `a Cast from ${x.dtype} to float32 (int8, int16 and int32 only)`);
    if (x.quant) refuse(step.node, 'a Cast of a quantized tensor');
    return { pieces: [`cast_${from}_f32`], definitions: '', call: `cl_cast_${from}_f32(${y.size}, ${ctx.pointer(x, false)}, ${ctx.pointer(y, true)});` };
  }
  const from = SUFFIX[x.dtype], to = SUFFIX[y.dtype];
  if (!from || !to || !INT_TYPES[from] || !INT_TYPES[to]) refuse(step.node, `a Cast from ${x.dtype} to ${y.dtype} (integer casts only)`);
  if (x.quant || y.quant) refuse(step.node, 'a Cast of a quantized tensor');
  if (from === to) refuse(step.node, `a Cast from ${x.dtype} to itself`);
  return { pieces: [`cast_${from}_${to}`], definitions: '', call: `cl_cast_${from}_${to}(${y.size}, ${ctx.pointer(x, false)}, ${ctx.pointer(y, true)});` };
};

/** int32 (binary_s32) or float32 (binary_f32) elementwise arithmetic with a scalar or same-shaped operand. */
function binaryPlain(op: 'ADD' | 'SUB' | 'MUL' | 'DIV' | 'MIN' | 'MAX', suffix: 's32' | 'f32' = 's32'): SignalEmitter {
  return (step, ctx) => {
    const y = step.outputs[0]!;
    const [a, b] = step.inputs;
    if (step.inputs.length !== 2 || !a || !b) refuse(step.node, 'only two operands are emitted');
    for (const t of [a, b, y]) if (t.quant) refuse(step.node, `a quantized ${suffix === 's32' ? 'int32' : 'float32'} tensor`);
    const stepOf = (t: Tensor) => (t.size === 1 ? 0 : t.size === y.size && sizeOf(t.shape) === y.size && t.shape.length <= y.shape.length ? 1 : -1);
    const sa = stepOf(a), sb = stepOf(b);
    if (sa < 0 || sb < 0 || (sa === 1 && a.shape.join() !== y.shape.slice(y.shape.length - a.shape.length).join()) || (sb === 1 && b.shape.join() !== y.shape.slice(y.shape.length - b.shape.length).join())) {
      refuse(step.node, `broadcasting [${a.shape}] with [${b.shape}] (the ${suffix === 's32' ? 'int32' : 'float32'} kernel takes a scalar or same-shaped operand)`);
    }
    const up = suffix.toUpperCase();
    return {
      pieces: [`binary_${suffix}`], definitions: '',
      call: `cl_binary_${suffix}(CL_${up}_${op}, ${y.size}, ${ctx.pointer(a, false)}, ${sa}, ${ctx.pointer(b, false)}, ${sb}, ${ctx.pointer(y, true)});`,
    };
  };
}

function concatInt(suffix: 's32' | 's64'): SignalEmitter {
  return (step, ctx) => {
    const y = step.outputs[0]!;
    const rank = y.shape.length;
    let axis = attrInt(step.node, 'axis');
    if (axis < 0) axis += rank;
    const outer = sizeOf(y.shape.slice(0, axis)), outBlock = sizeOf(y.shape.slice(axis));
    let start = 0;
    const calls: string[] = [];
    for (const x of step.inputs) {
      if (!x) continue;
      if (x.quant) refuse(step.node, 'a quantized integer Concat');
      const block = sizeOf(x.shape.slice(axis));
      if (block > 0) calls.push(`cl_concat_part_${suffix}(${outer}, ${block}, ${outBlock}, ${start}, ${ctx.pointer(x, false)}, ${ctx.pointer(y, true)});`);
      start += block;
    }
    if (start !== outBlock) refuse(step.node, `the inputs' ${start} elements per block do not fill the output's ${outBlock}`);
    return { pieces: [`concat_${suffix}`], definitions: '', call: calls.join('\n  ') };
  };
}

/** Emitters by `op/dtype` of the node's first output. */
export const SIGNAL_EMITTERS: ReadonlyArray<[string, SignalEmitter]> = [
  ['tflite.custom.SignalWindow/int16', windowOp],
  ['tflite.custom.SignalFftAutoScale/int16', fftAutoScaleOp],
  ['tflite.custom.SignalRfft/int16', rfftOp],
  ['tflite.custom.SignalEnergy/int64', energyOp],
  ['tflite.custom.SignalFilterBank/int64', filterBankOp],
  ['tflite.custom.SignalFilterBankSquareRoot/int64', sqrtOp],
  ['tflite.custom.SignalFilterBankSpectralSubtraction/int64', spectralSubtractionOp],
  ['tflite.custom.SignalPCAN/int64', pcanOp],
  ['tflite.custom.SignalFilterBankLog/int16', logOp],
  ...['int8', 'int16', 'int32', 'int64', 'float32'].map((d) => [`Cast/${d}`, castOp] as [string, SignalEmitter]),
  ['Add/float32', binaryPlain('ADD', 'f32')], ['Sub/float32', binaryPlain('SUB', 'f32')],
  ['Mul/float32', binaryPlain('MUL', 'f32')],
  ['Add/int32', binaryPlain('ADD')], ['Sub/int32', binaryPlain('SUB')], ['Mul/int32', binaryPlain('MUL')],
  ['Div/int32', binaryPlain('DIV')], ['Min/int32', binaryPlain('MIN')], ['Max/int32', binaryPlain('MAX')],
  ['Concat/int32', concatInt('s32')], ['Concat/int64', concatInt('s64')],
];
