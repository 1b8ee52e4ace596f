export * from './manifest.js';
export * from './store.js';
export * from './resolve.js';
