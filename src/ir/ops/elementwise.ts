import type { OpSchema } from '../schema.js';
export const elementwiseSchemas: readonly OpSchema[] = [];
