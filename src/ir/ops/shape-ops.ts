import type { OpSchema } from '../schema.js';
export const shapeOpSchemas: readonly OpSchema[] = [];
