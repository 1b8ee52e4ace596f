import type { OpSchema } from '../schema.js';
export const reduceSchemas: readonly OpSchema[] = [];
