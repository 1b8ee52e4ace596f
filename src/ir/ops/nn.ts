import type { OpSchema } from '../schema.js';
export const nnSchemas: readonly OpSchema[] = [];
