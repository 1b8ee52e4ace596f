import { CloudlessError } from '../errors.js';
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

/**
 * The schema registry: every built-in op by name, a plain static map built
 * once when this module loads. The runtime, passes, quantizer and writers all
 * read it; nothing registers into it.
 */
export const SCHEMAS: ReadonlyMap<string, OpSchema> = (() => {
  const map = new Map<string, OpSchema>();
  for (const s of allSchemas) {
    if (map.has(s.op)) throw new CloudlessError('E_INTERNAL', `op schema ${s.op} is declared twice in src/ir/ops`);
    map.set(s.op, s);
  }
  return map;
})();

/** The schema of a built-in op, or undefined for an op cloudless does not know. */
export function getSchema(op: string): OpSchema | undefined {
  return SCHEMAS.get(op);
}

/** The names of every built-in op, sorted. */
export function listSchemas(): string[] {
  return [...SCHEMAS.keys()].sort();
}
