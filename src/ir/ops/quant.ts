/**
 * Schemas of the quantization boundary ops of the TFLite int8 scheme. Their
 * parameters are not inputs (unlike ONNX QuantizeLinear): Quantize uses the
 * quant of its output value, Dequantize the quant of its input value, as TFLite
 * does. Quantize's element type comes from attr `to` because shape inference
 * sees only the inputs.
 */
import { attrString } from '../attrs.js';
import type { DType } from '../dtype.js';
import { CloudlessError } from '../errors.js';
import { requireInput, type OpSchema } from '../schema.js';

export const QUANTIZED_DTYPES: readonly DType[] = ['int8', 'uint8', 'int16'];

export const quantSchemas: readonly OpSchema[] = [
  {
    op: 'Quantize',
    inputs: [1, 1],
    outputs: [1, 1],
    infer(ctx) {
      const x = requireInput(ctx, 0);
      const to = attrString(ctx.node, 'to', 'int8') as DType;
      if (!QUANTIZED_DTYPES.includes(to)) {
        throw new CloudlessError('E_ATTR', `node ${ctx.node.name} (Quantize): attribute "to" must be ${QUANTIZED_DTYPES.join(', ')}, got ${to}`, { node: ctx.node.name });
      }
      return [{ dtype: to, shape: [...x.shape] }];
    },
  },
  {
    op: 'Dequantize',
    inputs: [1, 1],
    outputs: [1, 1],
    infer(ctx) {
      const x = requireInput(ctx, 0);
      return [{ dtype: 'float32', shape: [...x.shape] }];
    },
  },
];
