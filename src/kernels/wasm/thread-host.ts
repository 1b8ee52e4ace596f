/// <reference types="node" />
/**
 * Node's way to start a worker of the kernels' thread pool: a worker_thread
 * running the pool's worker loop (WORKER_MAIN in threads.ts) from source, so
 * the same code serves the TypeScript sources (tests), dist/ and any bundler.
 * Workers are unref()'d: an idle pool never keeps a process alive, and
 * closeThreadPool() ends them. The browser bundle replaces this file with
 * thread-host.browser.ts (scripts/build-browser.mjs), which starts none yet;
 * a Web Worker host would post the same data to a worker that runs the same
 * loop.
 */
import { Worker } from 'node:worker_threads';
import type { StartWorker } from './thread-host-core.js';

/** worker_threads start while the parent blocks, so the pool may wait for them synchronously. */
export const ASYNC_START = false;

/** Starts one worker_thread running `main` on `data` (StartWorker in thread-host-core.ts). */
export const startWorker: StartWorker = (main, data) => {
  const source = `const { workerData } = require('node:worker_threads');\n(${main})(workerData);\n`;
  try {
    const w = new Worker(source, { eval: true, workerData: data });
    w.unref();
    // A worker that fails reports it in the control block; this only keeps an uncaught error from crashing the process.
    w.on('error', () => {});
    return { terminate: () => { void w.terminate(); } };
  } catch (err) {
    return `a worker thread could not start: ${(err as Error).message}`;
  }
};
