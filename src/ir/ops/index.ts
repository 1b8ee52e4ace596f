import type { OpSchema } from '../schema.js';
import { elementwiseSchemas } from './elementwise.js';
import { reduceSchemas } from './reduce.js';
import { nnSchemas } from './nn.js';
import { shapeOpSchemas } from './shape-ops.js';
import { quantSchemas } from './quant.js';
import { signalSchemas } from './signal.js';
import { controlSchemas } from './control.js';
import { recurrentSchemas } from './recurrent.js';
import { qlinearSchemas } from './qlinear.js';
import { mlSchemas } from './ml.js';
import { opTraits } from './traits.js';

export * from './traits.js';

/** Every built-in op schema, each with its traits. */
export const allSchemas: readonly OpSchema[] = [
  ...elementwiseSchemas,
  ...reduceSchemas,
  ...nnSchemas,
  ...shapeOpSchemas,
  ...quantSchemas,
  ...signalSchemas,
  ...controlSchemas,
  ...recurrentSchemas,
  ...qlinearSchemas,
  ...mlSchemas,
].map((s) => ({ ...s, traits: opTraits(s.op) }));
