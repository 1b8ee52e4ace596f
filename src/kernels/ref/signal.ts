/**
 * Reference kernels of the TFLite Micro "Signal" custom ops, as used by TFLM's
 * audio_preprocessor models: wrappers that read the ops' attributes and
 * tensors and call the arithmetic of src/ir/signal.ts (re-exported here).
 *
 * uint32/uint64 tensors of the TFLite file are int64 in cloudless (no unsigned
 * 32/64-bit dtype); the kernels read and write them as BigInt64Array.
 */
import {
  CloudlessError, attrInt, defineKernel,
  type KernelDef, type Node, type Tensor,
} from '../../ir/index.js';
import {
  RfftInt16, applyWindow, fftAutoScale, filterBankAccumulate, filterBankLog, filterBankSqrt, pcanAutoGainControl,
  spectralSubtraction, spectrumToEnergy, type SpectralSubtractionConfig,
} from '../../ir/signal.js';

export * from '../../ir/signal.js';

// ---------------------------------------------------------------- kernels

function int64ToUint32(src: BigInt64Array, dst: Uint32Array, offset: number, n: number): void {
  for (let i = 0; i < n; i++) dst[i] = Number(BigInt.asUintN(32, src[offset + i]!));
}

function uint32ToInt64(src: Uint32Array, dst: BigInt64Array, offset: number, n: number): void {
  for (let i = 0; i < n; i++) dst[offset + i] = BigInt(src[i]!);
}

function lastDim(t: { shape: readonly number[] }): number {
  return t.shape[t.shape.length - 1] ?? 1;
}

function int16Data(t: Tensor | undefined, node: Node, what: string): Int16Array {
  if (!t || !(t.data instanceof Int16Array)) {
    throw new CloudlessError('E_DTYPE', `node ${node.name} (${node.op}): ${what} must be int16`, { node: node.name });
  }
  return t.data;
}

const windowKernel = defineKernel<undefined>({
  op: 'tflite.custom.SignalWindow',
  backend: 'ref',
  dtypes: ['int16'],
  run(inputs, outputs, node) {
    const x = inputs[0]!.data as Int16Array, w = int16Data(inputs[1], node, 'the window');
    const out = outputs[0]!.data as Int16Array;
    const shift = attrInt(node, 'shift');
    const len = w.length;
    for (let off = 0; off < x.length; off += len) {
      applyWindow(x.subarray(off, off + len), w, shift, out.subarray(off, off + len), len);
    }
  },
});

const fftAutoScaleKernel = defineKernel<undefined>({
  op: 'tflite.custom.SignalFftAutoScale',
  backend: 'ref',
  dtypes: ['int16'],
  run(inputs, outputs) {
    const x = inputs[0]!.data as Int16Array;
    (outputs[1]!.data as Int32Array)[0] = fftAutoScale(x, outputs[0]!.data as Int16Array, x.length);
  },
});

interface RfftState { fft: RfftInt16; padded: Int16Array }

const rfftKernel = defineKernel<RfftState>({
  op: 'tflite.custom.SignalRfft',
  backend: 'ref',
  dtypes: ['int16'],
  prepare({ node }) {
    const fft = new RfftInt16(attrInt(node, 'fft_length'));
    return { state: { fft, padded: new Int16Array(fft.fftLength) }, scratchBytes: fft.fftLength * 6 };
  },
  run(inputs, outputs, _node, st) {
    const x = inputs[0]!.data as Int16Array, out = outputs[0]!.data as Int16Array;
    const inLen = lastDim(inputs[0]!), outLen = lastDim(outputs[0]!);
    for (let i = 0, o = 0; i < x.length; i += inLen, o += outLen) {
      st.padded.fill(0);
      st.padded.set(x.subarray(i, i + inLen));
      st.fft.apply(st.padded, out, o);
    }
  },
});

interface EnergyState { energy: Uint32Array }

const energyKernel = defineKernel<EnergyState>({
  op: 'tflite.custom.SignalEnergy',
  backend: 'ref',
  dtypes: ['int16'],
  prepare({ outputs }) {
    return { state: { energy: new Uint32Array(outputs[0]!.shape[0]!) } };
  },
  run(inputs, outputs, node, st) {
    // TFLM leaves bins outside [start, end) untouched (arena garbage); they are 0 here.
    st.energy.fill(0);
    spectrumToEnergy(inputs[0]!.data as Int16Array, attrInt(node, 'start_index'), attrInt(node, 'end_index'), st.energy);
    uint32ToInt64(st.energy, outputs[0]!.data as BigInt64Array, 0, st.energy.length);
  },
});

interface FilterBankState { energy: Uint32Array }

const filterBankKernel = defineKernel<FilterBankState>({
  op: 'tflite.custom.SignalFilterBank',
  backend: 'ref',
  dtypes: ['int64'],
  prepare({ inputs }) {
    return { state: { energy: new Uint32Array(inputs[0]!.shape[0]!) } };
  },
  run(inputs, outputs, node, st) {
    const x = inputs[0]!.data as BigInt64Array;
    int64ToUint32(x, st.energy, 0, x.length);
    filterBankAccumulate({
      numChannels: attrInt(node, 'num_channels'),
      weights: int16Data(inputs[1], node, 'weights'),
      unweights: int16Data(inputs[2], node, 'unweights'),
      channelFrequencyStarts: int16Data(inputs[3], node, 'channel_frequency_starts'),
      channelWeightStarts: int16Data(inputs[4], node, 'channel_weight_starts'),
      channelWidths: int16Data(inputs[5], node, 'channel_widths'),
    }, st.energy, outputs[0]!.data as BigInt64Array);
  },
});

