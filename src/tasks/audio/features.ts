/**
 * The streaming audio front end of TFLM's micro_speech: 16-bit samples in,
 * one int8 feature vector (40 log-mel channels with noise suppression and
 * PCAN gain control) out per stride (20 ms), with bounded memory.
 *
 * Per frame of frameLength samples (30 ms):
 *   window (Q12 Hann, >> shift) → auto scale → 16-bit real FFT → |X|² →
 *   mel filter bank (uint64) → sqrt, undo the auto scale → spectral subtraction
 *   (noise floor carried across frames) → PCAN gain → log → int8 quantization.
 *
 * Every step is the integer arithmetic of the Signal kernels in
 * kernels/ref/signal.ts, so the features equal, bit for bit, what
 * audio_preprocessor_int8.tflite computes on the same frames (through cloudless
 * or TFLM). The parameters (window, filter bank tables, smoothing constants,
 * PCAN table, output quantization) are read from that preprocessor model, which
 * is their specification; the stride is the application's choice (the model
 * sees one frame at a time).
 *
 * Memory: one frame of samples plus fixed scratch, whatever the stream length.
 */
import { CloudlessError, attrInt, type Graph, type Node, type Tensor } from '../../ir/index.js';
import {
  RfftInt16, applyWindow, fftAutoScale, filterBankAccumulate, filterBankAccumulateDouble, filterBankLog, filterBankSqrt,
  filterBankSqrtDouble,
  pcanAutoGainControl, spectralSubtraction, spectrumToEnergy,
  type FilterBankConfig, type SpectralSubtractionConfig,
} from '../../ir/signal.js';

/** One integer step of the preprocessor's output quantization (int32 semantics, TFLite ops). */
export type QuantizeStep = { op: 'Mul' | 'Add' | 'Div' | 'Min' | 'Max'; value: number };

export interface MicroFrontendConfig {
  sampleRate: number;
  /** Samples per frame (the window length). */
  frameLength: number;
  /** Samples between frame starts. */
  frameStride: number;
  window: Int16Array;
  windowShift: number;
  fftLength: number;
  energyStart: number;
  energyEnd: number;
  filterBank: FilterBankConfig;
  spectralSubtraction: SpectralSubtractionConfig;
  pcanLut: Int16Array;
  pcanSnrShift: number;
  logOutputScale: number;
  logCorrectionBits: number;
  /** From the int16 log to the int8 feature, in order; the result is clamped to int8 by the steps themselves. */
  quantize: QuantizeStep[];
}

function findNode(graph: Graph, op: string): Node {
  const n = graph.nodes.find((x) => x.op === op);
  if (!n) {
    throw new CloudlessError('E_UNSUPPORTED', `${graph.meta.source ?? graph.name}: not a TFLM audio preprocessor (no ${op} node)`, {
      file: graph.meta.source,
      hint: 'use audio_preprocessor_int8.tflite from the micro_speech example',
    });
  }
  return n;
}

function constantInput(graph: Graph, node: Node, i: number): Tensor {
  const t = graph.values.get(node.inputs[i] ?? '')?.constant;
  if (!t) {
    throw new CloudlessError('E_UNSUPPORTED', `${graph.meta.source ?? graph.name}: input ${i} of ${node.name} (${node.op}) must be a constant`, {
      file: graph.meta.source, node: node.name,
    });
  }
  return t;
}

function int16Of(t: Tensor): Int16Array {
  return t.data instanceof Int16Array ? t.data : Int16Array.from(t.toNumbers());
}

/** The integer steps from the log node's output to the graph output (Cast, Mul, Add, Div, Min, Max with constants). */
function quantizeSteps(graph: Graph, from: string): QuantizeStep[] {
  const steps: QuantizeStep[] = [];
  let value = from;
  while (!graph.outputs.includes(value)) {
    const consumers = graph.nodes.filter((n) => n.inputs.includes(value));
    const node = consumers[0];
    if (consumers.length !== 1 || !node) {
      throw new CloudlessError('E_UNSUPPORTED', `${graph.meta.source ?? graph.name}: the output quantization after ${from} is not a simple chain`, { file: graph.meta.source });
    }
    if (node.op !== 'Cast') {
      if (!['Mul', 'Add', 'Div', 'Min', 'Max'].includes(node.op)) {
        throw new CloudlessError('E_UNSUPPORTED', `${graph.meta.source ?? graph.name}: ${node.op} in the output quantization is not supported`, {
          file: graph.meta.source, node: node.name,
        });
      }
      const other = node.inputs[0] === value ? 1 : 0;
      const c = constantInput(graph, node, other);
      if (c.size !== 1) throw new CloudlessError('E_UNSUPPORTED', `${node.name}: expected a scalar constant`, { node: node.name });
      steps.push({ op: node.op as QuantizeStep['op'], value: Number(c.data[0]!) });
    }
    value = node.outputs[0]!;
  }
  return steps;
}

