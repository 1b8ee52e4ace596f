/**
 * The browser bundle's stand-in for thread-host.ts: no worker is started yet,
 * so a page runs the kernels on its own thread whatever `threads` asks. (A
 * Web Worker host would post the WorkerData to a module worker whose
 * onmessage runs the pool's worker loop; the page's main thread cannot
 * Atomics.wait, so the calling side would have to run in a worker too.)
 */
import type { StartWorker } from './thread-host-core.js';

export const startWorker: StartWorker = () =>
  'the browser build of cloudless runs the kernels on one thread (no Web Worker pool yet)';
