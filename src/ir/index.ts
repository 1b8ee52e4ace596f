export * from './errors.js';
export * from './dtype.js';
export * from './tensor.js';
export * from './graph.js';
export * from './attrs.js';
export * from './schema.js';
export * from './kernel.js';
export * from './shape-utils.js';