/** Reads the front end's parameters from a TFLM audio preprocessor graph (audio_preprocessor_int8.tflite). */
export function microFrontendConfig(graph: Graph, options: { sampleRate?: number; strideMs?: number } = {}): MicroFrontendConfig {
  const sampleRate = options.sampleRate ?? 16000;
  const win = findNode(graph, 'tflite.custom.SignalWindow');
  const rfft = findNode(graph, 'tflite.custom.SignalRfft');
  const energy = findNode(graph, 'tflite.custom.SignalEnergy');
  const fb = findNode(graph, 'tflite.custom.SignalFilterBank');
  const ss = findNode(graph, 'tflite.custom.SignalFilterBankSpectralSubtraction');
  const pcan = findNode(graph, 'tflite.custom.SignalPCAN');
  const log = findNode(graph, 'tflite.custom.SignalFilterBankLog');
  const window = int16Of(constantInput(graph, win, 1));
  const numChannels = attrInt(fb, 'num_channels');
  return {
    sampleRate,
    frameLength: window.length,
    frameStride: Math.round(((options.strideMs ?? 20) * sampleRate) / 1000),
    window,
    windowShift: attrInt(win, 'shift'),
    fftLength: attrInt(rfft, 'fft_length'),
    energyStart: attrInt(energy, 'start_index'),
    energyEnd: attrInt(energy, 'end_index'),
    filterBank: {
      numChannels,
      weights: int16Of(constantInput(graph, fb, 1)),
      unweights: int16Of(constantInput(graph, fb, 2)),
      channelFrequencyStarts: int16Of(constantInput(graph, fb, 3)),
      channelWeightStarts: int16Of(constantInput(graph, fb, 4)),
      channelWidths: int16Of(constantInput(graph, fb, 5)),
    },
    spectralSubtraction: {
      numChannels: attrInt(ss, 'num_channels'),
      smoothing: attrInt(ss, 'smoothing'),
      oneMinusSmoothing: attrInt(ss, 'one_minus_smoothing'),
      alternateSmoothing: attrInt(ss, 'alternate_smoothing'),
      alternateOneMinusSmoothing: attrInt(ss, 'alternate_one_minus_smoothing'),
      minSignalRemaining: attrInt(ss, 'min_signal_remaining'),
      smoothingBits: attrInt(ss, 'smoothing_bits'),
      spectralSubtractionBits: attrInt(ss, 'spectral_subtraction_bits'),
      clamping: attrInt(ss, 'clamping', 0) !== 0,
    },
    pcanLut: int16Of(constantInput(graph, pcan, 2)),
    pcanSnrShift: attrInt(pcan, 'snr_shift'),
    logOutputScale: attrInt(log, 'output_scale'),
    logCorrectionBits: attrInt(log, 'input_correction_bits'),
    quantize: quantizeSteps(graph, log.outputs[0]!),
  };
}

/**
 * A streaming front end. Feed int16 samples in chunks of any size with push();
 * a feature frame is emitted for each stride once a full frame is buffered.
 * The spectral-subtraction noise floor adapts across frames, so a new stream
 * should start with reset() (or a new instance).
 */
export class MicroFrontend {
  readonly config: MicroFrontendConfig;
  readonly featureSize: number;
  private readonly frame: Int16Array;
  private filled = 0;
  /** Samples consumed since the last reset, to timestamp frames. */
  private consumed = 0;
  private readonly windowed: Int16Array;
  private readonly scaled: Int16Array;
  private readonly padded: Int16Array;
  private readonly spectrum: Int16Array;
  private readonly energy: Uint32Array;
  private readonly bank: Float64Array;
  /** Only for filter bank sums of 2^53 or more, which need 64-bit integers. */
  private readonly bankWide: BigInt64Array;
  private readonly magnitude: Uint32Array;
  private readonly subtracted: Uint32Array;
  private readonly noise: Uint32Array;
  private readonly logs: Int16Array;
  private readonly features: Int8Array;
  private readonly fft: RfftInt16;

