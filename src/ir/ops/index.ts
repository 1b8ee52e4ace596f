import type { OpSchema } from '../schema.js';
import { elementwiseSchemas } from './elementwise.js';
import { reduceSchemas } from './reduce.js';
import { nnSchemas } from './nn.js';
import { shapeOpSchemas } from './shape-ops.js';
import { quantSchemas } from './quant.js';

/** Every built-in op schema. */
export const allSchemas: readonly OpSchema[] = [
  ...elementwiseSchemas,
  ...reduceSchemas,
  ...nnSchemas,
  ...shapeOpSchemas,
  ...quantSchemas,
];
