/**
 * Schemas of the TFLite Micro "Signal" custom ops that audio front ends such as
 * micro_speech's audio_preprocessor use. The TFLite importer names a custom op
 * `tflite.custom.<custom_code>` and decodes its flexbuffer options into attrs.
 * TFLM's uint32/uint64 tensors are int64 here (cloudless has no unsigned 32/64
 * bit dtype); their values stay non-negative.
 */
import { attrInt } from '../attrs.js';
import type { DType } from '../dtype.js';
import type { Node } from '../graph.js';
import { requireInput, shapeError, type InferContext, type OpSchema, type ValueInfo } from '../schema.js';

function expect(ctx: InferContext, i: number, dtype: DType, rank?: number): ValueInfo {
  const v = requireInput(ctx, i);
  if (v.dtype !== dtype) throw shapeError(ctx.node, `input ${i} must be ${dtype}, got ${v.dtype}`);
  if (rank !== undefined && v.shape.length !== rank) {
    throw shapeError(ctx.node, `input ${i} must have rank ${rank}, got [${v.shape.join(', ')}]`);
  }
  return v;
}

function positiveAttr(node: Node, name: string): number {
  const v = attrInt(node, name);
  if (v <= 0) throw shapeError(node, `attribute ${name} must be positive, got ${v}`);
  return v;
}

/** One channel vector in, the same shape out (with the given dtype). */
function channelwise(op: string, inputs: readonly [number, number], outDtype: DType, extra?: (ctx: InferContext) => void): OpSchema {
  return {
    op,
    inputs,
    outputs: [1, 1],
    infer(ctx) {
      const x = expect(ctx, 0, 'int64', 1);
      extra?.(ctx);
      return [{ dtype: outDtype, shape: [...x.shape] }];
    },
  };
}

export const signalSchemas: readonly OpSchema[] = [
  {
    op: 'tflite.custom.SignalWindow',
    inputs: [2, 2],
    outputs: [1, 1],
    infer(ctx) {
      const x = expect(ctx, 0, 'int16');
      const w = expect(ctx, 1, 'int16', 1);
      attrInt(ctx.node, 'shift');
      if (x.shape[x.shape.length - 1] !== w.shape[0]) {
        throw shapeError(ctx.node, `the window has ${w.shape[0]} weights but frames have ${x.shape[x.shape.length - 1]} samples`);
      }
      return [{ dtype: 'int16', shape: [...x.shape] }];
    },
  },
  {
    op: 'tflite.custom.SignalFftAutoScale',
    inputs: [1, 1],
    outputs: [2, 2],
    infer(ctx) {
      const x = expect(ctx, 0, 'int16', 1);
      return [{ dtype: 'int16', shape: [...x.shape] }, { dtype: 'int32', shape: [] }];
    },
  },
  {
    op: 'tflite.custom.SignalRfft',
    inputs: [1, 1],
    outputs: [1, 1],
    infer(ctx) {
      const x = expect(ctx, 0, 'int16');
      if (x.shape.length === 0) throw shapeError(ctx.node, 'input must have at least one dimension');
      const n = positiveAttr(ctx.node, 'fft_length');
      const len = x.shape[x.shape.length - 1]!;
      if (len > n) throw shapeError(ctx.node, `frames of ${len} samples do not fit fft_length ${n}`);
      return [{ dtype: 'int16', shape: [...x.shape.slice(0, -1), (Math.floor(n / 2) + 1) * 2] }];
    },
  },
  {
    op: 'tflite.custom.SignalEnergy',
    inputs: [1, 1],
    outputs: [1, 1],
    infer(ctx) {
      const x = expect(ctx, 0, 'int16', 1);
      const bins = Math.floor(x.shape[0]! / 2);
      const start = attrInt(ctx.node, 'start_index'), end = attrInt(ctx.node, 'end_index');
      if (start < 0 || end > bins || start > end) {
        throw shapeError(ctx.node, `bins [${start}, ${end}) are outside the ${bins} bins of the spectrum`);
      }
      return [{ dtype: 'int64', shape: [bins] }];
    },
  },
  {
    op: 'tflite.custom.SignalFilterBank',
    inputs: [6, 6],
    outputs: [1, 1],
    infer(ctx) {
      expect(ctx, 0, 'int64', 1);
      for (let i = 1; i < 6; i++) expect(ctx, i, 'int16', 1);
      const channels = positiveAttr(ctx.node, 'num_channels');
      for (let i = 3; i < 6; i++) {
        if (ctx.inputs[i]!.shape[0]! < channels + 1) {
          throw shapeError(ctx.node, `input ${i} needs num_channels + 1 = ${channels + 1} entries, got ${ctx.inputs[i]!.shape[0]}`);
        }
      }
      return [{ dtype: 'int64', shape: [channels] }];
    },
  },
  channelwise('tflite.custom.SignalFilterBankSquareRoot', [2, 2], 'int64', (ctx) => {
    const bits = requireInput(ctx, 1);
    if (bits.dtype !== 'int32' || bits.shape.length !== 0) throw shapeError(ctx.node, 'input 1 (scale bits) must be an int32 scalar');
  }),
  {
    op: 'tflite.custom.SignalFilterBankSpectralSubtraction',
    inputs: [1, 1],
    outputs: [2, 2],
    infer(ctx) {
      const x = expect(ctx, 0, 'int64', 1);
      const channels = positiveAttr(ctx.node, 'num_channels');
      if (x.shape[0] !== channels) throw shapeError(ctx.node, `input has ${x.shape[0]} channels, num_channels is ${channels}`);
      return [{ dtype: 'int64', shape: [channels] }, { dtype: 'int64', shape: [channels] }];
    },
  },
  channelwise('tflite.custom.SignalPCAN', [3, 3], 'int64', (ctx) => {
    const x = ctx.inputs[0]!;
    const noise = expect(ctx, 1, 'int64', 1);
    expect(ctx, 2, 'int16', 1);
    if (noise.shape[0] !== x.shape[0]) throw shapeError(ctx.node, `noise estimate has ${noise.shape[0]} channels, input ${x.shape[0]}`);
    attrInt(ctx.node, 'snr_shift');
  }),
  channelwise('tflite.custom.SignalFilterBankLog', [1, 1], 'int16', (ctx) => {
    attrInt(ctx.node, 'output_scale');
    attrInt(ctx.node, 'input_correction_bits');
  }),
];