interface Uint32Scratch { out: Uint32Array }

const filterBankSqrtKernel = defineKernel<Uint32Scratch>({
  op: 'tflite.custom.SignalFilterBankSquareRoot',
  backend: 'ref',
  dtypes: ['int64'],
  prepare({ inputs }) {
    return { state: { out: new Uint32Array(inputs[0]!.shape[0]!) } };
  },
  run(inputs, outputs, _node, st) {
    const x = inputs[0]!.data as BigInt64Array;
    const bits = Number((inputs[1]!.data as ArrayLike<number | bigint>)[0]!);
    filterBankSqrt(x, 0, x.length, bits, st.out);
    uint32ToInt64(st.out, outputs[0]!.data as BigInt64Array, 0, x.length);
  },
});

function spectralSubtractionConfig(node: Node): SpectralSubtractionConfig {
  return {
    numChannels: attrInt(node, 'num_channels'),
    smoothing: attrInt(node, 'smoothing'),
    oneMinusSmoothing: attrInt(node, 'one_minus_smoothing'),
    alternateSmoothing: attrInt(node, 'alternate_smoothing'),
    alternateOneMinusSmoothing: attrInt(node, 'alternate_one_minus_smoothing'),
    minSignalRemaining: attrInt(node, 'min_signal_remaining'),
    smoothingBits: attrInt(node, 'smoothing_bits'),
    spectralSubtractionBits: attrInt(node, 'spectral_subtraction_bits'),
    clamping: attrInt(node, 'clamping', 0) !== 0,
  };
}

interface SpectralSubtractionState {
  cfg: SpectralSubtractionConfig;
  input: Uint32Array;
  output: Uint32Array;
  /** Carried across runs of the session, as TFLM keeps it across invocations; a new plan starts from zero. */
  noise: Uint32Array;
}

const spectralSubtractionKernel = defineKernel<SpectralSubtractionState>({
  op: 'tflite.custom.SignalFilterBankSpectralSubtraction',
  backend: 'ref',
  dtypes: ['int64'],
  prepare({ node }) {
    const cfg = spectralSubtractionConfig(node);
    const n = cfg.numChannels;
    return {
      state: { cfg, input: new Uint32Array(n), output: new Uint32Array(n), noise: new Uint32Array(n) },
      scratchBytes: 12 * n,
    };
  },
  run(inputs, outputs, _node, st) {
    const n = st.cfg.numChannels;
    int64ToUint32(inputs[0]!.data as BigInt64Array, st.input, 0, n);
    spectralSubtraction(st.cfg, st.input, st.output, st.noise);
    uint32ToInt64(st.output, outputs[0]!.data as BigInt64Array, 0, n);
    uint32ToInt64(st.noise, outputs[1]!.data as BigInt64Array, 0, n);
  },
});

interface PcanState { signal: Uint32Array; noise: Uint32Array }

const pcanKernel = defineKernel<PcanState>({
  op: 'tflite.custom.SignalPCAN',
  backend: 'ref',
  dtypes: ['int64'],
  prepare({ inputs }) {
    const n = inputs[0]!.shape[0]!;
    return { state: { signal: new Uint32Array(n), noise: new Uint32Array(n) } };
  },
  run(inputs, outputs, node, st) {
    const n = st.signal.length;
    int64ToUint32(inputs[0]!.data as BigInt64Array, st.signal, 0, n);
    int64ToUint32(inputs[1]!.data as BigInt64Array, st.noise, 0, n);
    pcanAutoGainControl(int16Data(inputs[2], node, 'the gain table'), attrInt(node, 'snr_shift'), st.noise, st.signal, n);
    uint32ToInt64(st.signal, outputs[0]!.data as BigInt64Array, 0, n);
  },
});

const filterBankLogKernel = defineKernel<Uint32Scratch>({
  op: 'tflite.custom.SignalFilterBankLog',
  backend: 'ref',
  dtypes: ['int64'],
  prepare({ inputs }) {
    return { state: { out: new Uint32Array(inputs[0]!.shape[0]!) } };
  },
  run(inputs, outputs, node, st) {
    const n = st.out.length;
    int64ToUint32(inputs[0]!.data as BigInt64Array, st.out, 0, n);
    filterBankLog(st.out, n, attrInt(node, 'output_scale'), attrInt(node, 'input_correction_bits'), outputs[0]!.data as Int16Array);
  },
});

export const signalKernels: readonly KernelDef[] = [
  windowKernel,
  fftAutoScaleKernel,
  rfftKernel,
  energyKernel,
  filterBankKernel,
  filterBankSqrtKernel,
  spectralSubtractionKernel,
  pcanKernel,
  filterBankLogKernel,
];