  constructor(config: MicroFrontendConfig) {
    this.config = config;
    const c = config.filterBank.numChannels;
    if (config.frameStride < 1 || config.frameStride > config.frameLength) {
      throw new CloudlessError('E_CONFIG', `front end stride ${config.frameStride} must be between 1 and the frame length ${config.frameLength}`);
    }
    if (config.frameLength > config.fftLength) {
      throw new CloudlessError('E_CONFIG', `frames of ${config.frameLength} samples do not fit the FFT length ${config.fftLength}`);
    }
    this.featureSize = c;
    this.frame = new Int16Array(config.frameLength);
    this.windowed = new Int16Array(config.frameLength);
    this.scaled = new Int16Array(config.frameLength);
    this.fft = new RfftInt16(config.fftLength);
    this.padded = new Int16Array(config.fftLength);
    this.spectrum = new Int16Array(config.fftLength + 2);
    this.energy = new Uint32Array(config.fftLength / 2 + 1);
    this.bank = new Float64Array(c);
    this.bankWide = new BigInt64Array(c);
    this.magnitude = new Uint32Array(c);
    this.subtracted = new Uint32Array(c);
    this.noise = new Uint32Array(c);
    this.logs = new Int16Array(c);
    this.features = new Int8Array(c);
  }

  /** Forgets buffered samples and the noise floor, as for a new stream. */
  reset(): void {
    this.filled = 0;
    this.consumed = 0;
    this.noise.fill(0);
    this.frame.fill(0);
  }

  /**
   * Feeds int16 samples. For each completed frame, calls onFrame with the
   * features (a buffer reused for the next frame: copy what you keep) and the
   * time in ms at the end of that frame.
   */
  push(samples: ArrayLike<number>, onFrame: (features: Int8Array, endMs: number) => void): void {
    const { frameLength, frameStride, sampleRate } = this.config;
    let i = 0;
    while (i < samples.length) {
      const take = Math.min(frameLength - this.filled, samples.length - i);
      for (let k = 0; k < take; k++) this.frame[this.filled + k] = samples[i + k]!;
      this.filled += take;
      i += take;
      this.consumed += take;
      if (this.filled === frameLength) {
        this.computeFrame(this.frame);
        onFrame(this.features, (this.consumed * 1000) / sampleRate);
        this.frame.copyWithin(0, frameStride);
        this.filled -= frameStride;
      }
    }
  }

  /** The features of one frame (frameLength samples) given the current noise floor; advances the noise floor. */
  processFrame(frame: ArrayLike<number>): Int8Array {
    this.computeFrame(frame);
    return this.features;
  }

  private computeFrame(frame: ArrayLike<number>): void {
    const cfg = this.config, n = cfg.frameLength, c = this.featureSize;
    applyWindow(frame, cfg.window, cfg.windowShift, this.windowed, n);
    const scaleBits = fftAutoScale(this.windowed, this.scaled, n);
    this.padded.set(this.scaled);
    this.fft.apply(this.padded, this.spectrum);
    this.energy.fill(0);
    spectrumToEnergy(this.spectrum, cfg.energyStart, cfg.energyEnd, this.energy);
    if (filterBankAccumulateDouble(cfg.filterBank, this.energy, this.bank)) {
      filterBankSqrtDouble(this.bank, c, scaleBits, this.magnitude);
    } else {
      filterBankAccumulate(cfg.filterBank, this.energy, this.bankWide);
      filterBankSqrt(this.bankWide, 0, c, scaleBits, this.magnitude);
    }
    spectralSubtraction(cfg.spectralSubtraction, this.magnitude, this.subtracted, this.noise);
    pcanAutoGainControl(cfg.pcanLut, cfg.pcanSnrShift, this.noise, this.subtracted, c);
    filterBankLog(this.subtracted, c, cfg.logOutputScale, cfg.logCorrectionBits, this.logs);
    for (let k = 0; k < c; k++) this.features[k] = quantize(this.logs[k]!, cfg.quantize);
  }
}

function quantize(x: number, steps: readonly QuantizeStep[]): number {
  let v = x;
  for (const s of steps) {
    switch (s.op) {
      case 'Mul': v = Math.imul(v, s.value); break;
      case 'Add': v = (v + s.value) | 0; break;
      case 'Div': v = s.value === 0 ? 0 : Math.trunc(v / s.value); break;
      case 'Min': v = Math.min(v, s.value); break;
      case 'Max': v = Math.max(v, s.value); break;
    }
  }
  return (v << 24) >> 24;
}
