export * from './arena.js';
export * from './registry.js';
export * from './builtins.js';
export * from './eval-node.js';
export * from './plan.js';
export * from './session.js';
export * from './load.js';
export * from './model-bytes.js';
